"""`treadwell capture` through real BlueZ, and the capture replayed in the virtual world."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pytest

from tests.bluez.links import BLUEZ
from treadwell.drivers.capture import REDACTED_ADDRESS, parse, record
from treadwell.drivers.codec.ftms import parse_treadmill_data
from treadwell.drivers.probe import ACCEPTED, probe
from treadwell.drivers.virtual.treadmill import TreadmillConfig
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from tests.bluez.bench import BluezBench

pytestmark = pytest.mark.bluez


async def test_capture_through_bluez_records_the_deck_and_replays_the_same(
    bluez: BluezBench,
) -> None:
    treadmill = await bluez.add_treadmill(TreadmillConfig(name="Captured Deck"))
    treadmill.set_belt(7.0)
    out = io.StringIO()

    summary = await record(
        out, backend=BLUEZ, device=treadmill.address, seconds=12.0, scan_timeout_s=60.0
    )

    capture = parse(out.getvalue())
    assert capture.name == "Captured Deck"
    assert capture.address == REDACTED_ADDRESS
    assert treadmill.address not in out.getvalue()
    assert capture.characteristic("2ad9") is not None
    data = [v for v in capture.values if v.uuid == "2acd"]
    assert len(data) >= 5
    assert parse_treadmill_data(data[-1].value).speed_kmh == pytest.approx(7.0)
    assert summary["supports"]["control"]["request_control"] == "success"
    assert [w.answer is not None for w in capture.writes] == [True, True]

    # The same capture as a device in the virtual world: the probe finds what BlueZ saw.
    async with VirtualWorld() as world:
        await world.add_replay(capture, loop=True)
        report = await probe(world.backend, watch_s=3.0)

    assert report.name == "Captured Deck"
    assert report.can_set_incline
    assert report.control["request_control"] == ACCEPTED
    assert "speed_kmh" in report.data_fields

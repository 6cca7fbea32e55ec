"""The project's drivers on plain bleak, BlueZ and the kernel, against the emulated devices."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from tests.bluez.links import (
    BLUEZ,
    EventLog,
    open_sockets,
    running,
    strap_link,
    treadmill_link,
)
from treadwell.drivers.codec.ftms import ControlOp, InclinationRange, ResultCode, SpeedRange
from treadwell.drivers.discovery import DeviceKind, scan
from treadwell.drivers.errors import OperationFailedError
from treadwell.drivers.events import (
    HeartRateReading,
    InclineConfirmed,
    LinkConnected,
    LinkDisconnected,
    TreadmillReading,
)
from treadwell.drivers.incline import InclineLimits
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from tests.bluez.bench import BluezBench

pytestmark = pytest.mark.bluez

_LIMITS = InclineLimits(min_pct=0.0, max_pct=10.0)


async def _reading_at(log: EventLog, speed_kmh: float) -> TreadmillReading:
    while True:
        reading = await log.next(TreadmillReading)
        if reading.data.speed_kmh == speed_kmh:
            return reading


async def test_scan_finds_the_treadmill_and_the_strap_through_bluez(bluez: BluezBench) -> None:
    treadmill = await bluez.add_treadmill()
    strap = await bluez.add_strap()

    found = {device.address: device for device in await scan(20.0, backend=BLUEZ)}

    assert {treadmill.address, strap.address} <= found.keys(), found
    assert found[treadmill.address].kind is DeviceKind.TREADMILL
    assert found[treadmill.address].name == treadmill.name
    assert found[treadmill.address].ftms_available is True
    assert found[strap.address].kind is DeviceKind.HEART_RATE
    assert found[strap.address].name == strap.name


async def test_treadmill_link_reads_features_and_ranges_then_reassembles_split_records(
    bluez: BluezBench,
) -> None:
    treadmill = await bluez.add_treadmill(TreadmillConfig(split_records=True))
    log = EventLog()
    async with running(treadmill_link(treadmill.address, log)):
        connected = await log.next(LinkConnected)
        treadmill.set_belt(9.5)
        reading = await _reading_at(log, 9.5)

    assert connected.address == treadmill.address
    assert connected.info is not None
    assert connected.info.speed_range == SpeedRange(0.8, 20.0, 0.1)
    assert connected.info.incline_range == InclinationRange(0.0, 15.0, 0.5)
    assert connected.info.can_set_incline
    # Split over More-Data packets, the record still arrives whole: every field of a full record.
    assert reading.data.total_distance_m is not None
    assert reading.data.elapsed_time_s is not None
    assert reading.data.incline_pct is not None


async def test_control_point_sets_the_incline_and_the_deck_confirms_it(bluez: BluezBench) -> None:
    treadmill = await bluez.add_treadmill(TreadmillConfig(incline_rate_pct_per_s=5.0))
    log = EventLog()
    link = treadmill_link(treadmill.address, log)
    async with running(link):
        await log.next(LinkConnected)
        treadmill.set_belt(6.0)
        await _reading_at(log, 6.0)

        sent = await link.set_incline(3.5, limits=_LIMITS)
        confirmed = await log.next(InclineConfirmed)

    assert sent == 3.5
    assert confirmed.incline_pct == 3.5
    assert [request.op for request in treadmill.control_log] == [
        ControlOp.REQUEST_CONTROL,
        ControlOp.SET_TARGET_INCLINATION,
    ]
    assert treadmill.control_log[-1].incline_pct == 3.5
    assert treadmill.incline_pct == 3.5


async def test_a_rejected_command_reaches_the_driver_as_a_typed_error(bluez: BluezBench) -> None:
    treadmill = await bluez.add_treadmill()
    log = EventLog()
    link = treadmill_link(treadmill.address, log)
    async with running(link):
        await log.next(LinkConnected)
        treadmill.set_belt(5.0)
        await _reading_at(log, 5.0)
        await link.set_incline(1.0, limits=_LIMITS)
        # A refusal while the belt runs is the deck's last word (on a stopped belt the link
        # would wait for the belt instead).
        treadmill.force_result = ResultCode.OPERATION_FAILED
        with pytest.raises(OperationFailedError, match="could not do it right now"):
            await link.set_incline(2.0, limits=_LIMITS)

    assert treadmill.control_log[-1].op is ControlOp.SET_TARGET_INCLINATION
    assert treadmill.target_incline_pct == 1.0


async def test_link_reconnects_after_a_power_cycle_and_data_resumes(bluez: BluezBench) -> None:
    treadmill = await bluez.add_treadmill()
    log = EventLog()
    link = treadmill_link(treadmill.address, log)
    async with running(link):
        await log.next(LinkConnected)
        treadmill.set_belt(5.0)
        await _reading_at(log, 5.0)
        await link.set_incline(1.0, limits=_LIMITS)

        await treadmill.power_off()
        dropped = await log.next(LinkDisconnected)
        await asyncio.sleep(3.0)
        await treadmill.power_on()
        reconnected = await log.next(LinkConnected)
        treadmill.set_belt(7.0)
        await _reading_at(log, 7.0)
        # Control is taken again after the reconnect, without being asked.
        async with asyncio.timeout(30):
            while not treadmill.controller_granted:
                await asyncio.sleep(0.1)

    assert "disconnected" in dropped.reason
    assert reconnected.address == treadmill.address
    assert [r.op for r in treadmill.control_log].count(ControlOp.REQUEST_CONTROL) == 2


async def test_link_reconnects_when_the_treadmill_drops_the_link(bluez: BluezBench) -> None:
    treadmill = await bluez.add_treadmill()
    log = EventLog()
    async with running(treadmill_link(treadmill.address, log)):
        await log.next(LinkConnected)
        await treadmill.drop_link()
        await log.next(LinkDisconnected)
        await log.next(LinkConnected)
        treadmill.set_belt(4.0)
        await _reading_at(log, 4.0)


async def test_treadmill_and_strap_stream_at_the_same_time(bluez: BluezBench) -> None:
    treadmill = await bluez.add_treadmill()
    strap = await bluez.add_strap(StrapConfig(heart_rate_bpm=123))
    treadmill_log, strap_log = EventLog(), EventLog()
    async with running(
        treadmill_link(treadmill.address, treadmill_log), strap_link(strap.address, strap_log)
    ):
        await treadmill_log.next(LinkConnected)
        await strap_log.next(LinkConnected)
        treadmill.set_belt(8.0)
        await _reading_at(treadmill_log, 8.0)
        heart = await strap_log.next(HeartRateReading)
        # Both links are still up: a reading from each after the other started streaming.
        await treadmill_log.next(TreadmillReading)
        await strap_log.next(HeartRateReading)
        dropped = [
            event
            for event in treadmill_log.events + strap_log.events
            if isinstance(event, LinkDisconnected)
        ]

    assert heart.measurement.heart_rate_bpm == 123
    assert dropped == []


async def test_a_reconnected_link_holds_one_dbus_connection_not_one_per_session(
    bluez: BluezBench,
) -> None:
    # bleak's BlueZ client opens a D-Bus connection per connect and closes it only in
    # disconnect(), also after the device dropped the link: a link that skips disconnect()
    # then leaks one connection (a file descriptor) per power cycle of the treadmill.
    treadmill = await bluez.add_treadmill()
    log = EventLog()
    async with running(treadmill_link(treadmill.address, log)):
        await log.next(LinkConnected)
        first_session = open_sockets()
        for _ in range(2):
            await treadmill.drop_link()
            await log.next(LinkDisconnected)
            await log.next(LinkConnected)
        third_session = open_sockets()

    assert third_session == first_session

"""The first-connect probe against misbehaving virtual decks, and what it remembers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.drivers.links import FAST, Recorder, running, target
from treadwell.daemon.device_memory import DeviceMemory, device_key
from treadwell.daemon.diagnostics_discovery import (
    build_diagnostics_component,
    build_diagnostics_payload,
    diagnostics_topic,
)
from treadwell.drivers.codec.ftms import ControlOp
from treadwell.drivers.discovery import DeviceKind, DeviceTarget
from treadwell.drivers.errors import BeltNotRunningError, DeviceNotFoundError
from treadwell.drivers.events import LinkConnected
from treadwell.drivers.incline import InclineLimits
from treadwell.drivers.probe import ACCEPTED, NOT_TRIED, ProbeReport, advice, probe
from treadwell.drivers.treadmill import TreadmillLink
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from pathlib import Path

    from treadwell.drivers.virtual.world import VirtualWorld

pytestmark = pytest.mark.looptime


def marks(report: ProbeReport) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for mark, text in advice(report):
        out.setdefault(mark, []).append(text)
    return out


async def test_probe_of_a_conformant_deck_finds_control_and_moves_nothing(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(name="Deck"))
    treadmill.set_incline_by_console(1.5)
    treadmill.incline_pct = 1.5

    report = await probe(world.backend, DeviceTarget(DeviceKind.TREADMILL, name="Deck"))

    assert report.control == {"request_control": ACCEPTED, "set_target_inclination": ACCEPTED}
    assert report.can_set_incline
    assert report.incline_range == {"min_pct": 0.0, "max_pct": 15.0, "step_pct": 0.5}
    assert "incline_pct" in report.data_fields
    assert report.readings >= 3
    assert [int(r.op) for r in treadmill.control_log] == [
        ControlOp.REQUEST_CONTROL,
        ControlOp.SET_TARGET_INCLINATION,
    ]
    assert treadmill.control_log[-1].incline_pct == pytest.approx(1.5)
    assert treadmill.target_incline_pct == pytest.approx(1.5)
    assert "no" not in marks(report)


async def test_probe_explains_a_deck_without_incline_control(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(incline_range=None))

    report = await probe(world.backend)

    assert not report.can_set_incline
    assert report.control["request_control"] == NOT_TRIED
    assert treadmill.control_log == []
    assert any("no incline control over Bluetooth" in text for text in marks(report)["no"])
    assert any("Supported Inclination Range" in text for text in marks(report)["note"])


async def test_probe_learns_a_deck_that_takes_targets_only_while_running(
    world: VirtualWorld, tmp_path: Path
) -> None:
    await world.add_treadmill(TreadmillConfig(name="Stiff", reject_set_while_stopped=True))

    report = await probe(world.backend, DeviceTarget(DeviceKind.TREADMILL, name="Stiff"))
    memory = DeviceMemory(tmp_path)
    memory.remember(report)
    learned = memory.learned_quirks("Stiff", report.address)

    assert report.control["set_target_inclination"] == "only while the belt runs"
    assert report.learned == {"set_incline_only_while_running": True}
    assert learned is not None
    assert learned.set_incline_only_while_running
    recorder = Recorder()
    link = TreadmillLink(
        target(DeviceKind.TREADMILL, name="Stiff"),
        backend=world.backend,
        on_event=recorder,
        backoff=FAST,
        belt_wait_s=2.0,
        learned=learned,
    )
    async with running(link):
        await recorder.wait_for(LinkConnected)
        with pytest.raises(BeltNotRunningError):
            await link.set_incline(2.0, limits=InclineLimits(0.0, 5.0))


async def test_probe_says_when_a_listed_quirk_was_not_applied(world: VirtualWorld) -> None:
    await world.add_treadmill(TreadmillConfig(name="T01_ABCD"))

    report = await probe(world.backend)

    assert report.table_rows
    assert report.table_rows[0].startswith("D8")
    assert any("not applied" in text for text in marks(report)["note"])
    assert report.incline_range == {"min_pct": 0.0, "max_pct": 15.0, "step_pct": 1.0}


async def test_probe_never_sends_a_test_target_to_a_deck_that_hides_its_incline(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(report_incline=False))

    report = await probe(world.backend)

    assert report.control["request_control"] == ACCEPTED
    assert report.control["set_target_inclination"].startswith(NOT_TRIED)
    assert [int(r.op) for r in treadmill.control_log] == [ControlOp.REQUEST_CONTROL]


async def test_probe_of_an_absent_treadmill_says_so(world: VirtualWorld) -> None:
    with pytest.raises(DeviceNotFoundError, match="could not connect"):
        await probe(
            world.backend, DeviceTarget(DeviceKind.TREADMILL, name="Nobody"), connect_timeout_s=5
        )


def test_memory_keeps_one_report_per_device_and_survives_a_reload(tmp_path: Path) -> None:
    memory = DeviceMemory(tmp_path)
    first = ProbeReport(name="A", address="aa:bb:cc:dd:ee:ff", checked_at="t1", readings=1)
    memory.remember(first)
    memory.remember(ProbeReport(name="A", address="AA:BB:CC:DD:EE:FF", checked_at="t2"))
    memory.remember(ProbeReport(name="B", address="00:00:00:00:00:00", checked_at="t3"))

    reports = DeviceMemory(tmp_path).reports()

    assert set(reports) == {"AA:BB:CC:DD:EE:FF", "name:B"}
    assert reports["AA:BB:CC:DD:EE:FF"].checked_at == "t2"
    assert device_key("B", "") == "name:B"


@pytest.mark.parametrize("content", ["{not json", '{"devices": []}', "[]"])
def test_an_unreadable_memory_file_is_moved_aside_not_lost(tmp_path: Path, content: str) -> None:
    (tmp_path / "devices.json").write_text(content)
    memory = DeviceMemory(tmp_path)

    assert memory.reports() == {}
    assert (tmp_path / "devices.json.bad").read_text() == content
    memory.remember(ProbeReport(name="A", address="", checked_at="t"))
    assert json.loads((tmp_path / "devices.json").read_text())["version"] == 1


def test_a_report_from_a_newer_version_is_still_read() -> None:
    data = ProbeReport(name="A", address="", checked_at="t").to_dict()
    data["something_new"] = 1

    assert ProbeReport.from_dict(data).name == "A"


async def test_diagnostics_for_home_assistant_say_plainly_what_does_not_work(
    world: VirtualWorld,
) -> None:
    await world.add_treadmill(TreadmillConfig(incline_range=None))
    report = await probe(world.backend)

    key, component = build_diagnostics_component(base="tw", daemon_id="d1", device_slug="deck")
    payload = build_diagnostics_payload(report.to_dict(), advice(report))

    assert key == "diagnostics"
    assert component["state_topic"] == diagnostics_topic("tw", "deck") == "tw/deck/diagnostics"
    assert component["entity_category"] == "diagnostic"
    assert component["availability"] == [{"topic": "tw/status"}]
    assert payload["summary"].endswith("no incline control")
    assert any("no incline control over Bluetooth" in text for text in payload["does_not_work"])
    assert json.loads(json.dumps(payload))["report"]["name"] == report.name

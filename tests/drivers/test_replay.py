"""Every capture under tests/data/captures, served back by the replay device, as a regression."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from bleak import BleakClient

from tests.drivers.links import FAST, Recorder, running, target
from treadwell.drivers.capture import CaptureError, parse
from treadwell.drivers.codec.ftms import (
    ControlOp,
    TreadmillData,
    TreadmillRecordAssembler,
    parse_treadmill_data,
)
from treadwell.drivers.discovery import DeviceKind
from treadwell.drivers.events import LinkConnected, TreadmillReading
from treadwell.drivers.incline import InclineLimits
from treadwell.drivers.treadmill import TreadmillLink
from treadwell.drivers.virtual.replay import from_hex_directory, load_any

if TYPE_CHECKING:
    from bleak.backends.characteristic import BleakGATTCharacteristic

    from treadwell.drivers.capture import Capture
    from treadwell.drivers.virtual.world import VirtualWorld

pytestmark = pytest.mark.looptime

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"
ALL = sorted(p for p in CAPTURES.iterdir() if p.is_dir() or p.suffix == ".jsonl")
PLAYED = [p for p in ALL if [v for v in load_any(p).values if v.uuid != "2ad9"]]
TREADMILLS = [p for p in ALL if any(v.uuid == "2acd" for v in load_any(p).values)]


def timeline(capture: Capture) -> list[tuple[str, bytes]]:
    return [(v.uuid, v.value) for v in capture.values if v.uuid != "2ad9"]


def test_every_capture_directory_and_file_is_covered() -> None:
    assert {p.name for p in PLAYED} >= {
        "citysports_linker",
        "kingsmith_z1",
        "life_fitness",
        "matrix_performance",
        "matrix_touch_xl",
        "polar_h7",
        "technogym_myrun",
        "technogym_run",
        "virtual_treadmill.jsonl",
    }
    assert PLAYED == ALL


@pytest.mark.parametrize("path", PLAYED, ids=lambda p: p.name)
async def test_every_capture_replays_byte_for_byte(world: VirtualWorld, path: Path) -> None:
    capture = load_any(path)
    device = await world.add_replay(capture)
    received: list[tuple[str, bytes]] = []
    async with BleakClient(device.address, backend=world.backend.client) as client:
        for service in client.services:
            for char in service.characteristics:
                if not {"notify", "indicate"} & set(char.properties):
                    continue
                short = char.uuid[4:8]

                def keep(_c: BleakGATTCharacteristic, data: bytearray, short: str = short) -> None:
                    received.append((short, bytes(data)))

                await client.start_notify(char, keep)
        async with asyncio.timeout(600):
            await device.finished.wait()
            while len(received) < len(timeline(capture)):
                await asyncio.sleep(0.1)
        for uuid, value in capture.reads.items():
            readable = client.services.get_characteristic(f"0000{uuid}-0000-1000-8000-00805f9b34fb")
            if readable is not None and "read" in readable.properties:
                assert bytes(await client.read_gatt_char(readable)) == value

    assert received == timeline(capture)


def expected_records(capture: Capture) -> list[TreadmillData]:
    assembler = TreadmillRecordAssembler()
    records = []
    for value in capture.values:
        if value.uuid == "2acd":
            record = assembler.feed(parse_treadmill_data(value.value), value.t)
            if record is not None:
                records.append(record)
    return records


@pytest.mark.parametrize("path", TREADMILLS, ids=lambda p: p.name)
async def test_treadmill_captures_read_through_the_link_as_the_codec_decodes(
    world: VirtualWorld, path: Path
) -> None:
    capture = load_any(path)
    expected = expected_records(capture)
    device = await world.add_replay(capture)
    recorder = Recorder()
    link = TreadmillLink(
        target(DeviceKind.TREADMILL, name=device.name),
        backend=world.backend,
        on_event=recorder,
        backoff=FAST,
    )
    async with running(link):
        await recorder.wait_for(LinkConnected)
        async with asyncio.timeout(600):
            await device.finished.wait()
            while len(recorder.of(TreadmillReading)) < len(expected):
                await asyncio.sleep(0.1)

    assert [r.data for r in recorder.of(TreadmillReading)] == expected


async def test_a_captured_treadmill_takes_control_as_it_answered(world: VirtualWorld) -> None:
    capture = load_any(CAPTURES / "virtual_treadmill.jsonl")
    device = await world.add_replay(capture)
    recorder = Recorder()
    link = TreadmillLink(
        target(DeviceKind.TREADMILL), backend=world.backend, on_event=recorder, backoff=FAST
    )
    async with running(link):
        connected = await recorder.wait_for(LinkConnected)
        sent = await link.set_incline(2.0, limits=InclineLimits(0.0, 5.0))

    assert connected.info is not None
    assert connected.info.can_set_incline
    assert sent == 2.0
    assert [w[0] for w in device.write_log] == [
        ControlOp.REQUEST_CONTROL,
        ControlOp.SET_TARGET_INCLINATION,
    ]


async def test_an_op_code_never_recorded_is_answered_not_supported(world: VirtualWorld) -> None:
    capture = load_any(CAPTURES / "virtual_treadmill.jsonl")
    device = await world.add_replay(capture)
    recorder = Recorder()
    link = TreadmillLink(
        target(DeviceKind.TREADMILL), backend=world.backend, on_event=recorder, backoff=FAST
    )
    async with running(link):
        await recorder.wait_for(LinkConnected)
        with pytest.raises(Exception, match="does not support"):
            await link.set_speed(5.0)

    assert device.write_log[-1][0] == ControlOp.SET_TARGET_SPEED


def test_a_hex_directory_with_a_bad_line_names_it(tmp_path: Path) -> None:
    (tmp_path / "2acd.hex").write_text("# comment\n00 zz\n")
    with pytest.raises(CaptureError, match="line 2: not hex"):
        from_hex_directory(tmp_path)


def test_a_directory_without_servable_captures_says_so(tmp_path: Path) -> None:
    (tmp_path / "2ad9.hex").write_text("00\n")
    with pytest.raises(CaptureError, match=r"no \.hex capture"):
        from_hex_directory(tmp_path)


def test_jsonl_captures_parse() -> None:
    for path in ALL:
        if path.suffix == ".jsonl":
            assert parse(path.read_text()).values

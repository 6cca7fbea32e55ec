from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from treadwell.drivers.capture import (
    REDACTED_ADDRESS,
    CaptureError,
    Progress,
    load,
    parse,
    record,
)
from treadwell.drivers.codec.ftms import parse_treadmill_data
from treadwell.drivers.errors import DeviceNotFoundError
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from pathlib import Path

    from treadwell.drivers.virtual.world import VirtualWorld


@pytest.mark.looptime
async def test_capture_records_table_reads_values_and_control_answers(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(name="Deck 1"))
    treadmill.set_belt(6.0)
    treadmill.set_incline_by_console(2.0)
    out = io.StringIO()
    seen: list[Progress] = []

    summary = await record(
        out, backend=world.backend, device="Deck 1", seconds=10, progress=seen.append
    )

    capture = parse(out.getvalue())
    assert capture.name == "Deck 1"
    assert capture.address == REDACTED_ADDRESS
    assert treadmill.address not in out.getvalue()
    assert capture.characteristic("2ad9") is not None
    assert capture.reads["2ad5"] == bytes.fromhex("00009600" + "0500")
    data = [v for v in capture.values if v.uuid == "2acd"]
    assert len(data) >= 8
    assert all(v.kind == "notification" for v in data)
    assert parse_treadmill_data(data[-1].value).speed_kmh == pytest.approx(6.0)
    assert [(w.value.hex(), (w.answer or b"").hex()) for w in capture.writes] == [
        ("00", "800001"),
        ("031400", "800301"),  # the 2.0 % the deck already showed: nothing moves
    ]
    assert treadmill.target_incline_pct == 2.0
    assert summary["supports"]["control"] == {
        "request_control": "success",
        "set_target_inclination": "success",
    }
    assert summary["supports"]["incline_range"]["max_incline_pct"] == 15.0
    assert "incline_pct" in summary["supports"]["treadmill_data_fields"]
    assert capture.summary is not None
    assert seen
    assert seen[-1].elapsed_s == pytest.approx(10, abs=0.5)
    assert seen[-1].notifications == len(data)
    assert all(json.loads(line)["type"] for line in out.getvalue().splitlines())


@pytest.mark.looptime
async def test_capture_by_address_keeps_it_when_asked(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    out = io.StringIO()

    await record(
        out,
        backend=world.backend,
        device=treadmill.address.lower(),
        seconds=3,
        redact=False,
        control=False,
    )

    capture = parse(out.getvalue())
    assert capture.address == treadmill.address
    assert capture.writes == ()
    assert treadmill.control_log == []


@pytest.mark.looptime
async def test_capture_of_a_deck_without_incline_range_says_what_it_supports(
    world: VirtualWorld,
) -> None:
    await world.add_treadmill(TreadmillConfig(incline_range=None))
    out = io.StringIO()

    summary = await record(out, backend=world.backend, device=None, seconds=3)

    assert "incline_range" not in summary["supports"]
    assert parse(out.getvalue()).characteristic("2ad5") is None


@pytest.mark.looptime
async def test_capture_of_an_absent_device_says_so(world: VirtualWorld) -> None:
    await world.add_treadmill()
    with pytest.raises(DeviceNotFoundError, match='"Nobody"'):
        await record(
            io.StringIO(), backend=world.backend, device="Nobody", seconds=3, scan_timeout_s=3
        )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "not a Treadwell capture"),
        ("not json\n", "line 1: not JSON"),
        ('{"type":"header","format":"other","version":1}\n', "is not 'treadwell-capture'"),
        ('{"type":"header","format":"treadwell-capture","version":99}\n', "reads up to 1"),
        (
            '{"type":"header","format":"treadwell-capture","version":1}\n'
            '{"type":"notification","t":1,"uuid":"2acd","value":"zz"}\n',
            "line 2: value is not hex",
        ),
        (
            '{"type":"header","format":"treadwell-capture","version":1}\n[1]\n',
            "line 2: a record must be an object",
        ),
        (
            '{"type":"header","format":"treadwell-capture","version":1}\n'
            '{"type":"gatt","services":[{"characteristics":[]}]}\n',
            "line 2: a malformed GATT table",
        ),
    ],
)
def test_a_bad_capture_names_the_line_that_is_wrong(text: str, error: str) -> None:
    with pytest.raises(CaptureError, match=error):
        parse(text)


def test_an_unreadable_capture_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot read"):
        load(tmp_path / "missing.jsonl")


def treadwell(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_capture_command_on_the_virtual_backend_writes_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "deck.jsonl"
    proc = treadwell("capture", "--backend", "virtual", "--seconds", "4", "-o", str(path))

    assert proc.returncode == 0, proc.stderr
    assert "recording" in proc.stderr
    assert "notifications" in proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["supports"]["control"]["request_control"] == "success"
    capture = load(path)
    assert capture.reads["2ad5"]


def test_capture_command_refuses_a_nonsense_duration(tmp_path: Path) -> None:
    proc = treadwell("capture", "--seconds", "0", "-o", str(tmp_path / "x.jsonl"))

    assert proc.returncode == 2
    assert "--seconds must be more than 0" in proc.stderr


def test_capture_command_of_an_absent_device_leaves_no_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "none.jsonl"
    proc = treadwell(
        "capture", "--backend", "virtual", "--device", "Nobody", "--seconds", "2", "-o", str(path)
    )

    assert proc.returncode == 1
    assert 'no "Nobody" advertised' in proc.stderr
    assert not path.exists()


def test_capture_command_stopped_early_keeps_the_file_with_its_summary(tmp_path: Path) -> None:
    path = tmp_path / "early.jsonl"
    command = ["capture", "--backend", "virtual", "--seconds", "600", "-o", str(path)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "treadwell.daemon", *command],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait for real progress before interrupting
            if "notifications 3" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()

    assert proc.returncode == 0, err
    capture = load(path)
    assert capture.summary is not None
    assert 0 < capture.summary["duration_s"] < 600
    assert json.loads(out)["counts"]["2acd"] >= 3

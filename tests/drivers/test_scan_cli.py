from __future__ import annotations

import json
import subprocess
import sys

import pytest

from treadwell.daemon import cli
from treadwell.daemon.commands.scan import render_table
from treadwell.drivers.discovery import DeviceKind, FoundDevice


def treadwell(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_scan_with_the_virtual_backend_lists_the_virtual_devices() -> None:
    proc = treadwell("scan", "--backend", "virtual", "--seconds", "1", "--json")

    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert [(d["kind"], d["name"]) for d in found] == [
        ("treadmill", "Treadwell Virtual Treadmill"),
        ("heart_rate", "Treadwell Virtual Strap"),
        ("footpod", "Treadwell Virtual Footpod"),
    ]
    assert all(isinstance(d["rssi"], int) and d["address"].count(":") == 5 for d in found)
    assert found[0]["ftms_available"] is True


def test_scan_table_shows_name_address_rssi_and_kind() -> None:
    proc = treadwell("scan", "--backend", "virtual", "--seconds", "1")

    assert proc.returncode == 0, proc.stderr
    header, *rows = proc.stdout.splitlines()
    assert header.split() == ["KIND", "NAME", "ADDRESS", "RSSI"]
    assert len(rows) == 3
    assert rows[0].startswith("treadmill")
    assert rows[0].endswith("dBm")


def test_scan_without_bluetooth_explains_and_exits_1() -> None:
    proc = treadwell("scan", "--seconds", "1")

    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Bluetooth is not available" in proc.stderr
    assert "is bluetoothd running" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("seconds", ["0", "-3"])
def test_nonsense_duration_is_a_usage_error(
    seconds: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["scan", "--seconds", seconds]) == 2
    assert "--seconds must be more than 0" in capsys.readouterr().err


def test_an_empty_scan_says_what_to_try() -> None:
    assert "wake them up" in render_table([])


def test_a_nameless_device_is_still_listed() -> None:
    table = render_table(
        [FoundDevice(name="", address="AA:BB:CC:DD:EE:FF", rssi=-70, kind=DeviceKind.FOOTPOD)]
    )
    assert "(no name)" in table
    assert "-70 dBm" in table

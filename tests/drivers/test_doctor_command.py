"""`treadwell doctor` explains a treadmill (here: replayed captures and the virtual deck)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"


def doctor(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", "doctor", "--state-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )


def test_doctor_explains_a_deck_without_incline_control_and_remembers_it(
    tmp_path: Path,
) -> None:
    proc = doctor(tmp_path, "--capture", str(CAPTURES / "technogym_myrun"), "--seconds", "3")

    assert proc.returncode == 0, proc.stderr
    assert 'Treadmill "technogym_myrun"' in proc.stdout
    assert "[no]   no incline control over Bluetooth" in proc.stdout
    assert "set on the console" in proc.stdout
    remembered = json.loads((tmp_path / "devices.json").read_text())["devices"]
    assert [r["name"] for r in remembered.values()] == ["technogym_myrun"]

    again = doctor(tmp_path, "--remembered")
    assert again.returncode == 0, again.stderr
    assert "no incline control" in again.stdout


def test_doctor_on_the_virtual_deck_shows_what_works_as_json(tmp_path: Path) -> None:
    proc = doctor(tmp_path, "--backend", "virtual", "--seconds", "2", "--json")

    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["can_set_incline"] is True
    assert report["control"] == {
        "request_control": "accepted",
        "set_target_inclination": "accepted",
    }


def test_doctor_with_nothing_remembered_says_where_it_looked(tmp_path: Path) -> None:
    proc = doctor(tmp_path, "--remembered")

    assert proc.returncode == 1
    assert "nothing remembered yet" in proc.stderr


def test_doctor_on_a_broken_capture_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n")

    proc = doctor(tmp_path, "--capture", str(bad))

    assert proc.returncode == 2
    assert "line 1" in proc.stderr
    assert "Traceback" not in proc.stderr

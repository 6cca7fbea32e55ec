"""`treadwell export`: a stored run to a file, as a runner types it; clear errors otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from garmin_fit_sdk import Decoder, Stream

from tests.export.runs import store_run

ROOT = Path(__file__).resolve().parents[2]


def treadwell(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "LANG", "PYTHONPATH"}}
    return subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**keep, "HOME": str(home), "TZ": "UTC"},
        timeout=120,
        check=False,
    )


def test_export_last_writes_a_fit_file_garmins_sdk_reads(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    store_run(state_dir, seconds=200)
    newest = store_run(state_dir, seconds=300, runner="ana")
    target = tmp_path / "out" / "run.fit"
    result = treadwell(
        tmp_path, "export", "--last", "-o", str(target), "--state-dir", str(state_dir)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(target)
    messages, errors = Decoder(Stream.from_byte_array(bytearray(target.read_bytes()))).read()
    assert errors == []
    assert len(messages["record_mesgs"]) == 300
    assert newest == 2


@pytest.mark.parametrize(("fmt", "head"), [("tcx", b"<?xml"), ("csv", b"time,elapsed_s")])
def test_export_by_id_in_each_format_names_the_file_after_the_run(
    tmp_path: Path, fmt: str, head: bytes
) -> None:
    state_dir = tmp_path / "state"
    run_id = store_run(state_dir, seconds=60)
    result = treadwell(
        tmp_path, "export", str(run_id), "--format", fmt, "--state-dir", str(state_dir)
    )
    assert result.returncode == 0, result.stderr
    written = tmp_path / result.stdout.strip()
    assert written.name == f"2026-11-30-0630-run-{run_id}.{fmt}"
    assert written.read_bytes().startswith(head)


def test_export_to_stdout(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    store_run(state_dir, seconds=30)
    result = treadwell(
        tmp_path, "export", "--last", "--format", "csv", "-o", "-", "--state-dir", str(state_dir)
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 31


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["99"], "no run with id 99"),
        (["--last"], "no per-second samples"),
    ],
)
def test_export_of_a_missing_or_empty_run_fails_clearly(
    tmp_path: Path, args: list[str], message: str
) -> None:
    from datetime import UTC, datetime

    from treadwell.daemon.store import Store

    state_dir = tmp_path / "state"
    with Store.in_dir(state_dir) as store:
        store.start_run("treadmill", at=datetime(2026, 1, 1, tzinfo=UTC))
    result = treadwell(tmp_path, "export", *args, "--state-dir", str(state_dir))
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_export_without_a_state_database_says_so(tmp_path: Path) -> None:
    result = treadwell(tmp_path, "export", "--last", "--state-dir", str(tmp_path / "none"))
    assert result.returncode == 1
    assert "no state database" in result.stderr


def test_export_needs_a_run_id_or_last(tmp_path: Path) -> None:
    result = treadwell(tmp_path, "export", "--format", "fit")
    assert result.returncode == 2
    assert "RUN_ID" in result.stderr or "--last" in result.stderr

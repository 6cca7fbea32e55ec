"""SIGKILL mid-run: the samples written before the kill survive, and the run still exports.

The daemon runs as a real subprocess on the virtual backend with automatic export on. It is
killed with SIGKILL in the middle of a run, its samples are read from the file, the killed
run is exported with `treadwell export`, and a new incarnation finishes the run and exports
it by itself. Every FIT file is read back with Garmin's FIT SDK.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any, cast

import pytest
from garmin_fit_sdk import Decoder, Stream

from tests.reliability.harness import ROOT, WAIT_S, DaemonProcess, daemon_config
from treadwell.daemon.samples_db import Sample, load_samples

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.reliability, pytest.mark.mqtt]

QUIET = {"form_cue_distance_m": 100_000.0, "hr_drift_bpm": 0}


@pytest.fixture
def procs() -> Iterator[list[DaemonProcess]]:
    made: list[DaemonProcess] = []
    try:
        yield made
    finally:
        for process in made:
            process.close()


def open_run_id(state_dir: Path) -> int | None:
    with sqlite3.connect(f"file:{state_dir / 'treadwell.sqlite'}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT id FROM runs WHERE status = 'open'").fetchone()
    return None if row is None else int(row[0])


async def wait_samples(state_dir: Path, run_id: int, count: int) -> list[Sample]:
    """Wait until at least `count` samples of the run are in the file (committed)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        found = load_samples(state_dir, run_id)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"only {len(found)} samples of run {run_id} after {WAIT_S:g} s")
        await asyncio.sleep(0.05)


def decode_fit(data: bytes) -> dict[str, list[dict[str, Any]]]:
    messages, errors = Decoder(Stream.from_byte_array(bytearray(data))).read()
    assert errors == []
    return cast("dict[str, list[dict[str, Any]]]", messages)


def export(state_dir: Path, target: Path) -> subprocess.CompletedProcess[str]:
    command = ["export", "--last", "--format", "fit", "-o", str(target)]
    return subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", *command, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


async def test_killed_mid_run_the_samples_survive_and_the_run_still_exports(
    broker: Mosquitto, tmp_path: Path, procs: list[DaemonProcess]
) -> None:
    state_dir, exports = tmp_path / "state", tmp_path / "exports"
    config = daemon_config(broker, state_dir, rules=QUIET)
    config += f'\n[export]\ndirectory = "{exports}"\nformats = ["fit", "tcx"]\n'
    daemon = DaemonProcess(config, tmp_path)
    procs.append(daemon)

    daemon.start()
    await daemon.wait_log(r"treadmill: run \S+ started")
    run_id = None
    deadline = time.monotonic() + WAIT_S
    while run_id is None:
        run_id = open_run_id(state_dir)
        assert time.monotonic() < deadline, "the run never reached the history"
        await asyncio.sleep(0.05)
    before = await wait_samples(state_dir, run_id, 60)
    daemon.kill()

    after = load_samples(state_dir, run_id)
    assert after[: len(before)] == before  # nothing written before the kill was lost
    assert [s.t for s in after] == sorted({s.t for s in after})
    assert all(s.speed_kmh is not None and s.distance_m is not None for s in after)
    assert any(s.heart_rate_bpm is not None for s in after)
    assert any(s.rr_ms for s in after)

    killed = tmp_path / "killed.fit"
    result = export(state_dir, killed)
    assert result.returncode == 0, result.stderr
    fit = decode_fit(killed.read_bytes())
    assert len(fit["record_mesgs"]) == len(after)
    (session,) = fit["session_mesgs"]
    assert session["sub_sport"] in {"treadmill", "indoor_walking"}
    assert session["total_distance"] == pytest.approx(
        max(s.distance_m or 0 for s in after) - (after[0].distance_m or 0), abs=1
    )

    # A new incarnation resumes or closes the run, finishes the next one and exports it.
    daemon.start()
    await daemon.wait_log(r"run \S+ ended")
    await daemon.wait_log(r"export: run \d+ written to \S+\.fit")
    await daemon.wait_log(r"export: run \d+ written to \S+\.tcx")
    assert daemon.stop() == 0
    files = sorted((exports / "default").glob("*.fit"))
    assert files, daemon.log()[-3000:]
    for path in files:
        exported = decode_fit(path.read_bytes())
        assert exported["record_mesgs"]
        (session,) = exported["session_mesgs"]
        assert session["sport"] in {"running", "walking"}
        assert session["total_distance"] > 0
    assert "Traceback" not in daemon.log()

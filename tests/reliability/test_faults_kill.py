"""SIGKILL at the worst moments: scheduled prompts still arrive once, run history stays sound.

The daemon runs as a real subprocess on the virtual backend and is killed with SIGKILL (no
clean-up of any kind), then started again on the same state directory. Each incarnation builds
a fresh virtual treadmill, whose scripted run starts from zero, as a treadmill that was
switched off and on again would.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.reliability.harness import (
    ROOT,
    DaemonProcess,
    daemon_config,
    duplicates,
    recording,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

    from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.reliability, pytest.mark.mqtt]

# No form cue (by distance or heart-rate drift) in these runs: nothing is raised late.
QUIET = {"form_cue_distance_m": 100_000.0, "hr_drift_bpm": 0}


def make_daemon(broker: Mosquitto, workdir: Path, **rules: float) -> DaemonProcess:
    config = daemon_config(broker, workdir / "state", rules={**QUIET, **rules})
    return DaemonProcess(config, workdir)


@pytest.fixture
def procs() -> Iterator[list[DaemonProcess]]:
    made: list[DaemonProcess] = []
    try:
        yield made
    finally:
        for process in made:
            process.close()


def history(state_dir: Path) -> list[dict[str, Any]]:
    """`treadwell history --json`, as an operator would run it."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "treadwell.daemon",
            "history",
            "--json",
            "--limit",
            "100",
            "--state-dir",
            str(state_dir),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=30,
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def integrity(path: Path) -> str:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


async def test_killed_after_a_run_before_its_prompts_are_due_each_arrives_once_after_restart(
    broker: Mosquitto, tmp_path: Path, procs: list[DaemonProcess]
) -> None:
    # Reminder 5 s and check-in 6 s (real) after the run ends.
    daemon = make_daemon(broker, tmp_path, hydration_reminder_after_s=600.0, checkin_after_s=720.0)
    procs.append(daemon)
    async with recording(broker, "tw/prompt") as dash:
        daemon.start()
        await daemon.wait_log(r"\(stretch\)")  # the run ended; its follow-ups are scheduled
        await asyncio.sleep(0.5)
        daemon.kill()
        assert "is due" not in daemon.log()
        # The treadmill comes back with its belt running, but no new run may start (and so
        # cancel the reminder): this incarnation only has the scheduled prompts to deliver.
        daemon.config_text = make_daemon(
            broker, tmp_path, hydration_reminder_after_s=600.0, run_start_speed_kmh=30.0
        ).config_text
        daemon.start()
        await daemon.wait_log(r"\(hydration\) is due")
        await daemon.wait_log(r"\(checkin\) is due")
        expected = [prompt_id for prompt_id, _ in daemon.prompts_raised()]
        await dash.wait_for(lambda: set(expected) <= set(dash.prompt_ids()), f"all of {expected}")
        await asyncio.sleep(1.0)
        assert daemon.stop() == 0

    due = [(i, k) for i, k in daemon.prompts_raised() if i.endswith((":hydration:2", ":checkin"))]
    assert [k for _, k in due] == ["hydration", "checkin"]
    delivered = dash.prompt_ids()
    for prompt_id, _ in due:
        assert delivered.count(prompt_id) == 1
    assert duplicates(delivered) == []
    assert delivered == expected


async def test_killed_mid_run_the_history_holds_each_run_once_and_none_left_open(
    broker: Mosquitto, tmp_path: Path, procs: list[DaemonProcess]
) -> None:
    daemon = make_daemon(broker, tmp_path)
    procs.append(daemon)
    state_dir = tmp_path / "state"
    daemon.start()
    await daemon.wait_log(r"treadmill: incline set to")
    await asyncio.sleep(1.5)  # a few minutes into the (sped-up) run
    daemon.kill()
    killed = history(state_dir)
    assert [run["status"] for run in killed] == ["open"]

    daemon.start()
    await daemon.wait_log(r"run \S+ ended")
    assert daemon.stop() == 0

    runs = history(state_dir)
    assert integrity(state_dir / "treadwell.sqlite") == "ok"
    assert len({run["id"] for run in runs}) == len(runs)
    assert len({run["started_at"] for run in runs}) == len(runs)
    assert runs[-1]["id"] == killed[0]["id"]  # the killed run is still there, not copied
    assert all(run["status"] in {"finished", "interrupted"} for run in runs)
    assert 1 <= len(runs) <= 2
    for run in runs:
        if run["status"] == "finished":
            summary = run["summary"]
            assert summary["distance_m"] >= 0
            assert summary["duration_s"] > 0
            assert run["ended_at"] >= run["started_at"]


async def test_killed_just_after_each_run_ends_every_run_is_finished_once_and_none_resumed(
    broker: Mosquitto, tmp_path: Path, procs: list[DaemonProcess]
) -> None:
    # The run's end (record, state, scheduled prompts) is one transaction: a kill right after
    # it can neither leave the run open for the next incarnation to resume nor lose it.
    daemon = make_daemon(broker, tmp_path, stop_timeout_s=30.0)
    procs.append(daemon)
    state_dir = tmp_path / "state"
    incarnations = 4
    async with recording(broker, "tw/run") as dash:
        for ended in range(1, incarnations + 1):
            daemon.start()
            await daemon.wait_log(r"run \S+ ended", count=ended)
            if ended < incarnations:
                daemon.kill()
        assert daemon.stop() == 0
        runs = history(state_dir)
        # The last run's summary goes out before `offline`, even on a stop right after it.
        newest = runs[0]["run_id"]
        await dash.wait_for(
            lambda: any(json.loads(m.payload)["run_id"] == newest for m in dash.on("tw/run")),
            "the last run's summary",
        )
    assert integrity(state_dir / "treadwell.sqlite") == "ok"
    assert [run["status"] for run in runs] == ["finished"] * incarnations
    run_ids = [run["run_id"] for run in runs]
    assert len(set(run_ids)) == incarnations
    assert all(run["runner"] == "default" for run in runs)
    last = json.loads(dash.on("tw/run")[-1].payload)
    assert last["run_id"] == runs[0]["run_id"]
    assert "resuming" not in daemon.log()

"""Runs to export: a state directory with a stored run and its samples, as the daemon leaves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from treadwell.daemon.export.run import RunExport
from treadwell.daemon.samples import SampleRecorder
from treadwell.daemon.samples_db import Sample
from treadwell.daemon.store import Store

if TYPE_CHECKING:
    from pathlib import Path

START = datetime(2026, 11, 30, 6, 30, tzinfo=UTC)


def speed_at(t: int) -> float:
    """A 20-minute session: 5 minutes' walk, 12 minutes' run, 3 minutes' walk (km/h)."""
    if t < 300:
        return 5.0
    if t < 1020:
        return 9.0
    return 5.5


def incline_at(t: int) -> float:
    """Level to start with, then 2.5 %."""
    return 0.0 if t < 120 else 2.5


def store_run(
    state_dir: Path,
    *,
    seconds: int = 1200,
    start: datetime = START,
    runner: str = "default",
    speed: float | None = None,
    heart_rate: bool = True,
    finish: bool = True,
) -> int:
    """Record a run second by second, as the daemon does; returns its id."""
    with Store.in_dir(state_dir) as store:
        run_id = store.start_run("treadmill", at=start)
        distance = last = 0.0
        with SampleRecorder.in_dir(state_dir) as recorder:
            for t in range(seconds):
                kmh = speed if speed is not None else speed_at(t)
                recorder.add_rr((60000 / (100 + t % 40),))
                recorder.record(
                    run_id,
                    runner,
                    start + timedelta(seconds=t),
                    speed_kmh=kmh,
                    incline_pct=incline_at(t),
                    total_distance_m=int(distance),
                    heart_rate_bpm=100 + t % 40 if heart_rate else None,
                    cadence_spm=150 + t % 20,
                    stride_m=0.8,
                )
                last = distance
                distance += kmh / 3.6
            recorder.finish(run_id)
        if finish:
            end = start + timedelta(seconds=seconds - 1)
            store.finish_run(
                run_id,
                {"distance_m": int(last), "duration_s": seconds - 1},
                at=end,
            )
    return run_id


def expected_ascent(seconds: int = 1200) -> float:
    """The climb the samples of `store_run` describe: each metre times its incline."""
    climbed = 0.0
    previous = 0
    distance = 0.0
    for t in range(seconds):
        whole = int(distance)
        climbed += (whole - previous) * incline_at(t) / 100
        previous = whole
        distance += speed_at(t) / 3.6
    return climbed


def one_sample_run() -> RunExport:
    """The smallest run every format can encode: one second, one sample."""
    sample = Sample(0, START, 10.0, 1.0, None, 120, (), None)
    return RunExport(1, "default", "treadmill", START, START, (sample,))

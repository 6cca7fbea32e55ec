"""Per-second samples: one a second, written in batches, resumed after a restart, pruned."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from treadwell.daemon import samples_db
from treadwell.daemon.samples import SampleRecorder
from treadwell.daemon.samples_db import load_samples, prune_samples
from treadwell.daemon.store import StateStoreError, Store

if TYPE_CHECKING:
    from pathlib import Path

START = datetime(2026, 11, 30, 6, 30, tzinfo=UTC)


class FakeWall:
    """A monotonic clock the test moves by hand (the recorder's commit timer)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def committed(state_dir: Path, run_id: int) -> int:
    """Samples another process can see (what survives a kill -9)."""
    with sqlite3.connect(state_dir / "treadwell.sqlite") as conn:
        return int(
            conn.execute("SELECT COUNT(*) FROM samples WHERE run_id = ?", (run_id,)).fetchone()[0]
        )


def test_one_sample_is_kept_per_second_of_the_run(tmp_path: Path) -> None:
    with SampleRecorder.in_dir(tmp_path) as recorder:
        kept = [
            recorder.record(1, "default", START + timedelta(seconds=s / 4), speed_kmh=8.0)
            for s in range(12)
        ]
        recorder.finish(1)
    assert kept == [True, False, False, False] * 3
    assert [s.t for s in load_samples(tmp_path, 1)] == [0, 1, 2]


def test_samples_reach_the_file_every_few_seconds_not_every_reading(tmp_path: Path) -> None:
    wall = FakeWall()
    recorder = SampleRecorder(tmp_path / "treadwell.sqlite", commit_every_s=2.0, monotonic=wall)
    try:
        for second in range(5):
            recorder.record(7, "ana", START + timedelta(seconds=second), speed_kmh=9.0)
        assert committed(tmp_path, 7) == 0
        wall.now = 2.0
        recorder.record(7, "ana", START + timedelta(seconds=5), speed_kmh=9.0)
        assert committed(tmp_path, 7) == 6
        recorder.record(7, "ana", START + timedelta(seconds=6), speed_kmh=9.0)
        assert committed(tmp_path, 7) == 6
    finally:
        recorder.close()
    assert committed(tmp_path, 7) == 7


def test_every_field_round_trips_with_its_runner(tmp_path: Path) -> None:
    with SampleRecorder.in_dir(tmp_path) as recorder:
        recorder.add_rr((812.4, 790.0))
        recorder.on_footpod(164, 1.12)
        recorder.record(
            3,
            "ben",
            START,
            speed_kmh=9.87,
            incline_pct=2.5,
            total_distance_m=1234.56,
            heart_rate_bpm=143,
            elevation_gain_m=12.3,
        )
        recorder.record(3, "ben", START + timedelta(seconds=1), speed_kmh=9.9)
    first, second = load_samples(tmp_path, 3)
    assert first == samples_db.Sample(
        t=0,
        at=START,
        speed_kmh=9.87,
        incline_pct=2.5,
        distance_m=1234.56,
        heart_rate_bpm=143,
        rr_ms=(812.0, 790.0),
        cadence_spm=164,
        stride_m=1.12,
        elevation_gain_m=12.3,
    )
    assert second.rr_ms == ()  # each RR interval goes with one sample only
    conn = samples_db.connect(tmp_path / "treadwell.sqlite", read_only=True)
    try:
        assert samples_db.run_runner(conn, 3) == "ben"
        assert samples_db.run_runner(conn, 4) is None
    finally:
        conn.close()


def test_a_restarted_recorder_goes_on_after_the_seconds_already_stored(tmp_path: Path) -> None:
    with SampleRecorder.in_dir(tmp_path) as recorder:
        for second in range(10):
            recorder.record(5, "default", START + timedelta(seconds=second), speed_kmh=8.0)
    with SampleRecorder.in_dir(tmp_path) as recorder:
        # The run started at START; the new process sees its first reading 4 s later.
        assert not recorder.record(5, "default", START + timedelta(seconds=9.5))
        assert recorder.record(5, "default", START + timedelta(seconds=14), speed_kmh=8.5)
    assert [s.t for s in load_samples(tmp_path, 5)] == [*range(10), 14]


def test_the_samples_table_lives_beside_the_run_store_without_touching_its_schema(
    tmp_path: Path,
) -> None:
    with SampleRecorder.in_dir(tmp_path):
        pass
    with Store.in_dir(tmp_path) as store:
        version = store.schema_version
        run_id = store.start_run("treadmill", at=START)
    with Store.in_dir(tmp_path, read_only=True) as store:
        assert store.schema_version == version
        assert store.run(run_id) is not None


def test_a_samples_schema_newer_than_this_treadwell_is_refused(tmp_path: Path) -> None:
    with SampleRecorder.in_dir(tmp_path):
        pass
    with sqlite3.connect(tmp_path / "treadwell.sqlite") as conn:
        conn.execute("UPDATE schema_versions SET v = 99 WHERE name = 'samples'")
    with pytest.raises(StateStoreError, match=r"schema 99, this Treadwell knows 1"):
        SampleRecorder.in_dir(tmp_path)


def test_a_failed_write_keeps_the_samples_for_the_next_flush(tmp_path: Path) -> None:
    path = tmp_path / "treadwell.sqlite"
    wall = FakeWall()
    recorder = SampleRecorder(path, commit_every_s=1.0, monotonic=wall)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("PRAGMA busy_timeout = 0")
    recorder.connection.execute("PRAGMA busy_timeout = 0")
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the file
        recorder.record(9, "default", START, speed_kmh=7.0)
        assert recorder.flush() is False
        blocker.execute("COMMIT")
        assert recorder.flush() is True
    finally:
        blocker.close()
        recorder.close()
    assert len(load_samples(tmp_path, 9)) == 1


def test_pruning_forgets_samples_older_than_the_cutoff_only(tmp_path: Path) -> None:
    with SampleRecorder.in_dir(tmp_path) as recorder:
        for day in range(3):
            at = START + timedelta(days=day)
            recorder.record(day + 1, "default", at, speed_kmh=8.0)
            recorder.finish(day + 1)
        removed = prune_samples(recorder.connection, START + timedelta(days=1))
    assert removed == 1
    assert [len(load_samples(tmp_path, run)) for run in (1, 2, 3)] == [0, 1, 1]

"""I/O. Per-second samples of every run, recorded as the run goes on.

One row per run and second: speed, incline, distance, heart rate (with the strap's RR
intervals, in whole milliseconds), cadence and stride length from a footpod, and the
treadmill's own elevation gain. The daemon hands every reading to a `SampleRecorder`; it
keeps the first reading of each second and writes them in batches, one transaction every
`commit_every_s` seconds (WAL, `synchronous=NORMAL`), so a crash or a kill -9 loses at most
the last few seconds of a run and the daemon does not pay for an fsync per reading.

The tables, their schema and reading them back are in `treadwell.daemon.samples_db`.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

from treadwell.daemon.paths import STATE_FILE_NAME
from treadwell.daemon.samples_db import Sample, _ms, _row, connect
from treadwell.daemon.sqlite_file import ClosingFile, write_transaction

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from treadwell.drivers.codec.treadmill_data import TreadmillData

_LOGGER = logging.getLogger(__name__)

DEFAULT_COMMIT_EVERY_S = 2.0


@dataclass
class _OpenRun:
    runner: str
    started_at: datetime
    last_t: int = -1


class SampleRecorder(ClosingFile):
    """Keeps one sample a second of every open run and writes them in batches.

    Use one per process, from the event loop. Every method logs rather than raises on a
    storage error: losing samples must never stop the daemon.

    Args:
        path: The SQLite file, normally `<state_dir>/treadwell.sqlite`.
        commit_every_s: Wall-clock seconds between commits (what a crash can lose).
        monotonic: Where the wall clock comes from (a test may pass its own).

    Raises:
        StateStoreError: The file cannot be opened or its samples table migrated.
    """

    def __init__(
        self,
        path: Path,
        *,
        commit_every_s: float = DEFAULT_COMMIT_EVERY_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._conn = connect(path)
        self._commit_every_s = commit_every_s
        self._monotonic = monotonic
        self._pending: list[tuple[object, ...]] = []
        self._new_runs: list[tuple[int, str, int]] = []
        self._last_commit = monotonic()
        self._runs: dict[int, _OpenRun] = {}
        self._rr: list[float] = []
        self._cadence_spm: int | None = None
        self._stride_m: float | None = None

    @classmethod
    def in_dir(cls, state_dir: Path, *, commit_every_s: float = DEFAULT_COMMIT_EVERY_S) -> Self:
        """A recorder on `<state_dir>/treadwell.sqlite`."""
        return cls(state_dir / STATE_FILE_NAME, commit_every_s=commit_every_s)

    @property
    def connection(self) -> sqlite3.Connection:
        """The recorder's own connection (for retention in the same process)."""
        return self._conn

    def add_rr(self, rr_ms: Sequence[float]) -> None:
        """Keep a strap's RR intervals for the next sample written."""
        self._rr.extend(rr_ms)

    def on_footpod(self, cadence_spm: int | None, stride_m: float | None) -> None:
        """Keep a footpod's latest cadence and stride for the samples that follow."""
        self._cadence_spm = cadence_spm
        self._stride_m = stride_m

    def on_reading(
        self,
        run_id: int | None,
        runner: str,
        at: datetime,
        data: TreadmillData,
        heart_rate_bpm: int | None,
    ) -> bool:
        """Note a Treadmill Data record of run `run_id` (nothing when no run is open).

        Never raises: a storage problem is logged and the samples stay pending.
        """
        if run_id is None:
            return False
        return self.record(
            run_id,
            runner,
            at,
            speed_kmh=data.speed_kmh,
            incline_pct=data.incline_pct,
            total_distance_m=data.total_distance_m,
            heart_rate_bpm=heart_rate_bpm,
            elevation_gain_m=data.positive_elevation_gain_m,
        )

    def record(
        self,
        run_id: int,
        runner: str,
        at: datetime,
        *,
        started_at: datetime | None = None,
        speed_kmh: float | None = None,
        incline_pct: float | None = None,
        total_distance_m: float | None = None,
        heart_rate_bpm: int | None = None,
        cadence_spm: int | None = None,
        stride_m: float | None = None,
        elevation_gain_m: float | None = None,
    ) -> bool:
        """Note a reading of run `run_id`; at most one sample per second of the run is kept.

        Args:
            run_id: The stored run's id.
            runner: Whose run it is ("default" when the household has one runner).
            at: When the reading arrived (timezone-aware, on the daemon's clock).
            started_at: When the run started; the first reading's time when not given.
            speed_kmh: Belt speed.
            incline_pct: Deck incline.
            total_distance_m: The treadmill's distance counter (metres since its start).
            heart_rate_bpm: The chosen heart rate.
            cadence_spm: Footpod cadence.
            stride_m: Footpod stride length.
            elevation_gain_m: The treadmill's positive elevation gain.

        Returns:
            True if this reading became a new sample, False if its second was taken.
        """
        run = self._runs.get(run_id)
        if run is None:
            stored_start, last_t = self._stored(run_id)
            run = _OpenRun(runner, stored_start or started_at or at, last_t)
            self._runs[run_id] = run
            if stored_start is None:
                self._new_runs.append((run_id, runner, _ms(run.started_at)))
        t = max(0, int((at - run.started_at).total_seconds()))
        if t <= run.last_t:
            return False
        run.last_t = t
        sample = Sample(
            t=t,
            at=at,
            speed_kmh=speed_kmh,
            incline_pct=incline_pct,
            distance_m=total_distance_m,
            heart_rate_bpm=heart_rate_bpm,
            rr_ms=tuple(self._rr),
            cadence_spm=self._cadence_spm if cadence_spm is None else cadence_spm,
            stride_m=self._stride_m if stride_m is None else stride_m,
            elevation_gain_m=elevation_gain_m,
        )
        self._rr.clear()
        self._pending.append(_row(run_id, sample))
        if self._monotonic() - self._last_commit >= self._commit_every_s:
            self.flush()
        return True

    def finish(self, run_id: int) -> None:
        """The run ended: write what is pending and forget it."""
        self.flush()
        self._runs.pop(run_id, None)

    def flush(self) -> bool:
        """Write every pending sample in one transaction; False (logged) if it failed.

        Pending samples are kept after a failure and tried again at the next flush.
        """
        self._last_commit = self._monotonic()
        if not self._pending and not self._new_runs:
            return True
        try:
            with write_transaction(self._conn):
                self._conn.executemany(
                    "INSERT OR IGNORE INTO sample_runs VALUES (?, ?, ?)", self._new_runs
                )
                self._conn.executemany(
                    "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    self._pending,
                )
        except sqlite3.Error as exc:
            _LOGGER.error("samples: %d not written yet: %s", len(self._pending), exc)  # noqa: TRY400
            return False
        self._pending.clear()
        self._new_runs.clear()
        return True

    def close(self) -> None:
        """Write what is pending and close the file (idempotent)."""
        with contextlib.suppress(sqlite3.ProgrammingError):
            self.flush()
        self._conn.close()

    def _stored(self, run_id: int) -> tuple[datetime | None, int]:
        """A resumed run's start and last stored second (it goes on after a restart)."""
        try:
            row = self._conn.execute(
                "SELECT started_ms, (SELECT MAX(t) FROM samples WHERE run_id = ?) "
                "FROM sample_runs WHERE run_id = ?",
                (run_id, run_id),
            ).fetchone()
        except sqlite3.Error:
            return None, -1
        if row is None:
            return None, -1
        last = -1 if row[1] is None else int(row[1])
        return datetime.fromtimestamp(int(row[0]) / 1000, UTC), last

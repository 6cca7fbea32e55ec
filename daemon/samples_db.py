"""I/O. The per-second samples' tables in `treadwell.sqlite`: schema, reading, retention.

`sample_runs` holds each run's runner and start once; `samples` holds the seconds, keyed by
(run, second) in a `WITHOUT ROWID` table, with values as scaled integers (centimetres,
hundredths of a km/h or a percent), so a second costs about 40 bytes of file. A sample's
time is its run's start plus its second. Retention deletes whole runs, by their start.
`treadwell.daemon.samples.SampleRecorder` writes them while a run goes on.

The tables have their own schema version, kept in a small `schema_versions` table under the
key "samples" (`PRAGMA user_version` belongs to the run store), so this module migrates its
tables without touching the store's schema.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from treadwell.daemon.paths import STATE_FILE_NAME
from treadwell.daemon.store import StateStoreError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

DEFAULT_RUNNER = "default"
SCHEMA_KEY = "samples"

# Step N brings the samples schema from N-1 to N. Append only; never edit one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sample_runs (
        run_id INTEGER PRIMARY KEY,
        runner TEXT NOT NULL,
        started_ms INTEGER NOT NULL
    );
    CREATE INDEX sample_runs_started ON sample_runs (started_ms);
    CREATE TABLE samples (
        run_id INTEGER NOT NULL,
        t INTEGER NOT NULL,
        speed_cmh INTEGER,
        incline_cpct INTEGER,
        distance_cm INTEGER,
        heart_rate INTEGER,
        rr_ms TEXT,
        cadence INTEGER,
        stride_cm INTEGER,
        elevation_cm INTEGER,
        PRIMARY KEY (run_id, t)
    ) WITHOUT ROWID;
    """,
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One second of a run.

    Attributes:
        t: Whole seconds since the run started (the row's key within its run).
        at: When it was measured (UTC).
        speed_kmh: Belt speed.
        incline_pct: Deck incline.
        distance_m: Distance since the run started (from the treadmill's total).
        heart_rate_bpm: The chosen heart rate (strap first, else the treadmill's).
        rr_ms: RR intervals the strap sent during this second, in milliseconds.
        cadence_spm: Steps per minute from a footpod.
        stride_m: Stride length from a footpod.
        elevation_gain_m: The treadmill's own positive elevation gain, when it reports one.
    """

    t: int
    at: datetime
    speed_kmh: float | None = None
    incline_pct: float | None = None
    distance_m: float | None = None
    heart_rate_bpm: int | None = None
    rr_ms: tuple[float, ...] = ()
    cadence_spm: int | None = None
    stride_m: float | None = None
    elevation_gain_m: float | None = None


def _scaled(value: float | None, factor: int) -> int | None:
    return None if value is None else round(value * factor)


def _unscaled(value: int | None, factor: int) -> float | None:
    return None if value is None else value / factor


def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def _row(run_id: int, sample: Sample) -> tuple[object, ...]:
    rr = ",".join(str(round(v)) for v in sample.rr_ms) if sample.rr_ms else None
    return (
        run_id,
        sample.t,
        _scaled(sample.speed_kmh, 100),
        _scaled(sample.incline_pct, 100),
        _scaled(sample.distance_m, 100),
        sample.heart_rate_bpm,
        rr,
        sample.cadence_spm,
        _scaled(sample.stride_m, 100),
        _scaled(sample.elevation_gain_m, 100),
    )


def _sample(row: Sequence[object]) -> Sample:
    t, started, speed, incline, distance, heart, rr, cadence, stride, elevation = row
    return Sample(
        t=int(str(t)),
        at=datetime.fromtimestamp(int(str(started)) / 1000, UTC) + timedelta(seconds=int(str(t))),
        speed_kmh=_unscaled(_int(speed), 100),
        incline_pct=_unscaled(_int(incline), 100),
        distance_m=_unscaled(_int(distance), 100),
        heart_rate_bpm=_int(heart),
        rr_ms=tuple(float(v) for v in str(rr).split(",")) if rr else (),
        cadence_spm=_int(cadence),
        stride_m=_unscaled(_int(stride), 100),
        elevation_gain_m=_unscaled(_int(elevation), 100),
    )


def _int(value: object) -> int | None:
    return None if value is None else int(str(value))


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the samples table up to date, one transaction per step.

    Args:
        conn: A connection in autocommit mode (`isolation_level=None`).

    Returns:
        The samples schema version afterwards.

    Raises:
        StateStoreError: The file's samples schema is newer than this Treadwell knows.
    """
    conn.execute("CREATE TABLE IF NOT EXISTS schema_versions (name TEXT PRIMARY KEY, v INTEGER)")
    row = conn.execute("SELECT v FROM schema_versions WHERE name = ?", (SCHEMA_KEY,)).fetchone()
    version = int(row[0]) if row else 0
    if version > len(MIGRATIONS):
        raise StateStoreError(
            f"the samples table has schema {version}, this Treadwell knows {len(MIGRATIONS)}: "
            "upgrade Treadwell or move the file aside"
        )
    for number in range(version + 1, len(MIGRATIONS) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_versions (name, v) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET v = excluded.v",
                (SCHEMA_KEY, number),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return len(MIGRATIONS)


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection to the state file with the samples table migrated (unless read-only).

    Raises:
        StateStoreError: The file cannot be opened, or (read-only) has no samples table yet.
    """
    try:
        if read_only:
            if not path.is_file():
                raise StateStoreError(f"no state database at {path} yet")
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        else:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            conn = sqlite3.connect(path, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StateStoreError(f"cannot open the samples in {path}: {exc}") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        if not read_only:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            migrate(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise StateStoreError(f"cannot prepare the samples table in {path}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def read_samples(conn: sqlite3.Connection, run_id: int) -> list[Sample]:
    """Every stored sample of a run, in time order (empty when it has none)."""
    try:
        rows = conn.execute(
            "SELECT t, started_ms, speed_cmh, incline_cpct, distance_cm, heart_rate, rr_ms, "
            "cadence, stride_cm, elevation_cm FROM samples JOIN sample_runs USING (run_id) "
            "WHERE run_id = ? ORDER BY t",
            (run_id,),
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise StateStoreError(f"cannot read the samples of run {run_id}: {exc}") from exc
    except sqlite3.Error as exc:
        raise StateStoreError(f"cannot read the samples of run {run_id}: {exc}") from exc
    return [_sample(row) for row in rows]


def run_runner(conn: sqlite3.Connection, run_id: int) -> str | None:
    """The runner named in a run's samples, or None when the run has none."""
    try:
        row = conn.execute("SELECT runner FROM sample_runs WHERE run_id = ?", (run_id,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else str(row[0])


def load_samples(state_dir: Path, run_id: int) -> list[Sample]:
    """Every stored sample of a run, read from `<state_dir>/treadwell.sqlite`."""
    conn = connect(state_dir / STATE_FILE_NAME, read_only=True)
    try:
        return read_samples(conn, run_id)
    finally:
        conn.close()


def prune_samples(conn: sqlite3.Connection, older_than: datetime) -> int:
    """Delete the samples of runs started before `older_than`; returns how many rows went."""
    cutoff = _ms(older_than)
    conn.execute("BEGIN IMMEDIATE")
    try:
        cursor = conn.execute(
            "DELETE FROM samples WHERE run_id IN "
            "(SELECT run_id FROM sample_runs WHERE started_ms < ?)",
            (cutoff,),
        )
        conn.execute("DELETE FROM sample_runs WHERE started_ms < ?", (cutoff,))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return cursor.rowcount

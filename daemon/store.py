"""I/O. Treadwell's SQLite state: run history, back-pain flags, check-ins, the rules' state.

One file, `<state_dir>/treadwell.sqlite`, in WAL mode with `synchronous=FULL`: every write is
one transaction, so a crash or kill -9 leaves either the old or the new state, never half of
one. The schema is versioned with `PRAGMA user_version`; each migration runs in its own
transaction together with the version bump, so a failed migration changes nothing.

The MQTT outbox keeps its own table in the same file through its own module and connection;
`user_version` belongs to this module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

from treadwell.daemon.paths import STATE_FILE_NAME
from treadwell.drivers.errors import TreadwellError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path
    from types import TracebackType


class StateStoreError(TreadwellError):
    """The state database cannot be opened, read or written (with advice on why)."""


# Migration N (1-based) brings user_version from N-1 to N. Append only; never edit one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        treadmill TEXT NOT NULL,
        started_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        ended_at TEXT,
        status TEXT NOT NULL CHECK (status IN ('open', 'finished', 'interrupted')),
        summary TEXT
    );
    CREATE INDEX runs_started ON runs (started_at);
    CREATE TABLE flags (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        back_pain TEXT NOT NULL,
        expires_at TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE checkins (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        pain INTEGER NOT NULL,
        kind TEXT NOT NULL,
        note TEXT,
        run_id INTEGER REFERENCES runs (id)
    );
    CREATE TABLE engine_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        data TEXT NOT NULL,
        saved_at TEXT NOT NULL
    );
    """,
    # 2: runners. Runs and check-ins name their runner and the rules' run id; flags are per
    # runner; scheduled prompts are written here first, with the state that asked for them.
    """
    ALTER TABLE runs ADD COLUMN runner TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE runs ADD COLUMN run_key TEXT;
    CREATE INDEX runs_key ON runs (run_key);
    ALTER TABLE checkins ADD COLUMN runner TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE checkins ADD COLUMN run_key TEXT;
    CREATE TABLE runner_flags (
        runner TEXT PRIMARY KEY,
        back_pain TEXT NOT NULL,
        expires_at TEXT,
        updated_at TEXT NOT NULL
    );
    INSERT INTO runner_flags SELECT 'default', back_pain, expires_at, updated_at FROM flags;
    CREATE TABLE schedule_intents (
        key TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    """,
)


class RunStatus(StrEnum):
    """Where a recorded run stands."""

    OPEN = "open"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as stored."""

    id: int
    treadmill: str
    started_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    status: RunStatus
    summary: dict[str, Any] | None
    runner: str = "default"
    run_key: str | None = None


@dataclass(frozen=True, slots=True)
class RunStart:
    """A run to record as started: its rules id, runner, treadmill and start time."""

    run_key: str
    runner: str
    treadmill: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RunFinish:
    """A run to record as finished, with its summary and end time."""

    run_key: str
    summary: Mapping[str, Any] | object
    at: datetime


@dataclass(frozen=True, slots=True)
class Intent:
    """A prompt to schedule: written with the state that asked for it, then handed on."""

    key: str
    at: datetime
    payload: str


@dataclass(frozen=True, slots=True)
class Commit:
    """Everything one event changed, written in one transaction (see `Store.commit`)."""

    state: str | None = None
    starts: tuple[RunStart, ...] = ()
    finishes: tuple[RunFinish, ...] = ()
    intents: tuple[Intent, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredFlags:
    """The persisted back-pain flag."""

    back_pain: str
    expires_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CheckinRecord:
    """One stored check-in."""

    id: int
    at: datetime
    pain: int
    kind: str
    note: str | None
    run_id: int | None
    runner: str = "default"
    run_key: str | None = None


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: give times with a timezone")
    return at.astimezone(UTC)


def _iso(at: datetime | None) -> str:
    return _utc(at).isoformat()


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _advice(exc: sqlite3.Error, path: Path) -> str:
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return f"{path} is read-only: give the treadwell user write access to its state directory"
    if "disk is full" in text or "disk I/O" in text:
        return f"cannot write {path}: {text} (free some space; nothing was changed)"
    if "not a database" in text or "malformed" in text:
        return f"{path} is not a Treadwell state database ({text}); move it aside to start afresh"
    if "unable to open" in text:
        return f"cannot open {path}: the directory is missing or not writable"
    return f"state database {path}: {text}"


def migrate(conn: sqlite3.Connection, migrations: Sequence[str] = MIGRATIONS) -> int:
    """Bring the schema up to date, one transaction per step.

    Args:
        conn: A connection in autocommit mode (`isolation_level=None`).
        migrations: The steps; step N moves `user_version` from N-1 to N.

    Returns:
        The schema version afterwards.

    Raises:
        StateStoreError: The file is newer than this Treadwell (it refuses to downgrade).
        sqlite3.Error: A step failed; that step was rolled back.
    """
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(migrations):
        raise StateStoreError(
            f"state database schema {version} is newer than this Treadwell knows "
            f"({len(migrations)}): upgrade Treadwell or move the file aside"
        )
    for number in range(version + 1, len(migrations) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in migrations[number - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number:d}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return len(migrations)


class Store:
    """The state database (see the module docstring); use one per process, on one thread."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """Open (and create or migrate, unless read-only) the database at `path`.

        Args:
            path: The SQLite file, normally `<state_dir>/treadwell.sqlite`.
            read_only: Open for reading only; the file must exist and is never migrated.

        Raises:
            StateStoreError: The file or its directory cannot be used.
        """
        self.path = path
        self.read_only = read_only
        try:
            if read_only:
                if not path.is_file():
                    raise StateStoreError(f"no state database at {path} yet")
                uri = f"file:{path}?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
                self._conn = sqlite3.connect(path, isolation_level=None)
        except OSError as exc:
            msg = f"cannot create the state directory {path.parent}: {exc.strerror or exc}"
            raise StateStoreError(msg) from exc
        except sqlite3.Error as exc:
            raise StateStoreError(_advice(exc, path)) from exc
        try:
            with self._guard():
                self._conn.execute("PRAGMA busy_timeout = 5000")
                if not read_only:
                    self._conn.execute("PRAGMA journal_mode = WAL")
                    self._conn.execute("PRAGMA synchronous = FULL")
                    self._conn.execute("PRAGMA foreign_keys = ON")
                    migrate(self._conn)
                else:
                    self._check_version()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def in_dir(cls, state_dir: Path, *, read_only: bool = False) -> Self:
        """Open `<state_dir>/treadwell.sqlite`."""
        return cls(state_dir / STATE_FILE_NAME, read_only=read_only)

    def _check_version(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version != len(MIGRATIONS):
            raise StateStoreError(
                f"{self.path} has schema {version}, this Treadwell reads {len(MIGRATIONS)}: "
                "start the daemon once to migrate it"
            )

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StateStoreError(_advice(exc, self.path)) from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._guard():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        with self._guard():
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    # -- runs ---------------------------------------------------------------------------

    def start_run(self, treadmill: str, *, at: datetime | None = None) -> int:
        """Record a run starting now (or `at`).

        An earlier run of the same treadmill still open is closed as interrupted first.

        Args:
            treadmill: The treadmill's slug.
            at: When the run started (timezone-aware); defaults to now.

        Returns:
            The new run's id.
        """
        when = _iso(at)
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = 'interrupted', ended_at = last_seen_at "
                "WHERE treadmill = ? AND status = 'open'",
                (treadmill,),
            )
            cursor = conn.execute(
                "INSERT INTO runs (treadmill, started_at, last_seen_at, status) "
                "VALUES (?, ?, ?, 'open')",
                (treadmill, when, when),
            )
            return int(cursor.lastrowid or 0)

    def touch_run(self, run_id: int, *, at: datetime | None = None) -> None:
        """Note that the open run `run_id` was still going at `at` (for crash recovery)."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET last_seen_at = ? WHERE id = ? AND status = 'open'",
                (_iso(at), run_id),
            )

    def finish_run(
        self, run_id: int, summary: Mapping[str, Any] | object, *, at: datetime | None = None
    ) -> None:
        """Close a run with its summary.

        Args:
            run_id: The id from `start_run`.
            summary: A JSON-serialisable mapping or a dataclass (datetimes become ISO text).
            at: When it ended (timezone-aware); defaults to now.

        Raises:
            StateStoreError: No run has that id, or the summary cannot be stored as JSON.
        """
        if dataclasses.is_dataclass(summary) and not isinstance(summary, type):
            summary = dataclasses.asdict(summary)
        try:
            text = json.dumps(summary, default=_json_default, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise StateStoreError(f"run summary cannot be stored as JSON: {exc}") from exc
        when = _iso(at)
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE runs SET status = 'finished', ended_at = ?, last_seen_at = ?, "
                "summary = ? WHERE id = ?",
                (when, when, text, run_id),
            )
            if cursor.rowcount != 1:
                raise StateStoreError(f"no run with id {run_id}")

    def open_run(self, treadmill: str) -> RunRecord | None:
        """The treadmill's open run, if a crash left one (to resume it)."""
        rows = self._select(
            "SELECT * FROM runs WHERE treadmill = ? AND status = 'open' ORDER BY id DESC LIMIT 1",
            (treadmill,),
        )
        return _run(rows[0]) if rows else None

    def close_stale_runs(
        self, *, older_than: timedelta, now: datetime | None = None
    ) -> list[RunRecord]:
        """Close as interrupted every open run not seen for `older_than`.

        After a crash, a run last seen a moment ago can be resumed (see `open_run`); one
        whose treadmill went quiet long ago is history. Its end is its last sign of life.

        Returns:
            The runs closed, oldest first.
        """
        cutoff = _iso(_utc(now) - older_than)
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT id FROM runs WHERE status = 'open' AND last_seen_at < ? ORDER BY id",
                (cutoff,),
            ).fetchall()
            ids = [row[0] for row in rows]
            conn.executemany(
                "UPDATE runs SET status = 'interrupted', ended_at = last_seen_at WHERE id = ?",
                [(run_id,) for run_id in ids],
            )
        return [run for run in (self.run(run_id) for run_id in ids) if run is not None]

    def run(self, run_id: int) -> RunRecord | None:
        """One run by id."""
        rows = self._select("SELECT * FROM runs WHERE id = ?", (run_id,))
        return _run(rows[0]) if rows else None

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent runs, newest first."""
        rows = self._select(
            "SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT ?", (limit,)
        )
        return [_run(row) for row in rows]

    # -- flags, check-ins, engine state ---------------------------------------------------

    def save_flags(
        self,
        back_pain: str,
        expires_at: datetime | None = None,
        *,
        at: datetime | None = None,
        runner: str = "default",
    ) -> None:
        """Persist a runner's back-pain flag ("none", "ache" or "red") and its expiry."""
        expiry = None if expires_at is None else _iso(expires_at)
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO runner_flags (runner, back_pain, expires_at, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (runner) DO UPDATE SET "
                "back_pain = excluded.back_pain, expires_at = excluded.expires_at, "
                "updated_at = excluded.updated_at",
                (runner, back_pain, expiry, _iso(at)),
            )

    def load_flags(self, runner: str = "default") -> StoredFlags | None:
        """Runner `runner`'s persisted flag, or None if none was ever saved."""
        return self.runner_flags().get(runner)

    def add_checkin(
        self,
        pain: int,
        kind: str,
        *,
        note: str | None = None,
        run_id: int | None = None,
        at: datetime | None = None,
        runner: str = "default",
        run_key: str | None = None,
    ) -> int:
        """Store a check-in and return its id.

        `run_key` (the rules' id of the run it is about) also fills `run_id` when that run is
        recorded and `run_id` is not given.
        """
        with self._transaction() as conn:
            if run_id is None and run_key is not None:
                row = conn.execute(
                    "SELECT id FROM runs WHERE run_key = ? ORDER BY id DESC", (run_key,)
                ).fetchone()
                run_id = None if row is None else int(row[0])
            cursor = conn.execute(
                "INSERT INTO checkins (at, pain, kind, note, run_id, runner, run_key) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_iso(at), pain, kind, note, run_id, runner, run_key),
            )
            return int(cursor.lastrowid or 0)

    def checkins(self, limit: int = 20, *, since: datetime | None = None) -> list[CheckinRecord]:
        """Recent check-ins, newest first (only those at or after `since` if given)."""
        floor = "" if since is None else _iso(since)
        rows = self._select(
            "SELECT id, at, pain, kind, note, run_id, runner, run_key FROM checkins WHERE at >= ? "
            "ORDER BY at DESC, id DESC LIMIT ?",
            (floor, limit),
        )
        return [
            CheckinRecord(
                id=row[0],
                at=datetime.fromisoformat(row[1]),
                pain=row[2],
                kind=row[3],
                note=row[4],
                run_id=row[5],
                runner=row[6],
                run_key=row[7],
            )
            for row in rows
        ]

    def save_engine_state(self, data: str) -> None:
        """Replace the rules engine's serialised state (JSON text, checked before storing)."""
        try:
            json.loads(data)
        except ValueError as exc:
            raise StateStoreError(f"engine state is not valid JSON: {exc}") from exc
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO engine_state (id, data, saved_at) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data, saved_at = excluded.saved_at",
                (data, _iso(None)),
            )

    def state_saved_at(self) -> datetime | None:
        """When the rules' state was last saved, or None."""
        rows = self._select("SELECT saved_at FROM engine_state", ())
        return datetime.fromisoformat(rows[0][0]) if rows else None

    def load_engine_state(self) -> str | None:
        """The rules engine's last saved state, or None."""
        rows = self._select("SELECT data FROM engine_state", ())
        return str(rows[0][0]) if rows else None

    # -- one event's changes at once -----------------------------------------------------

    def commit(self, change: Commit) -> None:
        """Write the household state, run starts and ends and prompts to schedule, atomically.

        A kill at any instant leaves all of it or none of it: a run is never finished in the
        history while the saved state still has it going, and the prompts its end scheduled
        are never lost (they stay in `intents()` until `drop_intents`).

        Raises:
            StateStoreError: The database refused; nothing was written.
        """
        if change.state is not None:
            _check_json(change.state)
        finishes = [(f, _summary_text(f.summary)) for f in change.finishes]
        with self._transaction() as conn:
            for start in change.starts:
                when = _iso(start.at)
                conn.execute(
                    "UPDATE runs SET status = 'interrupted', ended_at = last_seen_at "
                    "WHERE treadmill = ? AND status = 'open'",
                    (start.treadmill,),
                )
                conn.execute(
                    "INSERT INTO runs (treadmill, started_at, last_seen_at, status, runner, "
                    "run_key) VALUES (?, ?, ?, 'open', ?, ?)",
                    (start.treadmill, when, when, start.runner, start.run_key),
                )
            for finish, text in finishes:
                when = _iso(finish.at)
                conn.execute(
                    "UPDATE runs SET status = 'finished', ended_at = ?, last_seen_at = ?, "
                    "summary = ? WHERE run_key = ? AND status != 'finished'",
                    (when, when, text, finish.run_key),
                )
            conn.executemany(
                "INSERT OR REPLACE INTO schedule_intents (key, at, payload) VALUES (?, ?, ?)",
                [(i.key, _iso(i.at), i.payload) for i in change.intents],
            )
            if change.state is not None:
                conn.execute(
                    "INSERT INTO engine_state (id, data, saved_at) VALUES (1, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
                    "saved_at = excluded.saved_at",
                    (change.state, _iso(None)),
                )

    def intents(self) -> list[Intent]:
        """Prompts written to schedule that were not yet handed to the scheduler."""
        rows = self._select("SELECT key, at, payload FROM schedule_intents ORDER BY at", ())
        return [Intent(key, datetime.fromisoformat(at), payload) for key, at, payload in rows]

    def drop_intents(self, keys: Sequence[str]) -> None:
        """Forget intents the scheduler now holds."""
        with self._transaction() as conn:
            conn.executemany("DELETE FROM schedule_intents WHERE key = ?", [(k,) for k in keys])

    def run_by_key(self, run_key: str) -> RunRecord | None:
        """The run the rules call `run_key`."""
        rows = self._select("SELECT * FROM runs WHERE run_key = ? ORDER BY id DESC", (run_key,))
        return _run(rows[0]) if rows else None

    def adopt_legacy(self, runner: str) -> None:
        """Give runs, check-ins and the flag from before runners existed to `runner`."""
        if runner == "default":
            return
        with self._transaction() as conn:
            for table in ("runs", "checkins"):
                conn.execute(f"UPDATE {table} SET runner = ? WHERE runner = 'default'", (runner,))  # noqa: S608
            conn.execute(
                "UPDATE OR IGNORE runner_flags SET runner = ? WHERE runner = 'default'", (runner,)
            )

    def runner_flags(self) -> dict[str, StoredFlags]:
        """Every runner's persisted flag."""
        rows = self._select(
            "SELECT runner, back_pain, expires_at, updated_at FROM runner_flags", ()
        )
        return {
            str(r): StoredFlags(str(b), _parse(e), datetime.fromisoformat(u)) for r, b, e, u in rows
        }

    def _select(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._guard():
            return list(self._conn.execute(sql, tuple(params)).fetchall())


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, StrEnum):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _check_json(text: str) -> None:
    try:
        json.loads(text)
    except ValueError as exc:
        raise StateStoreError(f"engine state is not valid JSON: {exc}") from exc


def _summary_text(summary: Mapping[str, Any] | object) -> str:
    if dataclasses.is_dataclass(summary) and not isinstance(summary, type):
        summary = dataclasses.asdict(summary)
    try:
        return json.dumps(summary, default=_json_default, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise StateStoreError(f"run summary cannot be stored as JSON: {exc}") from exc


def _run(row: tuple[Any, ...]) -> RunRecord:
    run_id, treadmill, started, last_seen, ended, status, summary, runner, run_key = row
    return RunRecord(
        id=run_id,
        treadmill=treadmill,
        started_at=datetime.fromisoformat(started),
        last_seen_at=datetime.fromisoformat(last_seen),
        ended_at=_parse(ended),
        status=RunStatus(status),
        summary=None if summary is None else json.loads(summary),
        runner=runner,
        run_key=run_key,
    )

"""I/O. The state database file: its schema and migrations, the records it holds, the connection.

`Database` opens (creating or migrating) the file and runs guarded transactions;
`treadwell.daemon.store.Store` builds on it with what Treadwell stores. Every public name here
is importable from `treadwell.daemon.store` too. Migration N (1-based) brings
`PRAGMA user_version` from N-1 to N, each in its own transaction together with the version
bump.
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
from treadwell.daemon.sqlite_file import ClosingFile, write_transaction
from treadwell.drivers.errors import TreadwellError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path


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


class Database(ClosingFile):
    """The open state database file: opening, migrating, guarded transactions and queries."""

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
        with self._guard(), write_transaction(self._conn) as conn:
            yield conn

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        with self._guard():
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _select(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._guard():
            return list(self._conn.execute(sql, tuple(params)).fetchall())

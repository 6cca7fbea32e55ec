"""I/O. Treadwell's SQLite state: run history, back-pain flags, check-ins, the rules' state.

One file, `<state_dir>/treadwell.sqlite`, in WAL mode with `synchronous=FULL`: every write is
one transaction, so a crash or kill -9 leaves either the old or the new state, never half of
one. The schema is versioned with `PRAGMA user_version`; each migration runs in its own
transaction together with the version bump, so a failed migration changes nothing.

The schema, its migrations, the record types and the connection (`Database`) are in
`treadwell.daemon.store_db`.
The MQTT outbox keeps its own table in the same file through its own module and connection;
`user_version` belongs to this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from treadwell.daemon.store_db import (
    MIGRATIONS,
    CheckinRecord,
    Commit,
    Database,
    Intent,
    RunFinish,
    RunRecord,
    RunStart,
    RunStatus,
    StateStoreError,
    StoredFlags,
    _check_json,
    _iso,
    _parse,
    _run,
    _summary_text,
    _utc,
    migrate,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import timedelta

__all__ = [
    "MIGRATIONS",
    "CheckinRecord",
    "Commit",
    "Intent",
    "RunFinish",
    "RunRecord",
    "RunStart",
    "RunStatus",
    "StateStoreError",
    "Store",
    "StoredFlags",
    "migrate",
]


class Store(Database):
    """The state database (see the module docstring); use one per process, on one thread."""

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
        text = _summary_text(summary)
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
        _check_json(data)
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

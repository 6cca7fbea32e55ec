"""I/O. Exports after each run, a durable queue of their follow-up commands, and retention.

When a run ends the daemon calls `AutoExporter.on_run_end(run_id, runner)`. That writes one
job per configured format into the `export_jobs` table of `treadwell.sqlite` (in the same
call, so a crash right after still exports the run at the next start). The exporter's task
(`AutoExporter.run`) then writes each file under `<directory>/<runner>/` and runs the
configured command on it, with the file's path as the last argument. A command that fails
(non-zero exit, cannot start, runs over `COMMAND_TIMEOUT_S`) is logged and tried again every
`retry_s` seconds, across restarts, until it succeeds: a job is never dropped, only finished.

The same task applies the retention settings (`[storage]`) when it starts and once a day.

Loading a stored run and writing its file are in `treadwell.daemon.export_files`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from treadwell.daemon import samples_db
from treadwell.daemon.export.formats import encode
from treadwell.daemon.export.run import ExportError, RunExport
from treadwell.daemon.export_files import export_path, load_run_export, write_export
from treadwell.daemon.outbox import Outbox
from treadwell.daemon.paths import STATE_FILE_NAME
from treadwell.daemon.store import StateStoreError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from treadwell.daemon.config import ExportSettings, StorageSettings
    from treadwell.daemon.export.run import Format

_LOGGER = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 300.0
RETENTION_EVERY_S = 86400.0
JOBS_SCHEMA = """
CREATE TABLE IF NOT EXISTS export_jobs (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    runner TEXT NOT NULL,
    format TEXT NOT NULL,
    path TEXT,
    state TEXT NOT NULL CHECK (state IN ('write', 'command', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (run_id, format)
)
"""


# -- retention --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pruned:
    """How many rows retention removed from each table."""

    samples: int = 0
    outbox: int = 0
    runs: int = 0
    jobs: int = 0


def apply_retention(state_dir: Path, storage: StorageSettings, now: datetime) -> Pruned:
    """Forget what is older than the `[storage]` settings allow (0 days keeps for ever).

    Samples go by the time they were measured, sent outbox rows by when the broker
    acknowledged them (pending ones always stay), runs by when they started (an open run
    always stays; its check-ins stay too, no longer tied to it), finished export jobs with
    the outbox's age.

    Raises:
        StateStoreError: The database cannot be written.
    """
    path = state_dir / STATE_FILE_NAME
    conn = samples_db.connect(path)
    try:
        samples = runs = jobs = 0
        if storage.samples_days:
            samples = samples_db.prune_samples(conn, now - timedelta(days=storage.samples_days))
        if storage.history_days:
            runs = _prune_runs(conn, now - timedelta(days=storage.history_days))
        conn.execute(JOBS_SCHEMA)
        cursor = conn.execute(
            "DELETE FROM export_jobs WHERE state IN ('done', 'failed') AND next_at < ?",
            ((now - timedelta(days=storage.outbox_days)).timestamp(),),
        )
        jobs = cursor.rowcount
    except sqlite3.Error as exc:
        raise StateStoreError(f"retention in {path}: {exc}") from exc
    finally:
        conn.close()
    with Outbox(path) as outbox:
        sent = outbox.prune(now - timedelta(days=storage.outbox_days))
    return Pruned(samples=samples, outbox=sent, runs=runs, jobs=jobs)


def _prune_runs(conn: sqlite3.Connection, before: datetime) -> int:
    cutoff = before.astimezone(UTC).isoformat()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "UPDATE checkins SET run_id = NULL WHERE run_id IN "
            "(SELECT id FROM runs WHERE started_at < ? AND status != 'open')",
            (cutoff,),
        )
        cursor = conn.execute(
            "DELETE FROM runs WHERE started_at < ? AND status != 'open'", (cutoff,)
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return cursor.rowcount


# -- the exporter ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    """One queued export of one run in one format."""

    id: int
    run_id: int
    runner: str
    format: Format
    path: str | None
    state: str
    attempts: int


class AutoExporter:
    """Exports finished runs and runs the follow-up command (see the module docstring).

    Args:
        state_dir: The state directory.
        export: The `[export]` settings; nothing is exported without a directory.
        storage: The `[storage]` settings; retention is applied when given.
        wall: Where the wall clock comes from (seconds since the epoch).
        on_written: Called after each file is written (to publish the last run's files).
    """

    def __init__(
        self,
        state_dir: Path,
        export: ExportSettings,
        storage: StorageSettings | None = None,
        *,
        wall: Callable[[], float] = time.time,
        on_written: Callable[[], object] | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.export = export
        self.storage = storage
        self._wall = wall
        self._on_written = on_written
        self._wake = asyncio.Event()
        self._path = state_dir / STATE_FILE_NAME
        self._conn = samples_db.connect(self._path)
        self._conn.execute(JOBS_SCHEMA)

    @property
    def enabled(self) -> bool:
        """Whether runs are exported automatically (a directory is configured)."""
        return self.export.directory is not None

    def close(self) -> None:
        """Close the queue's connection."""
        self._conn.close()

    def on_run_end(self, run_id: int, runner: str = samples_db.DEFAULT_RUNNER) -> None:
        """Queue the run's exports (durably, before returning); never raises (logs instead)."""
        if not self.enabled:
            return
        now = self._wall()
        try:
            self._conn.executemany(
                "INSERT OR IGNORE INTO export_jobs "
                "(run_id, runner, format, state, next_at, created_at) "
                "VALUES (?, ?, ?, 'write', ?, ?)",
                [
                    (run_id, runner, fmt, now, datetime.now(UTC).isoformat())
                    for fmt in dict.fromkeys(self.export.formats)
                ],
            )
        except sqlite3.Error as exc:
            _LOGGER.error("export: run %s not queued for export: %s", run_id, exc)  # noqa: TRY400
            return
        self._wake.set()

    def jobs(self) -> list[Job]:
        """Every job in the queue, oldest first (for status and tests)."""
        rows = self._conn.execute(
            "SELECT id, run_id, runner, format, path, state, attempts FROM export_jobs ORDER BY id"
        ).fetchall()
        return [Job(*row) for row in rows]

    async def run(self) -> None:
        """Work through the queue until cancelled; apply retention at start and daily."""
        last_retention = -RETENTION_EVERY_S
        while True:
            if self.storage is not None and time.monotonic() - last_retention >= (
                RETENTION_EVERY_S
            ):
                last_retention = time.monotonic()
                await asyncio.to_thread(self._retention)
            await self.process_due()
            self._wake.clear()
            delay = self._next_delay()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def process_due(self) -> int:
        """Do every job that is due now; returns how many finished.

        Without a directory (the setting was removed since the jobs were queued) the jobs
        wait, untouched, for one to be configured again.
        """
        if not self.enabled:
            return 0
        finished = 0
        for job in self._due():
            try:
                done = await self._step(job)
            except Exception as exc:  # one bad job must not stop the daemon
                _LOGGER.exception("export: run %s (%s) failed unexpectedly", job.run_id, job.format)
                self._retry(job, f"unexpected {type(exc).__name__}: {exc}")
                done = False
            finished += done
        return finished

    def _retention(self) -> None:
        assert self.storage is not None  # noqa: S101 (checked by the caller)
        try:
            pruned = apply_retention(self.state_dir, self.storage, datetime.now(UTC))
        except StateStoreError as exc:
            _LOGGER.error("storage: retention not applied: %s", exc)  # noqa: TRY400
            return
        except Exception:  # retention must never stop the daemon
            _LOGGER.exception("storage: retention failed")
            return
        if any((pruned.samples, pruned.outbox, pruned.runs, pruned.jobs)):
            _LOGGER.info("storage: retention removed %s", pruned)

    def _due(self) -> list[Job]:
        rows = self._conn.execute(
            "SELECT id, run_id, runner, format, path, state, attempts FROM export_jobs "
            "WHERE state IN ('write', 'command') AND next_at <= ? ORDER BY id",
            (self._wall(),),
        ).fetchall()
        return [Job(*row) for row in rows]

    def _next_delay(self) -> float:
        if not self.enabled:
            return RETENTION_EVERY_S
        row = self._conn.execute(
            "SELECT MIN(next_at) FROM export_jobs WHERE state IN ('write', 'command')"
        ).fetchone()
        if row is None or row[0] is None:
            return RETENTION_EVERY_S
        return max(0.05, min(RETENTION_EVERY_S, float(row[0]) - self._wall()))

    async def _step(self, job: Job) -> bool:
        if job.state == "write":
            try:
                path = await asyncio.to_thread(self._produce, job)
            except ExportError as exc:
                _LOGGER.error("export: run %s: %s; nothing to export", job.run_id, exc)  # noqa: TRY400
                self._update(job.id, state="failed", error=str(exc))
                return False
            except (OSError, StateStoreError) as exc:
                self._retry(job, f"cannot write the {job.format} file: {exc}")
                return False
            _LOGGER.info("export: run %s written to %s", job.run_id, path)
            self._update(job.id, state="command", error=None, path=str(path))
            if self._on_written is not None:
                self._on_written()
            job = Job(job.id, job.run_id, job.runner, job.format, str(path), "command", 0)
        if not self.export.command:
            self._update(job.id, state="done", error=None)
            return True
        return await self._command(job)

    def _produce(self, job: Job) -> Path:
        """Load, encode and write one job's file (in a worker thread: no queue access)."""
        directory = self.export.directory
        assert directory is not None  # noqa: S101 (jobs exist only with a directory)
        run = load_run_export(self.state_dir, job.run_id)
        data = encode(
            run,
            job.format,
            manufacturer=self.export.fit_manufacturer,
            product=self.export.fit_product,
        )
        owned = RunExport(
            run.run_id, job.runner, run.treadmill, run.started_at, run.ended_at, run.samples
        )
        path = export_path(directory, owned, job.format)
        write_export(data, path)
        return path

    async def _command(self, job: Job) -> bool:
        assert job.path is not None  # noqa: S101 (set when the file was written)
        argv: Sequence[str] = [*self.export.command, job.path]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            self._retry(job, f"cannot start {argv[0]!r}: {exc.strerror or exc}")
            return False
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT_S):
                _, stderr = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            self._retry(job, f"{argv[0]!r} ran over {COMMAND_TIMEOUT_S:g} s")
            return False
        if process.returncode != 0:
            tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            self._retry(job, f"{argv[0]!r} exited with {process.returncode}: {tail[0]}")
            return False
        _LOGGER.info("export: %s done for %s", argv[0], job.path)
        self._update(job.id, state="done", error=None)
        return True

    def _retry(self, job: Job, error: str) -> None:
        _LOGGER.warning(
            "export: run %s (%s): %s; trying again in %g s",
            job.run_id,
            job.format,
            error,
            self.export.retry_s,
        )
        self._conn.execute(
            "UPDATE export_jobs SET attempts = attempts + 1, next_at = ?, last_error = ? "
            "WHERE id = ?",
            (self._wall() + self.export.retry_s, error, job.id),
        )

    def _update(
        self, job_id: int, *, state: str, error: str | None, path: str | None = None
    ) -> None:
        self._conn.execute(
            "UPDATE export_jobs SET state = ?, last_error = ?, path = COALESCE(?, path), "
            "next_at = ? WHERE id = ?",
            (state, error, path, self._wall(), job_id),
        )

"""I/O. APScheduler 3's job store on the standard library's `sqlite3`.

APScheduler's own SQLite store goes through SQLAlchemy, which is about 12 MB of resident
memory and 130 ms of start-up for a table of a few rows. This store keeps the same table
(`apscheduler_jobs`: `id`, `next_run_time` as a UTC timestamp, `job_state` as a pickle of
the job's state), so a `jobs.sqlite` written by either is read by the other.

The scheduler calls it from the event loop's thread only. It shares the connection of the
`PromptScheduler` that owns it (autocommit: every statement is its own transaction), which
also closes it. A job whose stored state cannot be restored is logged and removed, as
APScheduler's stores do, so one bad row cannot stop the others from firing.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
from typing import TYPE_CHECKING, Any

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["SQLiteJobStore"]

_LOGGER = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS apscheduler_jobs ("
    "id VARCHAR(191) NOT NULL PRIMARY KEY, next_run_time FLOAT, job_state BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_apscheduler_jobs_next_run_time "
    "ON apscheduler_jobs (next_run_time)",
)
_SELECT = "SELECT id, job_state FROM apscheduler_jobs"


class SQLiteJobStore(BaseJobStore):  # type: ignore[misc] # APScheduler has no type hints
    """Jobs in the `apscheduler_jobs` table of an open SQLite connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        """Use `connection` (autocommit, owned and closed by the caller)."""
        super().__init__()
        self._conn = connection

    def start(self, scheduler: Any, alias: str) -> None:  # noqa: ANN401 - APScheduler's
        """Create the table if the file has none yet."""
        super().start(scheduler, alias)
        for statement in _SCHEMA:
            self._conn.execute(statement)

    def lookup_job(self, job_id: str) -> Job | None:
        """The job `job_id`, or None."""
        row = self._conn.execute("SELECT job_state FROM apscheduler_jobs WHERE id = ?", (job_id,))
        found = row.fetchone()
        return None if found is None else self._restore(found[0])

    def get_due_jobs(self, now: datetime) -> list[Job]:
        """Jobs due at or before `now`, soonest first."""
        due = datetime_to_utc_timestamp(now)
        return self._restore_all(
            self._conn.execute(
                _SELECT + " WHERE next_run_time <= ? ORDER BY next_run_time", (due,)
            ).fetchall()
        )

    def get_next_run_time(self) -> datetime | None:
        """When the soonest job is due (None: no job is scheduled)."""
        row = self._conn.execute(
            "SELECT next_run_time FROM apscheduler_jobs WHERE next_run_time IS NOT NULL "
            "ORDER BY next_run_time LIMIT 1"
        ).fetchone()
        return None if row is None else utc_timestamp_to_datetime(row[0])

    def get_all_jobs(self) -> list[Job]:
        """Every job: scheduled ones soonest first, then paused ones."""
        rows = self._conn.execute(_SELECT + " ORDER BY next_run_time").fetchall()
        jobs = self._restore_all(rows)
        self._fix_paused_jobs_sorting(jobs)
        return jobs

    def add_job(self, job: Job) -> None:
        """Store a new job.

        Raises:
            ConflictingIdError: A job with that id is stored already.
        """
        try:
            self._conn.execute(
                "INSERT INTO apscheduler_jobs (id, next_run_time, job_state) VALUES (?, ?, ?)",
                (job.id, datetime_to_utc_timestamp(job.next_run_time), _pickled(job)),
            )
        except sqlite3.IntegrityError as exc:
            raise ConflictingIdError(job.id) from exc

    def update_job(self, job: Job) -> None:
        """Replace a stored job.

        Raises:
            JobLookupError: No job with that id is stored.
        """
        cursor = self._conn.execute(
            "UPDATE apscheduler_jobs SET next_run_time = ?, job_state = ? WHERE id = ?",
            (datetime_to_utc_timestamp(job.next_run_time), _pickled(job), job.id),
        )
        if cursor.rowcount == 0:
            raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        """Remove a stored job.

        Raises:
            JobLookupError: No job with that id is stored.
        """
        cursor = self._conn.execute("DELETE FROM apscheduler_jobs WHERE id = ?", (job_id,))
        if cursor.rowcount == 0:
            raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        """Remove every stored job."""
        self._conn.execute("DELETE FROM apscheduler_jobs")

    def shutdown(self) -> None:
        """Nothing to release: the connection is the owner's."""

    def _restore(self, state: bytes) -> Job:
        job_state = pickle.loads(state)  # noqa: S301 - written by this store, in our state dir
        job_state["jobstore"] = self
        job: Job = Job.__new__(Job)
        job.__setstate__(job_state)
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job

    def _restore_all(self, rows: list[tuple[str, bytes]]) -> list[Job]:
        jobs: list[Job] = []
        broken: list[str] = []
        for job_id, state in rows:
            try:
                jobs.append(self._restore(state))
            except Exception:
                _LOGGER.exception("scheduler: job %r cannot be restored; removing it", job_id)
                broken.append(job_id)
        if broken:
            self._conn.executemany(
                "DELETE FROM apscheduler_jobs WHERE id = ?", [(i,) for i in broken]
            )
        return jobs


def _pickled(job: Job) -> bytes:
    return pickle.dumps(job.__getstate__(), pickle.HIGHEST_PROTOCOL)

"""I/O. Persistent one-off prompts (hydration reminders, check-ins) that survive restarts.

APScheduler 3 (`AsyncIOScheduler`) keeps the jobs in SQLite (`jobs.sqlite`, through
`jobstore.SQLiteJobStore` on the standard library's sqlite3), in UTC, with `coalesce=True`,
`max_instances=1` and a misfire grace (default 30 minutes: a reminder half an hour late still
helps, one a day late does not). A job whose time passed while the daemon was down fires
once on start if within the grace, else it is recorded as missed and dropped.

Delivery is idempotent by key. APScheduler removes a date job from its store when it hands
it to the executor, so a crash can at worst lose a prompt in flight, never repeat it. To
close that gap too, a `prompt_deliveries` table in the same file records each key as
*fired* before the callback runs and *delivered* after it returned: on start, prompts fired
but not delivered are delivered again, and a key already delivered is neither delivered nor
scheduled again for 30 days (keys name one occurrence, e.g. `"run-42-hydration"`). A
callback that is itself idempotent by key (it receives the key) therefore sees each prompt
effectively once.

If the job database cannot be written (a full disk), a prompt is kept in memory instead and
still fires on time while the daemon runs; the error is logged, and a restart before then
loses only that prompt.

Job callables must be importable by reference with picklable arguments, so the stored job
is `fire_prompt(scheduler_name, key, payload)`, which finds the live `PromptScheduler` in a
module-level registry by name.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from treadwell.daemon.jobstore import SQLiteJobStore
from treadwell.drivers.errors import TreadwellError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine
    from pathlib import Path

_LOGGER = logging.getLogger(__name__)

DEFAULT_MISFIRE_GRACE_S = 1800
REMEMBER_DELIVERED = timedelta(days=30)
"""How long a delivered or missed key is remembered (and refused if scheduled again)."""
_REGISTRY: dict[str, PromptScheduler] = {}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS prompt_deliveries (
    key TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    due_at TEXT NOT NULL,
    fired_at TEXT,
    delivered_at TEXT,
    missed_at TEXT
)
"""


class SchedulerError(TreadwellError):
    """A prompt cannot be scheduled (bad time, unusable job database)."""


async def fire_prompt(scheduler_name: str, key: str, payload: str) -> None:
    """The stored job: hand a due prompt to the live scheduler of that name.

    Args:
        scheduler_name: Which `PromptScheduler` (by `name`) owns the prompt.
        key: The prompt's key.
        payload: The prompt's payload text.
    """
    scheduler = _REGISTRY.get(scheduler_name)
    if scheduler is None and len(_REGISTRY) == 1:
        # The name changed since the job was stored (say, a new host name in the client
        # id); the only live scheduler is the one that loaded the job.
        scheduler = next(iter(_REGISTRY.values()))
    if scheduler is None:
        _LOGGER.error("prompt %s is due but scheduler %r is not running", key, scheduler_name)
        return
    await scheduler.deliver(key, payload)


def _advice(exc: BaseException, path: Path) -> str:
    """One line naming the file and what to do, as the state database's errors do."""
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return (
            f"{path} is not a usable job database ({text}); move it aside to start afresh "
            "(the reminders and check-ins it holds are then not sent)"
        )
    return f"cannot use the job database {path}: {text}"


def _utc_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class PromptScheduler:
    """Schedules prompts by key and calls `on_due(key, payload)` once when each is due."""

    def __init__(
        self,
        db_path: Path,
        on_due: Callable[[str, str], Awaitable[None]],
        *,
        misfire_grace_s: int = DEFAULT_MISFIRE_GRACE_S,
        name: str = "prompts",
        on_missed: Callable[[str, datetime], None] | None = None,
    ) -> None:
        """Prepare (not start) the scheduler.

        Args:
            db_path: The job database file, normally `<state_dir>/jobs.sqlite`.
            on_due: Awaited with (key, payload) when a prompt is due.
            misfire_grace_s: How late a prompt may still fire; stored with each job when it
                is scheduled (changing it later does not affect stored jobs).
            name: Distinguishes schedulers in one process (part of every stored job).
            on_missed: Called with (key, due time) for a prompt dropped as too late.
        """
        self.db_path = db_path
        self.name = name
        self._on_due = on_due
        self._on_missed = on_missed
        self._grace = misfire_grace_s
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_memory: dict[str, asyncio.TimerHandle] = {}  # prompts the store refused
        self._cancelled: set[str] = set()  # cancelled while the store refused to forget them
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            self._db = sqlite3.connect(db_path, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 5000")
            self._check_intact()
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            if getattr(self, "_db", None) is not None:
                self._db.close()
            raise SchedulerError(_advice(exc, db_path)) from exc
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            jobstores={"default": SQLiteJobStore(self._db)},
            job_defaults={
                "misfire_grace_time": misfire_grace_s,
                "coalesce": True,
                "max_instances": 1,
            },
        )
        self._scheduler.add_listener(self._job_missed, EVENT_JOB_MISSED)

    def _check_intact(self) -> None:
        """Refuse a damaged file now, rather than with a traceback once jobs are loaded."""
        problems = [str(row[0]) for row in self._db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            msg = f"database disk image is malformed: {'; '.join(problems)}"
            raise sqlite3.DatabaseError(msg)

    def start(self) -> None:
        """Start inside the running event loop; catches up on due and undelivered prompts."""
        if _REGISTRY.get(self.name) not in (None, self):
            raise SchedulerError(f"a scheduler named {self.name!r} is already running")
        _REGISTRY[self.name] = self
        self._forget_old()
        self._scheduler.start()
        for key, payload in self._undelivered():
            _LOGGER.warning("prompt %s fired before a crash but was not delivered: again", key)
            self._spawn(self.deliver(key, payload))

    def shutdown(self) -> None:
        """Stop firing prompts (pending ones stay stored) and close the database."""
        for timer in self._in_memory.values():
            timer.cancel()
        self._in_memory.clear()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if _REGISTRY.get(self.name) is self:
            del _REGISTRY[self.name]
        self._db.close()

    def schedule(self, key: str, at: datetime, payload: str) -> bool:
        """Schedule (or reschedule) the prompt `key` for `at`.

        Args:
            key: Names one occurrence of a prompt; scheduling it again replaces it.
            at: When it is due (timezone-aware).
            payload: Passed to `on_due` as is.

        Returns:
            False if that key was already delivered (nothing scheduled), True otherwise.

        Raises:
            SchedulerError: `at` has no timezone or the key is empty.
        """
        if at.tzinfo is None:
            raise SchedulerError(f"prompt {key!r}: naive time {at!r}, give a timezone")
        if not key:
            raise SchedulerError("a prompt needs a non-empty key")
        if self._delivered(key):
            _LOGGER.info("prompt %s was already delivered: not scheduling it again", key)
            return False
        self._cancelled.discard(key)
        try:
            self._store(key, at, payload)
        except sqlite3.Error as exc:
            _LOGGER.error(  # noqa: TRY400 (the reason is the whole story)
                "prompt %s kept in memory only (it fires if the daemon is still running "
                "then): cannot store it in %s: %s",
                key,
                self.db_path,
                exc,
            )
            self._keep_in_memory(key, at, payload)
        return True

    def _store(self, key: str, at: datetime, payload: str) -> None:
        self._db.execute(
            "INSERT INTO prompt_deliveries (key, payload, due_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET payload = excluded.payload, "
            "due_at = excluded.due_at, fired_at = NULL, missed_at = NULL",
            (key, payload, _utc_text(at)),
        )
        self._scheduler.add_job(
            fire_prompt,
            trigger="date",
            run_date=at.astimezone(UTC),
            args=(self.name, key, payload),
            id=key,
            name=key,
            replace_existing=True,
            misfire_grace_time=self._grace,
            coalesce=True,
            max_instances=1,
        )
        old = self._in_memory.pop(key, None)
        if old is not None:
            old.cancel()

    def _keep_in_memory(self, key: str, at: datetime, payload: str) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, (at - datetime.now(UTC)).total_seconds())
        old = self._in_memory.pop(key, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self._in_memory.pop(key, None)
            self._spawn(self.deliver(key, payload))

        self._in_memory[key] = loop.call_later(delay, fire)

    def cancel(self, key: str) -> bool:
        """Cancel the pending prompt `key`; returns whether there was one."""
        timer = self._in_memory.pop(key, None)
        if timer is not None:
            timer.cancel()
        try:
            job = self._scheduler.get_job(key)
            if job is None:
                return timer is not None
            job.remove()
            self._db.execute(
                "DELETE FROM prompt_deliveries WHERE key = ? AND fired_at IS NULL", (key,)
            )
        except sqlite3.Error as exc:
            # It stays stored; remember here that it must not fire while we run.
            _LOGGER.error("prompt %s: cannot cancel it in %s: %s", key, self.db_path, exc)  # noqa: TRY400
            self._cancelled.add(key)
        return True

    def pending(self) -> list[tuple[str, datetime]]:
        """The scheduled prompts as (key, due time in UTC), soonest first."""
        # Before start() jobs have no next_run_time yet; a date trigger knows its time.
        jobs = [
            (job.id, getattr(job, "next_run_time", None) or job.trigger.run_date)
            for job in self._scheduler.get_jobs()
        ]
        return sorted(((key, at.astimezone(UTC)) for key, at in jobs), key=lambda item: item[1])

    def missed(self) -> list[tuple[str, datetime]]:
        """Prompts dropped because they were more than the grace late, as (key, due time)."""
        rows = self._db.execute(
            "SELECT key, due_at FROM prompt_deliveries WHERE missed_at IS NOT NULL ORDER BY due_at"
        ).fetchall()
        return [(key, datetime.fromisoformat(due)) for key, due in rows]

    def delivered(self) -> list[str]:
        """Keys of the prompts delivered so far, in delivery order."""
        rows = self._db.execute(
            "SELECT key FROM prompt_deliveries WHERE delivered_at IS NOT NULL "
            "ORDER BY delivered_at, key"
        ).fetchall()
        return [key for (key,) in rows]

    async def deliver(self, key: str, payload: str) -> None:
        """Deliver a due prompt once: mark it fired, await `on_due`, mark it delivered.

        A database that cannot record the delivery (a full disk) does not stop it: the
        prompt is delivered all the same and the error logged.
        """
        if key in self._cancelled:
            _LOGGER.info("prompt %s was cancelled: skipped", key)
            self._cancelled.discard(key)
            return
        if self._delivered(key):
            _LOGGER.info("prompt %s already delivered: skipped", key)
            return
        now = _utc_text(datetime.now(UTC))
        self._record(
            key,
            "INSERT INTO prompt_deliveries (key, payload, due_at, fired_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET fired_at = excluded.fired_at",
            (key, payload, now, now),
        )
        await self._on_due(key, payload)
        self._record(
            key,
            "UPDATE prompt_deliveries SET delivered_at = ? WHERE key = ?",
            (_utc_text(datetime.now(UTC)), key),
        )

    def _record(self, key: str, sql: str, params: tuple[str, ...]) -> None:
        try:
            self._db.execute(sql, params)
        except sqlite3.Error as exc:
            _LOGGER.error("prompt %s: delivery not recorded in %s: %s", key, self.db_path, exc)  # noqa: TRY400

    def _forget_old(self) -> None:
        cutoff = _utc_text(datetime.now(UTC) - REMEMBER_DELIVERED)
        self._db.execute(
            "DELETE FROM prompt_deliveries WHERE delivered_at < ? OR missed_at < ?",
            (cutoff, cutoff),
        )

    def _delivered(self, key: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM prompt_deliveries WHERE key = ? AND delivered_at IS NOT NULL", (key,)
        ).fetchone()
        return row is not None

    def _undelivered(self) -> list[tuple[str, str]]:
        rows = self._db.execute(
            "SELECT key, payload FROM prompt_deliveries "
            "WHERE fired_at IS NOT NULL AND delivered_at IS NULL ORDER BY fired_at"
        ).fetchall()
        return [(str(key), str(payload)) for key, payload in rows]

    def _job_missed(self, event: JobExecutionEvent) -> None:
        key = str(event.job_id)
        due: datetime = event.scheduled_run_time
        _LOGGER.warning("prompt %s was due at %s, too late to deliver now: dropped", key, due)
        self._db.execute(
            "INSERT INTO prompt_deliveries (key, payload, due_at, missed_at) VALUES (?, '', ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET missed_at = excluded.missed_at",
            (key, _utc_text(due), _utc_text(datetime.now(UTC))),
        )
        if self._on_missed is not None:
            self._on_missed(key, due)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

"""The sqlite3 job store keeps APScheduler's contract and reads the files its own store wrote."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from tests.daemon.test_scheduler import Recorder, run_async, wait_until
from treadwell.daemon.jobstore import SQLiteJobStore
from treadwell.daemon.scheduler import PromptScheduler, fire_prompt

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def noop() -> None:
    """A job's callable (stored by reference)."""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[AsyncIOScheduler, SQLiteJobStore]]:
    """A paused scheduler on a fresh file: jobs are stored, none runs."""
    conn = sqlite3.connect(tmp_path / "jobs.sqlite", isolation_level=None)
    jobs = SQLiteJobStore(conn)
    loop = asyncio.new_event_loop()  # never run: a paused scheduler only stores
    scheduler = AsyncIOScheduler(timezone=UTC, jobstores={"default": jobs}, event_loop=loop)
    scheduler.start(paused=True)
    try:
        yield scheduler, jobs
    finally:
        scheduler.shutdown(wait=False)
        conn.close()
        loop.close()


def add(scheduler: AsyncIOScheduler, job_id: str, at: datetime) -> None:
    scheduler.add_job(noop, "date", run_date=at, id=job_id)


def test_jobs_come_back_soonest_first_and_due_ones_by_time(
    store: tuple[AsyncIOScheduler, SQLiteJobStore],
) -> None:
    scheduler, jobs = store
    for job_id, minutes in (("late", 30), ("early", 10), ("middle", 20)):
        add(scheduler, job_id, T0 + timedelta(minutes=minutes))

    assert [job.id for job in jobs.get_all_jobs()] == ["early", "middle", "late"]
    assert [job.id for job in jobs.get_due_jobs(T0 + timedelta(minutes=20))] == [
        "early",
        "middle",
    ]
    assert jobs.get_next_run_time() == T0 + timedelta(minutes=10)
    found = jobs.lookup_job("middle")
    assert found is not None
    assert found.next_run_time == T0 + timedelta(minutes=20)
    assert jobs.lookup_job("absent") is None


def test_a_paused_job_comes_after_the_scheduled_ones(
    store: tuple[AsyncIOScheduler, SQLiteJobStore],
) -> None:
    scheduler, jobs = store
    add(scheduler, "a", T0 + timedelta(minutes=5))
    add(scheduler, "b", T0 + timedelta(minutes=1))
    scheduler.pause_job("a")

    assert [job.id for job in jobs.get_all_jobs()] == ["b", "a"]
    assert jobs.get_next_run_time() == T0 + timedelta(minutes=1)


def test_updating_removing_and_conflicts_follow_apscheduler(
    store: tuple[AsyncIOScheduler, SQLiteJobStore],
) -> None:
    scheduler, jobs = store
    add(scheduler, "a", T0)
    with pytest.raises(ConflictingIdError):
        jobs.add_job(jobs.lookup_job("a"))
    scheduler.reschedule_job("a", trigger="date", run_date=T0 + timedelta(hours=1))
    assert jobs.get_next_run_time() == T0 + timedelta(hours=1)
    jobs.remove_job("a")
    with pytest.raises(JobLookupError):
        jobs.remove_job("a")
    gone = scheduler.add_job(noop, "date", run_date=T0, id="gone")
    jobs.remove_all_jobs()
    with pytest.raises(JobLookupError):
        jobs.update_job(gone)
    assert jobs.get_all_jobs() == []
    assert jobs.get_next_run_time() is None


def test_a_row_that_cannot_be_restored_is_removed_and_the_rest_still_load(
    store: tuple[AsyncIOScheduler, SQLiteJobStore], tmp_path: Path
) -> None:
    scheduler, jobs = store
    add(scheduler, "good", T0)
    with sqlite3.connect(tmp_path / "jobs.sqlite") as conn:
        conn.execute(
            "INSERT INTO apscheduler_jobs VALUES ('bad', ?, ?)", (T0.timestamp(), b"not a pickle")
        )

    assert [job.id for job in jobs.get_all_jobs()] == ["good"]
    with sqlite3.connect(tmp_path / "jobs.sqlite") as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM apscheduler_jobs")]
    assert ids == ["good"]


def test_a_prompt_stored_by_apschedulers_own_sqlite_store_still_fires(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    due = datetime.now(UTC) + timedelta(seconds=0.5)
    # What an earlier release left behind: the same job, written through SQLAlchemy.
    loop = asyncio.new_event_loop()
    legacy = AsyncIOScheduler(
        timezone=UTC,
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{db}")},
        event_loop=loop,
    )
    legacy.start(paused=True)
    legacy.add_job(
        fire_prompt,
        "date",
        run_date=due,
        id="run-1-hydration",
        args=["prompts", "run-1-hydration", "drink water"],
        misfire_grace_time=1800,
    )
    legacy.shutdown(wait=False)
    loop.close()

    async def scenario() -> list[tuple[str, str]]:
        recorder = Recorder()
        scheduler = PromptScheduler(db, recorder)
        scheduler.start()
        try:
            await wait_until(lambda: bool(recorder.calls))
            await asyncio.sleep(0.2)
        finally:
            scheduler.shutdown()
        return recorder.calls

    assert run_async(scenario()) == [("run-1-hydration", "drink water")]


def test_apschedulers_own_store_reads_what_this_store_wrote(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"

    async def scenario() -> None:
        scheduler = PromptScheduler(db, Recorder())
        scheduler.start()
        try:
            assert scheduler.schedule("run-2-checkin", T0, "how is your back?")
        finally:
            scheduler.shutdown()

    run_async(scenario())
    legacy = SQLAlchemyJobStore(url=f"sqlite:///{db}")
    loop = asyncio.new_event_loop()
    reader = AsyncIOScheduler(timezone=UTC, jobstores={"default": legacy}, event_loop=loop)
    reader.start(paused=True)
    try:
        (job,) = legacy.get_all_jobs()
    finally:
        reader.shutdown(wait=False)
        loop.close()
    assert job.next_run_time == T0
    assert list(job.args)[1:] == ["run-2-checkin", "how is your back?"]

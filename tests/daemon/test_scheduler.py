"""Persistent prompts: scheduling, cancelling, and firing once across kill -9 and restarts."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from treadwell.daemon.scheduler import PromptScheduler, SchedulerError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run on a fresh loop in a worker thread (keeps pytest-asyncio's main loop untouched)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, key: str, payload: str) -> None:
        self.calls.append((key, payload))


def soon(seconds: float = 0.2) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_a_prompt_fires_once_at_its_time_and_leaves_the_store(tmp_path: Path) -> None:
    async def scenario() -> None:
        recorder = Recorder()
        scheduler = PromptScheduler(tmp_path / "jobs.sqlite", recorder)
        scheduler.start()
        try:
            assert scheduler.schedule("run-1-hydration", soon(), "drink water")
            assert [key for key, _ in scheduler.pending()] == ["run-1-hydration"]
            await wait_until(lambda: bool(recorder.calls))
            await asyncio.sleep(0.3)
            assert recorder.calls == [("run-1-hydration", "drink water")]
            assert scheduler.pending() == []
            assert scheduler.delivered() == ["run-1-hydration"]
        finally:
            scheduler.shutdown()

    run_async(scenario())


def test_pending_is_soonest_first_in_utc_and_rescheduling_replaces(tmp_path: Path) -> None:
    async def scenario() -> None:
        scheduler = PromptScheduler(tmp_path / "jobs.sqlite", Recorder())
        scheduler.start()
        try:
            later = datetime(2100, 1, 2, 12, 0, tzinfo=UTC)
            sooner = datetime(2100, 1, 1, 13, 0, tzinfo=UTC)
            scheduler.schedule("b", later, "x")
            scheduler.schedule("a", later, "x")
            scheduler.schedule("a", sooner.astimezone(), "y")  # local time, same instant
            assert scheduler.pending() == [("a", sooner), ("b", later)]
            assert all(at.tzinfo == UTC for _, at in scheduler.pending())
        finally:
            scheduler.shutdown()

    run_async(scenario())


def test_cancel_removes_a_pending_prompt(tmp_path: Path) -> None:
    async def scenario() -> None:
        recorder = Recorder()
        scheduler = PromptScheduler(tmp_path / "jobs.sqlite", recorder)
        scheduler.start()
        try:
            scheduler.schedule("checkin", soon(0.3), "how is your back?")
            assert scheduler.cancel("checkin") is True
            assert scheduler.cancel("checkin") is False
            assert scheduler.pending() == []
            await asyncio.sleep(0.6)
            assert recorder.calls == []
        finally:
            scheduler.shutdown()

    run_async(scenario())


def test_a_delivered_key_is_not_scheduled_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        recorder = Recorder()
        scheduler = PromptScheduler(tmp_path / "jobs.sqlite", recorder)
        scheduler.start()
        try:
            scheduler.schedule("run-7-stretch", soon(0.05), "stretch")
            await wait_until(lambda: bool(recorder.calls))
            await wait_until(lambda: scheduler.delivered() == ["run-7-stretch"])
            assert scheduler.schedule("run-7-stretch", soon(0.05), "stretch") is False
            await scheduler.deliver("run-7-stretch", "stretch")
            await asyncio.sleep(0.3)
            assert recorder.calls == [("run-7-stretch", "stretch")]
        finally:
            scheduler.shutdown()

    run_async(scenario())


def test_prompts_survive_a_clean_restart(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    at = datetime(2100, 5, 1, 8, 0, tzinfo=UTC)

    async def first() -> None:
        scheduler = PromptScheduler(db, Recorder())
        scheduler.start()
        scheduler.schedule("later", at, "p")
        scheduler.shutdown()

    async def second() -> list[tuple[str, datetime]]:
        scheduler = PromptScheduler(db, Recorder())
        scheduler.start()
        try:
            return scheduler.pending()
        finally:
            scheduler.shutdown()

    run_async(first())
    assert run_async(second()) == [("later", at)]


@pytest.mark.parametrize(
    ("key", "at", "message"),
    [
        ("k", datetime(2100, 1, 1), "naive"),  # noqa: DTZ001
        ("", datetime(2100, 1, 1, tzinfo=UTC), "non-empty key"),
    ],
)
def test_bad_prompts_are_refused(tmp_path: Path, key: str, at: datetime, message: str) -> None:
    async def scenario() -> None:
        scheduler = PromptScheduler(tmp_path / "jobs.sqlite", Recorder())
        scheduler.start()
        try:
            with pytest.raises(SchedulerError, match=message):
                scheduler.schedule(key, at, "p")
            assert scheduler.pending() == []
        finally:
            scheduler.shutdown()

    run_async(scenario())


def test_two_live_schedulers_may_not_share_a_name(tmp_path: Path) -> None:
    async def scenario() -> None:
        one = PromptScheduler(tmp_path / "a.sqlite", Recorder())
        two = PromptScheduler(tmp_path / "b.sqlite", Recorder())
        one.start()
        try:
            with pytest.raises(SchedulerError, match="already running"):
                two.start()
        finally:
            one.shutdown()
            two.shutdown()

    run_async(scenario())


def test_an_unusable_job_database_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SchedulerError, match="cannot use the job database"):
        PromptScheduler(blocker / "jobs.sqlite", Recorder())


def test_a_failed_delivery_is_retried_on_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    attempts: list[str] = []

    async def failing(key: str, payload: str) -> None:
        attempts.append(f"{key}:{payload}")
        raise RuntimeError("broker away")

    async def first() -> None:
        scheduler = PromptScheduler(db, failing)
        scheduler.start()
        scheduler.schedule("k", soon(0.05), "p")
        await wait_until(lambda: bool(attempts))
        await asyncio.sleep(0.1)
        scheduler.shutdown()

    recorder = Recorder()

    async def second() -> None:
        scheduler = PromptScheduler(db, recorder)
        scheduler.start()
        await wait_until(lambda: bool(recorder.calls))
        await asyncio.sleep(0.2)
        scheduler.shutdown()

    run_async(first())
    run_async(second())
    assert attempts == ["k:p"]
    assert recorder.calls == [("k", "p")]


# -- kill -9 with real processes ----------------------------------------------------------------

CHILD = """
import asyncio, os, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from treadwell.daemon.scheduler import PromptScheduler

db, log, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
grace, delay = int(sys.argv[4]), float(sys.argv[5])

def note(line):
    with log.open("a") as f:
        f.write(line + "\\n")
        f.flush()
        os.fsync(f.fileno())

async def on_due(key, payload):
    if mode == "crash-in-delivery":
        os._exit(9)
    note(f"fired {key} {payload}")

def on_missed(key, due):
    note(f"missed {key}")

async def main():
    scheduler = PromptScheduler(Path(db), on_due, misfire_grace_s=grace, on_missed=on_missed)
    scheduler.start()
    if mode in ("schedule", "crash-in-delivery"):
        scheduler.schedule("k1", datetime.now(UTC) + timedelta(seconds=delay), "drink")
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


class World:
    """The job database and the log of what each incarnation of the daemon did."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "jobs.sqlite"
        self.log = tmp_path / "fired.log"
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, mode: str = "resume", *, grace: int = 1800, delay: float = 0.0) -> None:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                str(self.db),
                str(self.log),
                mode,
                str(grace),
                str(delay),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"

    def kill(self) -> None:
        proc = self.procs[-1]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def wait_for(self, line: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while line not in self.lines():
            assert time.monotonic() < deadline, f"{line!r} never came; log: {self.lines()}"
            time.sleep(0.05)

    def stored_jobs(self) -> int:
        with sqlite3.connect(self.db) as conn:
            return int(conn.execute("SELECT count(*) FROM apscheduler_jobs").fetchone()[0])

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = World(tmp_path)
    try:
        yield world
    finally:
        world.close()


def _sleep_past(seconds: float) -> None:
    time.sleep(seconds)


@pytest.mark.reliability
@pytest.mark.slow
def test_killed_before_the_prompt_is_due_it_fires_exactly_once_after_restart(
    world: World,
) -> None:
    world.start("schedule", delay=2.0)
    world.kill()
    assert world.stored_jobs() == 1
    world.start()
    world.wait_for("fired k1 drink")
    _sleep_past(0.5)
    world.kill()
    world.start()  # a third life: nothing left to fire
    _sleep_past(1.0)
    world.kill()
    assert world.lines() == ["fired k1 drink"]
    assert world.stored_jobs() == 0


@pytest.mark.reliability
@pytest.mark.slow
def test_down_past_the_due_time_within_grace_it_fires_once_late(world: World) -> None:
    world.start("schedule", delay=1.0, grace=1800)
    world.kill()
    _sleep_past(2.0)
    assert world.lines() == []
    world.start()
    world.wait_for("fired k1 drink")
    _sleep_past(0.5)
    world.kill()
    assert world.lines() == ["fired k1 drink"]


@pytest.mark.reliability
@pytest.mark.slow
def test_down_longer_than_the_grace_it_is_reported_missed_not_fired(
    world: World, tmp_path: Path
) -> None:
    world.start("schedule", delay=1.0, grace=1)
    world.kill()
    _sleep_past(3.5)
    world.start(grace=1)
    world.wait_for("missed k1")
    _sleep_past(0.5)
    world.kill()
    assert world.lines() == ["missed k1"]
    assert world.stored_jobs() == 0

    async def missed() -> list[str]:
        scheduler = PromptScheduler(tmp_path / "jobs.sqlite", Recorder())
        try:
            return [key for key, _ in scheduler.missed()]
        finally:
            scheduler.shutdown()

    assert run_async(missed()) == ["k1"]


@pytest.mark.reliability
@pytest.mark.slow
def test_a_crash_during_delivery_delivers_once_on_restart(world: World) -> None:
    world.start("crash-in-delivery", delay=0.5)
    proc = world.procs[-1]
    assert proc.wait(timeout=30) == 9  # died inside on_due, after APScheduler removed the job
    assert world.stored_jobs() == 0
    world.start()
    world.wait_for("fired k1 drink")
    _sleep_past(0.5)
    world.kill()
    world.start()
    _sleep_past(1.0)
    world.kill()
    assert world.lines() == ["fired k1 drink"]


def test_pending_works_before_start(tmp_path: Path) -> None:
    at = datetime(2100, 1, 1, tzinfo=UTC)
    scheduler = PromptScheduler(tmp_path / "jobs.sqlite", Recorder())
    try:
        scheduler.schedule("early", at, "p")
        assert scheduler.pending() == [("early", at)]
    finally:
        scheduler.shutdown()


def test_delivered_keys_are_forgotten_after_a_month(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"
    scheduler = PromptScheduler(db, Recorder())
    scheduler.shutdown()
    old = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    recent = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO prompt_deliveries (key, payload, due_at, delivered_at) VALUES (?,?,?,?)",
            [("old", "p", old, old), ("recent", "p", recent, recent)],
        )

    async def scenario() -> list[str]:
        again = PromptScheduler(db, Recorder())
        again.start()
        try:
            return again.delivered()
        finally:
            again.shutdown()

    assert run_async(scenario()) == ["recent"]


def test_a_prompt_stored_under_an_old_scheduler_name_still_fires(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite"

    async def before() -> None:
        old = PromptScheduler(db, Recorder(), name="treadwell-oldhost")
        old.start()
        old.schedule("k", soon(0.3), "p")
        old.shutdown()

    run_async(before())
    recorder = Recorder()

    async def scenario() -> None:
        scheduler = PromptScheduler(db, recorder, name="treadwell-newhost")
        scheduler.start()
        try:
            await wait_until(lambda: bool(recorder.calls))
        finally:
            scheduler.shutdown()

    run_async(scenario())
    assert recorder.calls == [("k", "p")]

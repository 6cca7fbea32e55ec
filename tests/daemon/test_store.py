"""The SQLite state store: round trips, migrations, errors that lose nothing, crash safety."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treadwell.daemon.store import (
    MIGRATIONS,
    RunStatus,
    StateStoreError,
    Store,
    migrate,
)

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.in_dir(tmp_path / "state")


def test_a_new_store_creates_its_directory_and_schema(tmp_path: Path) -> None:
    with Store.in_dir(tmp_path / "a" / "b") as store:
        assert store.path == tmp_path / "a" / "b" / "treadwell.sqlite"
        assert store.schema_version == len(MIGRATIONS)
    with sqlite3.connect(tmp_path / "a" / "b" / "treadwell.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@dataclass(frozen=True)
class Summary:
    distance_m: float
    ended_at: datetime
    duration: timedelta


def test_a_run_from_start_to_finish(store: Store) -> None:
    run_id = store.start_run("garage", at=T0)
    assert store.open_run("garage") == store.run(run_id)
    store.finish_run(
        run_id,
        Summary(5000.0, T0 + timedelta(minutes=30), timedelta(minutes=30)),
        at=T0 + timedelta(minutes=30),
    )
    [run] = store.runs()
    assert run.id == run_id
    assert run.status is RunStatus.FINISHED
    assert run.started_at == T0
    assert run.ended_at == T0 + timedelta(minutes=30)
    assert run.summary == {
        "distance_m": 5000.0,
        "ended_at": "2026-03-01T07:30:00+00:00",
        "duration": 1800.0,
    }
    assert store.open_run("garage") is None


def test_runs_are_newest_first_and_limited(store: Store) -> None:
    ids = [store.start_run("t", at=T0 + timedelta(days=day)) for day in range(5)]
    assert [run.id for run in store.runs(3)] == ids[::-1][:3]


def test_starting_again_closes_the_treadmills_open_run(store: Store) -> None:
    first = store.start_run("t", at=T0)
    store.touch_run(first, at=T0 + timedelta(minutes=5))
    other = store.start_run("other", at=T0)
    second = store.start_run("t", at=T0 + timedelta(hours=1))
    closed = store.run(first)
    assert closed is not None
    assert closed.status is RunStatus.INTERRUPTED
    assert closed.ended_at == T0 + timedelta(minutes=5)
    assert store.open_run("t") == store.run(second)
    assert store.open_run("other") == store.run(other)


def test_after_a_crash_a_recent_run_is_resumed_and_an_old_one_closed(store: Store) -> None:
    stale = store.start_run("a", at=T0)
    recent = store.start_run("b", at=T0)
    store.touch_run(recent, at=T0 + timedelta(hours=2))
    closed = store.close_stale_runs(older_than=timedelta(minutes=5), now=T0 + timedelta(hours=2))
    assert [run.id for run in closed] == [stale]
    assert closed[0].status is RunStatus.INTERRUPTED
    assert closed[0].ended_at == T0
    resumed = store.open_run("b")
    assert resumed is not None
    assert resumed.id == recent


def test_finishing_an_unknown_run_is_an_error(store: Store) -> None:
    with pytest.raises(StateStoreError, match="no run with id 99"):
        store.finish_run(99, {})


def test_a_summary_that_is_not_json_is_refused_and_the_run_stays_open(store: Store) -> None:
    run_id = store.start_run("t", at=T0)
    with pytest.raises(StateStoreError, match="JSON"):
        store.finish_run(run_id, {"x": object()})
    run = store.run(run_id)
    assert run is not None
    assert run.status is RunStatus.OPEN


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.start_run("t", at=datetime(2026, 1, 1))  # noqa: DTZ001


def test_flags_persist_across_reopening(tmp_path: Path) -> None:
    with Store.in_dir(tmp_path) as store:
        assert store.load_flags() is None
        store.save_flags("red", at=T0)
        store.save_flags("ache", T0 + timedelta(days=7), at=T0 + timedelta(hours=1))
    with Store.in_dir(tmp_path) as store:
        flags = store.load_flags()
    assert flags is not None
    assert (flags.back_pain, flags.expires_at, flags.updated_at) == (
        "ache",
        T0 + timedelta(days=7),
        T0 + timedelta(hours=1),
    )


def test_checkins_newest_first_and_since(store: Store) -> None:
    run_id = store.start_run("t", at=T0)
    a = store.add_checkin(2, "ache", at=T0, run_id=run_id)
    b = store.add_checkin(6, "sharp", note="left side", at=T0 + timedelta(days=1))
    assert [c.id for c in store.checkins()] == [b, a]
    [latest] = store.checkins(since=T0 + timedelta(hours=1))
    assert (latest.pain, latest.kind, latest.note, latest.run_id) == (6, "sharp", "left side", None)
    assert store.checkins(1)[0].id == b


def test_engine_state_round_trip_and_invalid_json_is_refused(store: Store) -> None:
    assert store.load_engine_state() is None
    store.save_engine_state('{"runs": [1, 2]}')
    with pytest.raises(StateStoreError, match="not valid JSON"):
        store.save_engine_state("{truncated")
    assert store.load_engine_state() == '{"runs": [1, 2]}'


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.text(max_size=10), st.integers() | st.text() | st.booleans()))
def test_any_json_engine_state_round_trips(store: Store, data: dict[str, object]) -> None:
    text = json.dumps(data)
    store.save_engine_state(text)
    assert store.load_engine_state() == text


# -- migrations ----------------------------------------------------------------------------


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_migrations_step_up_one_version_at_a_time(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "db", isolation_level=None)
    steps = ("CREATE TABLE a (x); INSERT INTO a VALUES (1)", "ALTER TABLE a ADD COLUMN y")
    assert migrate(conn, steps[:1]) == 1
    assert migrate(conn, steps) == 2
    assert conn.execute("SELECT * FROM a").fetchall() == [(1, None)]
    conn.close()
    assert _version(tmp_path / "db") == 2


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "db", isolation_level=None)
    migrate(conn, ("CREATE TABLE a (x)",))
    broken = ("CREATE TABLE a (x)", "CREATE TABLE b (y); INSERT INTO nowhere VALUES (1)")
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, broken)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert tables == {"a"}
    assert _version(tmp_path / "db") == 1


def test_a_database_from_a_newer_treadwell_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "treadwell.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StateStoreError, match="newer"):
        Store(path)
    assert _version(path) == len(MIGRATIONS) + 1


def test_an_existing_store_is_opened_not_migrated_again(tmp_path: Path) -> None:
    with Store.in_dir(tmp_path) as store:
        store.start_run("t", at=T0)
    with Store.in_dir(tmp_path) as store:
        assert len(store.runs()) == 1


# -- errors ------------------------------------------------------------------------------


def test_a_directory_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StateStoreError, match="cannot create the state directory"):
        Store(blocker / "state" / "treadwell.sqlite")


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "treadwell.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateStoreError, match="not a Treadwell state database"):
        Store(path)
    assert path.read_bytes() == b"this is not sqlite" * 100


def test_read_only_store_cannot_write_and_says_so(tmp_path: Path) -> None:
    with Store.in_dir(tmp_path) as store:
        store.start_run("t", at=T0)
    with Store.in_dir(tmp_path, read_only=True) as store:
        assert len(store.runs()) == 1
        with pytest.raises(StateStoreError, match="read-only"):
            store.start_run("t", at=T0)
        assert len(store.runs()) == 1


def test_read_only_open_of_a_missing_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StateStoreError, match="no state database"):
        Store.in_dir(tmp_path, read_only=True)


@pytest.mark.skipif(sys.platform != "linux" or not Path("/proc/self").exists(), reason="procfs")
def test_a_read_only_filesystem_is_a_clear_error() -> None:
    # /proc refuses new files even to root: a read-only place any test machine has.
    with pytest.raises(StateStoreError, match="cannot create the state directory"):
        Store(Path("/proc/self/treadwell/treadwell.sqlite"))


def test_a_full_disk_loses_nothing_already_stored(store: Store) -> None:
    kept = store.start_run("t", at=T0)
    store.finish_run(kept, {"distance_m": 1.0}, at=T0)
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # the "disk" is now full
    with pytest.raises(StateStoreError, match="full"):
        store.save_engine_state(json.dumps({"pad": "x" * 100_000}))
    assert store.load_engine_state() is None
    assert [run.id for run in store.runs()] == [kept]
    assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- crash consistency ----------------------------------------------------------------------

WRITER = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from treadwell.daemon.store import Store

store = Store(Path(sys.argv[1]))
n = 0
while True:
    run_id = store.start_run(f"t{n % 3}")
    store.finish_run(run_id, {"n": n, "pad": "x" * 2000})
    store.add_checkin(n % 11, "ache", run_id=run_id)
    print(run_id, flush=True)
    n += 1
"""


@pytest.mark.reliability
def test_kill_9_mid_write_leaves_a_consistent_database_with_every_committed_run(
    tmp_path: Path,
) -> None:
    path = tmp_path / "treadwell.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    committed = [int(proc.stdout.readline()) for _ in range(50)]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    committed += [int(line) for line in proc.stdout.read().split()]
    proc.stdout.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Store(path) as store:
        runs = {run.id: run for run in store.runs(100_000)}
        assert set(committed) <= set(runs)
        finished = [run for run in runs.values() if run.status is RunStatus.FINISHED]
        # Every run is whole: a finished run has its summary, at most one was left open.
        assert all(run.summary is not None for run in finished)
        assert len(runs) - len(finished) <= 1
        assert len(store.checkins(100_000)) >= len(committed)

"""A damaged `jobs.sqlite`: one clear line naming the file and exit 78, never a restart loop.

The damage is real: a job database written by the scheduler, then one of its data pages
overwritten on disk, as a failing SD card would.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from treadwell.daemon.config import EX_CONFIG
from treadwell.daemon.scheduler import PromptScheduler, SchedulerError

if TYPE_CHECKING:
    from pathlib import Path

PROMPTS = 60


async def _noop(key: str, payload: str) -> None:
    del key, payload


def write_jobs(path: Path) -> None:
    """A real job database with enough pending prompts to fill several pages."""

    async def scenario() -> None:
        scheduler = PromptScheduler(path, _noop)
        scheduler.start()
        try:
            later = datetime.now(UTC) + timedelta(days=1)
            for number in range(PROMPTS):
                scheduler.schedule(f"run-{number}-hydration", later, "drink some water " * 20)
        finally:
            scheduler.shutdown()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()


def damage_a_data_page(path: Path) -> int:
    """Overwrite the job table's root page (not the header page) with junk; return its number."""
    with sqlite3.connect(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'apscheduler_jobs'"
        ).fetchone()
    conn.close()
    assert root > 1
    with path.open("r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(bytes(range(256)) * (page_size // 256))
    return int(root)


def test_a_damaged_job_page_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    write_jobs(path)
    damage_a_data_page(path)
    with pytest.raises(SchedulerError) as exc:
        PromptScheduler(path, _noop)
    assert str(path) in str(exc.value)
    assert "move it aside" in str(exc.value)


def test_a_daemon_with_a_damaged_job_database_exits_78_with_one_clear_line(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    jobs = state / "jobs.sqlite"
    write_jobs(jobs)
    damage_a_data_page(jobs)
    config = tmp_path / "config.toml"
    # Nothing listens on port 1: the daemon must stop before it would try to connect.
    config.write_text(
        f"state_dir = '{state}'\n[mqtt]\nhost = '127.0.0.1'\nport = 1\n[ble]\nbackend = 'virtual'\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == EX_CONFIG, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{jobs} is not a usable job database" in result.stderr

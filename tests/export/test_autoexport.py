"""Automatic export after each run: files per runner, a command retried until it succeeds.

The command is a real program (a small shell script) that fails until a file exists, so the
queue's retries, its survival across a restart and the arguments it passes are all real.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from garmin_fit_sdk import Decoder, Stream

from tests.export.runs import START, store_run
from treadwell.daemon.autoexport import AutoExporter, apply_retention
from treadwell.daemon.config import ExportSettings, StorageSettings
from treadwell.daemon.outbox import Outbox
from treadwell.daemon.samples_db import load_samples
from treadwell.daemon.store import Store

if TYPE_CHECKING:
    from pathlib import Path


class Wall:
    """The exporter's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def flaky_command(tmp_path: Path) -> tuple[list[str], Path, Path]:
    """A command that fails until `ok` exists, and appends each path it was given to a log."""
    script = tmp_path / "sync.sh"
    ok = tmp_path / "ok"
    calls = tmp_path / "calls.log"
    script.write_text(
        f'#!/bin/sh\necho "$1" >> "{calls}"\n'
        f'[ -e "{ok}" ] || {{ echo "cloud down" >&2; exit 3; }}\n'
    )
    script.chmod(0o755)
    return [str(script)], ok, calls


async def test_a_finished_run_is_written_in_each_format_under_its_runner(tmp_path: Path) -> None:
    state_dir, out = tmp_path / "state", tmp_path / "exports"
    run_id = store_run(state_dir, seconds=90, runner="Ana")
    exporter = AutoExporter(state_dir, ExportSettings(directory=out, formats=["fit", "tcx", "csv"]))
    try:
        exporter.on_run_end(run_id, "Ana")
        assert await exporter.process_due() == 3
    finally:
        exporter.close()
    stem = f"2026-11-30-0630-run-{run_id}"
    assert sorted(p.name for p in (out / "ana").iterdir()) == [
        f"{stem}.csv",
        f"{stem}.fit",
        f"{stem}.tcx",
    ]
    messages, errors = Decoder(
        Stream.from_byte_array(bytearray((out / "ana" / f"{stem}.fit").read_bytes()))
    ).read()
    assert errors == []
    assert len(messages["record_mesgs"]) == 90


async def test_without_a_directory_nothing_is_queued(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    run_id = store_run(state_dir, seconds=10)
    exporter = AutoExporter(state_dir, ExportSettings())
    try:
        exporter.on_run_end(run_id)
        assert exporter.jobs() == []
    finally:
        exporter.close()


async def test_a_failing_command_is_logged_and_retried_until_it_succeeds_even_after_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state_dir, out = tmp_path / "state", tmp_path / "exports"
    command, ok, calls = flaky_command(tmp_path)
    settings = ExportSettings(directory=out, command=command, retry_s=60.0)
    run_id = store_run(state_dir, seconds=30)
    wall = Wall()
    exporter = AutoExporter(state_dir, settings, wall=wall)
    caplog.set_level(logging.WARNING, logger="treadwell.daemon.autoexport")
    try:
        exporter.on_run_end(run_id)
        assert await exporter.process_due() == 0
        (job,) = exporter.jobs()
        assert (job.state, job.attempts) == ("command", 1)
        assert "cloud down" in caplog.text
        assert "trying again in 60 s" in caplog.text
        assert await exporter.process_due() == 0  # not due yet: no second call
        assert len(calls.read_text().splitlines()) == 1
    finally:
        exporter.close()

    # The daemon restarts; the job is still there and comes due again.
    wall.now += 61
    exporter = AutoExporter(state_dir, settings, wall=wall)
    try:
        assert await exporter.process_due() == 0
        assert exporter.jobs()[0].attempts == 2
        ok.touch()
        wall.now += 61
        assert await exporter.process_due() == 1
        (job,) = exporter.jobs()
        assert job.state == "done"
    finally:
        exporter.close()
    written = out / "default" / f"2026-11-30-0630-run-{run_id}.fit"
    assert calls.read_text().splitlines() == [str(written)] * 3
    assert written.is_file()


async def test_a_command_that_cannot_start_is_retried_not_dropped(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    run_id = store_run(state_dir, seconds=10)
    settings = ExportSettings(directory=tmp_path / "x", command=[str(tmp_path / "missing")])
    exporter = AutoExporter(state_dir, settings)
    try:
        exporter.on_run_end(run_id)
        await exporter.process_due()
        (job,) = exporter.jobs()
        assert (job.state, job.attempts) == ("command", 1)
    finally:
        exporter.close()


async def test_the_exporter_task_works_through_the_queue_by_itself(tmp_path: Path) -> None:
    import asyncio

    state_dir, out = tmp_path / "state", tmp_path / "exports"
    run_id = store_run(state_dir, seconds=20)
    exporter = AutoExporter(state_dir, ExportSettings(directory=out), StorageSettings())
    task = asyncio.create_task(exporter.run())
    try:
        exporter.on_run_end(run_id)
        async with asyncio.timeout(30):
            while not exporter.jobs() or exporter.jobs()[0].state != "done":
                await asyncio.sleep(0.02)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        exporter.close()
    assert (out / "default" / f"2026-11-30-0630-run-{run_id}.fit").is_file()


def test_retention_prunes_old_samples_sent_prompts_and_old_history_only(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    now = datetime(2027, 12, 1, tzinfo=UTC)
    old = store_run(state_dir, seconds=5, start=now - timedelta(days=400))
    recent = store_run(state_dir, seconds=5, start=now - timedelta(days=3))
    with Store.in_dir(state_dir) as store:
        store.add_checkin(2, "ache", run_id=old, at=now - timedelta(days=399))
        still_open = store.start_run("other", at=now - timedelta(days=500))
    with Outbox(state_dir / "treadwell.sqlite") as outbox:
        outbox.add("sent-long-ago", "tw/prompt", b"{}")
        outbox.add("pending", "tw/prompt", b"{}")
        outbox.mark_sent(outbox.pending()[0].seq)
    # Sent "now" by the wall clock: pretend the acknowledgement is old.
    with sqlite3.connect(state_dir / "treadwell.sqlite") as conn:
        conn.execute(
            "UPDATE outbox SET sent_at = ? WHERE message_id = 'sent-long-ago'",
            ((now - timedelta(days=40)).isoformat(),),
        )

    kept = apply_retention(state_dir, StorageSettings(history_days=0), now)
    assert (kept.samples, kept.outbox, kept.runs) == (5, 1, 0)
    assert load_samples(state_dir, old) == []
    assert len(load_samples(state_dir, recent)) == 5
    with Outbox(state_dir / "treadwell.sqlite") as outbox:
        assert [item.message_id for item in outbox.pending()] == ["pending"]

    pruned = apply_retention(state_dir, StorageSettings(history_days=365), now)
    assert pruned.runs == 1
    with Store.in_dir(state_dir, read_only=True) as store:
        assert store.run(old) is None
        assert store.run(recent) is not None
        assert store.run(still_open) is not None  # an open run is never pruned
        (checkin,) = store.checkins()
        assert checkin.run_id is None  # the check-in stays, no longer tied to the run


def test_retention_keeping_everything_removes_nothing(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    store_run(state_dir, seconds=5, start=START)
    pruned = apply_retention(
        state_dir, StorageSettings(samples_days=0, history_days=0), datetime(2040, 1, 1, tzinfo=UTC)
    )
    assert (pruned.samples, pruned.runs) == (0, 0)


async def test_jobs_wait_while_the_directory_setting_is_gone_and_run_when_it_is_back(
    tmp_path: Path,
) -> None:
    state_dir, out = tmp_path / "state", tmp_path / "exports"
    run_id = store_run(state_dir, seconds=10)
    exporter = AutoExporter(state_dir, ExportSettings(directory=out))
    exporter.on_run_end(run_id)
    exporter.close()

    exporter = AutoExporter(state_dir, ExportSettings())  # the operator removed `directory`
    try:
        assert await exporter.process_due() == 0
        assert [job.state for job in exporter.jobs()] == ["write"]
    finally:
        exporter.close()

    exporter = AutoExporter(state_dir, ExportSettings(directory=out))
    try:
        assert await exporter.process_due() == 1
    finally:
        exporter.close()
    assert (out / "default" / f"2026-11-30-0630-run-{run_id}.fit").is_file()

"""I/O. Publishes each runner's totals (daemon/totals.py) for Home Assistant, retained.

`TotalsPublisher.run` publishes `{base}/runners/<runner>/totals` when the daemon starts, after
every run (`refresh`), after its exports are written (so the last run lists its files), and
just after local midnight (so "today" and, on Mondays, "this week" start again from zero).
The history is read in a worker thread, on a read-only connection of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from treadwell.daemon.config import slugify
from treadwell.daemon.paths import STATE_FILE_NAME
from treadwell.daemon.samples_db import DEFAULT_RUNNER
from treadwell.daemon.totals import HistoryRow, runner_totals
from treadwell.daemon.totals_discovery import totals_topic

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import tzinfo
    from pathlib import Path

_LOGGER = logging.getLogger(__name__)
_AFTER_MIDNIGHT_S = 5.0


def _number(summary: dict[str, Any], key: str) -> float:
    value = summary.get(key)
    return float(value) if isinstance(value, int | float) else 0.0


def load_history(path: Path) -> tuple[list[HistoryRow], dict[int, list[str]]]:
    """Every finished run as a `HistoryRow`, and the exported files of each run.

    A missing database or table reads as no runs.
    """
    if not path.is_file():
        return [], {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "runs" not in tables:
            return [], {}
        columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        # The run's own runner (schema 2); before runners existed, the samples knew it.
        if "runner" in columns:
            runner, join = "r.runner", ""
        elif "sample_runs" in tables:
            runner, join = "s.runner", "LEFT JOIN sample_runs s ON s.run_id = r.id"
        else:
            runner, join = "NULL", ""
        rows = conn.execute(
            f"SELECT r.id, r.started_at, r.summary, {runner} FROM runs r {join} "  # noqa: S608 (fixed names)
            "WHERE r.status = 'finished'"
        ).fetchall()
        files: dict[int, list[str]] = {}
        if "export_jobs" in tables:
            for run_id, file_path in conn.execute(
                "SELECT run_id, path FROM export_jobs WHERE path IS NOT NULL ORDER BY id"
            ):
                files.setdefault(int(run_id), []).append(str(file_path))
    finally:
        conn.close()
    history = []
    for run_id, started, summary_text, name in rows:
        try:
            summary = json.loads(summary_text) if summary_text else {}
        except ValueError:
            summary = {}
        if not isinstance(summary, dict):
            summary = {}
        history.append(
            HistoryRow(
                runner=str(name or DEFAULT_RUNNER),
                run_id=int(run_id),
                started_at=datetime.fromisoformat(started),
                distance_m=_number(summary, "distance_m"),
                duration_s=_number(summary, "duration_s"),
                window_s=_number(summary, "incline_time_in_window_s"),
            )
        )
    return history, files


def totals_messages(
    state_dir: Path, base: str, now: datetime, tz: tzinfo, runners: Sequence[str] = ()
) -> list[tuple[str, bytes]]:
    """The retained totals message of every runner (those in `runners` even without runs)."""
    rows, files = load_history(state_dir / STATE_FILE_NAME)
    out = []
    for name, totals in sorted(runner_totals(rows, now, tz, runners).items()):
        last = totals.last_run
        payload = totals.to_payload(files.get(last.run_id, []) if last is not None else [])
        text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        out.append((totals_topic(base, slugify(name) or DEFAULT_RUNNER), text.encode()))
    return out


def _local_zone() -> tzinfo:
    zone = datetime.now().astimezone().tzinfo
    return zone if zone is not None else UTC


class TotalsPublisher:
    """Keeps every runner's totals published (see the module docstring).

    Args:
        state_dir: The state directory.
        base: The daemon's base topic.
        publish: Publishes a retained message (the MQTT bridge's `publish_retained`).
        runners: Runners to publish even before their first run.
        tz: Where days and weeks begin; the machine's local time zone by default.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        base: str,
        publish: Callable[[str, bytes], None],
        runners: Sequence[str] = (DEFAULT_RUNNER,),
        tz: tzinfo | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.base = base
        self.runners = tuple(runners)
        self._publish = publish
        self._tz = tz or _local_zone()
        self._wake = asyncio.Event()

    def refresh(self) -> None:
        """Publish again soon (a run ended, or its files were written)."""
        self._wake.set()

    async def run(self) -> None:
        """Publish now, on every `refresh` and after each local midnight, until cancelled."""
        while True:
            self._wake.clear()
            now = datetime.now(UTC)
            try:
                messages = await asyncio.to_thread(
                    totals_messages, self.state_dir, self.base, now, self._tz, self.runners
                )
            except (sqlite3.Error, OSError, ValueError) as exc:
                _LOGGER.error("totals: not published: %s", exc)  # noqa: TRY400
                messages = []
            except Exception:  # totals must never stop the daemon
                _LOGGER.exception("totals: not published")
                messages = []
            for topic, payload in messages:
                self._publish(topic, payload)
            local = now.astimezone(self._tz)
            midnight = datetime.combine(
                local.date() + timedelta(days=1), datetime.min.time(), self._tz
            )
            delay = (midnight - local).total_seconds() + _AFTER_MIDNIGHT_S
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

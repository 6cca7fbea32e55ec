"""I/O. `treadwell history`: past runs from the state database, read-only.

It only reads, so it works for any user who may read the state files, not just the
daemon's: the database is opened read-only, and when that needs write access it does not
have (the daemon is stopped and the directory is not writable, so SQLite cannot create its
shared-memory file), the file is read as immutable, which is exact then, since a stopped
daemon leaves everything in the main file.
"""

from __future__ import annotations

import argparse
import errno
import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from treadwell.daemon.commands.config import (
    add_config_option,
    err,
    out,
    settings_or_exit_status,
)
from treadwell.daemon.paths import STATE_FILE_NAME
from treadwell.daemon.store import StateStoreError, Store

if TYPE_CHECKING:
    from treadwell.daemon.store import RunRecord


EXIT_FAILURE = 1


class _Reader(Store):
    """The state database opened for reading only, by whichever user may read it."""

    def __init__(self, path: Path) -> None:  # the parent's opening would need write access
        self.path = path
        self.read_only = True
        self._conn = _connect(path)
        try:
            with self._guard():
                self._check_version()
        except BaseException:
            self._conn.close()
            raise


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc) and "unable to open" not in str(exc):
            raise StateStoreError(f"state database {path}: {exc}") from exc
        # No write access for the shared-memory file: the daemon is not running (it would
        # have created it), so the main file holds every committed run.
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise StateStoreError(f"state database {path}: {exc}") from exc
    return conn


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `--limit`, `--json`, `--state-dir` and `--config`."""
    parser.description = "List past runs, newest first, from the daemon's state database."
    parser.add_argument("--limit", type=_positive, default=20, help="runs to show (default 20)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--state-dir", type=Path, metavar="DIR", help="state directory (default: from config)"
    )
    add_config_option(parser)


def _duration(run: RunRecord) -> float | None:
    summary = run.summary or {}
    value = summary.get("duration_s")
    if isinstance(value, int | float):
        return float(value)
    if run.ended_at is None:
        return None
    return (run.ended_at - run.started_at).total_seconds()


def _line(run: RunRecord) -> str:
    summary = run.summary or {}
    duration = _duration(run)
    parts = [
        f"{run.id:>4}",
        run.started_at.astimezone().strftime("%Y-%m-%d %H:%M"),
        f"{run.runner:<10}",
        f"{run.treadmill:<12}",
        "   --   " if duration is None else f"{int(duration // 60):>3d}:{int(duration % 60):02d} ",
    ]
    distance = summary.get("distance_m")
    if isinstance(distance, int | float):
        parts.append(f"{distance / 1000:6.2f} km")
    speed = summary.get("average_speed_kmh")
    if isinstance(speed, int | float):
        parts.append(f"{speed:5.1f} km/h")
    heart = summary.get("average_hr_bpm")
    if isinstance(heart, int | float):
        parts.append(f"{heart:4.0f} bpm")
    if run.status != "finished":
        parts.append(f"({run.status})")
    return "  ".join(parts)


def _json(run: RunRecord) -> str:
    return json.dumps(
        {
            "id": run.id,
            "run_id": run.run_key,
            "runner": run.runner,
            "treadmill": run.treadmill,
            "started_at": run.started_at.isoformat(),
            "ended_at": None if run.ended_at is None else run.ended_at.isoformat(),
            "status": str(run.status),
            "summary": run.summary,
        },
        sort_keys=True,
    )


def run(args: argparse.Namespace) -> int:
    """Print the most recent runs."""
    state_dir: Path | None = args.state_dir
    if state_dir is None:
        loaded = settings_or_exit_status(args)
        if isinstance(loaded, int):
            return loaded
        state_dir = loaded.state_dir
    path = state_dir / STATE_FILE_NAME
    try:
        exists = path.exists()
        if exists:
            path.open("rb").close()
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM):
            raise
        err(
            f"treadwell history: cannot read {exc.filename or path}: permission denied "
            "(run it as the daemon's user, e.g. sudo -u treadwell treadwell history, or give "
            "your user read access to the state directory)"
        )
        return EXIT_FAILURE
    if not exists:
        err(f"no runs recorded yet ({path} does not exist)")
        return 0
    try:
        with _Reader(path) as store:
            runs = store.runs(args.limit)
    except StateStoreError as exc:
        err(f"treadwell history: {exc}")
        return EXIT_FAILURE
    if args.json:
        for item in runs:
            out(_json(item))
    elif not runs:
        err("no runs recorded yet")
    else:
        out("\n".join(_line(item) for item in runs))
    return 0

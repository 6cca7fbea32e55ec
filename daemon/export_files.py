"""I/O. Export files of stored runs: a run with its samples, its file written whole, its place.

Shared by the automatic exports after each run (`treadwell.daemon.autoexport`) and
`treadwell export`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from treadwell.daemon import samples_db
from treadwell.daemon.config import slugify
from treadwell.daemon.export.run import SUFFIXES, ExportError, RunExport, file_stem
from treadwell.daemon.paths import STATE_FILE_NAME
from treadwell.daemon.store import StateStoreError, Store

if TYPE_CHECKING:
    from pathlib import Path

    from treadwell.daemon.export.run import Format


def load_run_export(state_dir: Path, run_id: int | None = None) -> RunExport:
    """A stored run and its samples, ready to encode.

    Args:
        state_dir: The state directory holding `treadwell.sqlite`.
        run_id: The run's id; None for the most recent run.

    Raises:
        StateStoreError: The database cannot be read, or has no such run.
        ExportError: The run has no samples.
    """
    path = state_dir / STATE_FILE_NAME
    with Store(path, read_only=True) as store:
        if run_id is None:
            recent = store.runs(1)
            if not recent:
                raise StateStoreError(f"no runs recorded yet in {path}")
            record = recent[0]
        else:
            found = store.run(run_id)
            if found is None:
                raise StateStoreError(f"no run with id {run_id} in {path}")
            record = found
    conn = samples_db.connect(path, read_only=True)
    try:
        samples = samples_db.read_samples(conn, record.id)
        runner = samples_db.run_runner(conn, record.id) or samples_db.DEFAULT_RUNNER
    finally:
        conn.close()
    if not samples:
        raise ExportError(f"run {record.id} has no per-second samples to export")
    ended = record.ended_at or samples[-1].at
    return RunExport(
        run_id=record.id,
        runner=runner,
        treadmill=record.treadmill,
        started_at=record.started_at,
        ended_at=max(ended, samples[-1].at),
        samples=tuple(samples),
    )


def write_export(data: bytes, path: Path) -> None:
    """Write a file atomically: a reader never sees half of it.

    Raises:
        OSError: The file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


def export_path(directory: Path, run: RunExport, fmt: Format) -> Path:
    """Where the automatic export of `run` in `fmt` goes: `<directory>/<runner>/<stem><suffix>`."""
    runner = slugify(run.runner) or samples_db.DEFAULT_RUNNER
    return directory / runner / f"{file_stem(run)}{SUFFIXES[fmt]}"

"""`treadwell history` by a user other than the daemon's: it only reads, so it may.

The state files belong to the daemon's user (`nobody` here); the command runs as a user who
may not write them (see `tests.support.unprivileged`). Real files from a real `Store`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.unprivileged import SKIP_REASON, held_to_file_modes
from treadwell.daemon.store import Store

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


@pytest.fixture
def prefix() -> tuple[str, ...]:
    found = held_to_file_modes()
    if found is None:
        pytest.skip(SKIP_REASON)
    return found


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """A state directory with two runs, written the way the daemon writes it (WAL)."""
    directory = tmp_path / "state"
    with Store.in_dir(directory) as store:
        first = store.start_run("garage")
        store.finish_run(first, {"duration_s": 1500.0, "distance_m": 4200.0})
        store.start_run("garage")
    yield directory
    directory.chmod(0o755)
    for item in [directory, *directory.iterdir()]:
        if os.geteuid() == 0:
            os.chown(item, os.getuid(), os.getgid())
        item.chmod(0o755 if item.is_dir() else 0o644)


def owned_by_someone_else(directory: Path, *, readable: bool) -> None:
    """Hand the state to the daemon's user (as root), or take the access away (otherwise).

    Readable: the directory and files may be read but not written. Not readable: the
    directory may not be entered.
    """
    root = os.geteuid() == 0
    if readable:
        dir_mode, file_mode = (0o755, 0o644) if root else (0o555, 0o444)
    else:
        dir_mode, file_mode = (0o700, 0o600) if root else (0o000, 0o000)
    for item in directory.iterdir():
        if root:
            os.chown(item, NOBODY, NOBODY)
        item.chmod(file_mode)
    if root:
        os.chown(directory, NOBODY, NOBODY)
    directory.chmod(dir_mode)


def history(prefix: tuple[str, ...], state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "treadwell.daemon", "history", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "HOME": str(state.parent), "TZ": "UTC"},
    )


def test_readable_state_of_another_user_is_listed_not_refused_as_read_only(
    prefix: tuple[str, ...], state: Path
) -> None:
    owned_by_someone_else(state, readable=True)
    before = sorted(p.name for p in state.iterdir())
    result = history(prefix, state)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert "garage" in lines[1]
    assert "4.20 km" in lines[1]
    assert "(open)" in lines[0]
    assert sorted(p.name for p in state.iterdir()) == before  # nothing written


def test_an_unreadable_state_directory_is_one_clear_line_and_exit_1(
    prefix: tuple[str, ...], state: Path
) -> None:
    owned_by_someone_else(state, readable=False)
    result = history(prefix, state)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "permission denied" in result.stderr
    assert str(state) in result.stderr

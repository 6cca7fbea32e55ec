"""A read-only or full state directory: a clear error, no crash loop, no corrupt file.

The daemon runs as a real subprocess. Read-only: as root, file modes do not stop writes, so
the daemon is started without the capabilities that bypass them (see
`tests.support.unprivileged`; another user may not reach the interpreter at all). Full: the
state directory is a small tmpfs mounted in a private mount namespace (`unshare`), filled
from outside through `/proc/<pid>/root` while the daemon runs; skipped where mount
namespaces are not allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.reliability.harness import DaemonProcess, daemon_config, duplicates, recording
from tests.support.unprivileged import SKIP_REASON, held_to_file_modes
from treadwell.daemon.config import EX_CONFIG

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.reliability, pytest.mark.mqtt]

# Mount a small tmpfs on the state directory, run the daemon, keep its files when it ends.
_FULL_DISK_SCRIPT = """
state=$1 out=$2 pidfile=$3; shift 3
mount -t tmpfs -o size=3m,mode=0755 tmpfs "$state" || exit 97
"$@" &
echo $! > "$pidfile"
wait $!
rc=$?
cp -a "$state"/. "$out"/
exit $rc
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A scratch directory; the modes the tests take away are given back for clean-up."""
    path = Path(tempfile.mkdtemp(prefix="treadwell-ro-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for item in [path, *path.rglob("*")]:
            with contextlib.suppress(OSError):
                item.chmod(0o755 if item.is_dir() else 0o644)
        shutil.rmtree(path)


def read_only_daemon(broker: Mosquitto, workdir: Path, state: Path) -> DaemonProcess:
    prefix = held_to_file_modes()
    if prefix is None:
        pytest.skip(SKIP_REASON)
    workdir.mkdir(exist_ok=True)
    daemon = DaemonProcess(daemon_config(broker, state), workdir)
    # Not another user: one may not reach the interpreter (a clone in a private directory).
    daemon.wrapper = prefix
    return daemon


def digest(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


async def test_a_read_only_empty_state_directory_is_a_clear_error_and_exit_78(
    broker: Mosquitto, shared_dir: Path
) -> None:
    state = shared_dir / "state"
    state.mkdir(mode=0o555)
    daemon = read_only_daemon(broker, shared_dir, state)
    async with recording(broker, "tw/#") as dash:
        daemon.start()
        status = await asyncio.to_thread(daemon.procs[-1].wait, 30)
        await asyncio.sleep(0.3)
    assert status == EX_CONFIG  # systemd: RestartPreventExitStatus=78, so no restart loop
    assert f"cannot open {state}/treadwell.sqlite" in daemon.log()
    assert "not writable" in daemon.log()
    assert list(state.iterdir()) == []
    assert dash.seen == []  # nothing started, not even the MQTT connection


async def test_a_read_only_existing_state_is_refused_untouched(
    broker: Mosquitto, shared_dir: Path
) -> None:
    state = shared_dir / "state"
    state.mkdir()
    first = DaemonProcess(daemon_config(broker, state), shared_dir / "first")
    (shared_dir / "first").mkdir()
    first.start()
    await first.wait_log(r"\(warmup\)")
    assert first.stop() == 0
    for item in state.iterdir():
        item.chmod(0o444)
    state.chmod(0o555)
    before = digest(state)

    daemon = read_only_daemon(broker, shared_dir / "second", state)
    daemon.start()
    status = await asyncio.to_thread(daemon.procs[-1].wait, 30)
    assert status == EX_CONFIG
    assert re.search(r"treadwell\.sqlite is read-only: give the treadwell user write", daemon.log())
    assert digest(state) == before
    with sqlite3.connect(f"file:{state / 'treadwell.sqlite'}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def can_mount_tmpfs(where: Path) -> bool:
    probe = ["unshare", "--mount", "--propagation", "private"]
    script = f"mount -t tmpfs -o size=64k tmpfs {where}"
    if shutil.which("unshare") is None:
        return False
    result = subprocess.run([*probe, "sh", "-c", script], capture_output=True, check=False)
    return result.returncode == 0


def fill(path: Path) -> int:
    """Write zeros to `path` until the file system is full; return the bytes written."""
    written = 0
    chunk = bytes(64 * 1024)
    with path.open("wb", buffering=0) as handle:
        while True:
            try:
                written += handle.write(chunk) or 0
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                return written


async def wait_for_file(path: Path) -> str:
    async with asyncio.timeout(30):
        while not path.exists() or not path.read_text().strip():
            await asyncio.sleep(0.05)
    return path.read_text().strip()


async def test_a_full_disk_mid_run_is_logged_loses_no_prompt_and_corrupts_nothing(
    broker: Mosquitto, tmp_path: Path
) -> None:
    state, after, pidfile = tmp_path / "state", tmp_path / "after", tmp_path / "daemon.pid"
    state.mkdir()
    after.mkdir()
    if not can_mount_tmpfs(state):
        pytest.skip("cannot mount a tmpfs in a private mount namespace here")
    rules = {"hydration_reminder_after_s": 240.0, "checkin_after_s": 480.0}
    daemon = DaemonProcess(
        daemon_config(broker, state, rules=rules),
        tmp_path,
        wrapper=(
            *("unshare", "--mount", "--propagation", "private", "sh", "-c", _FULL_DISK_SCRIPT),
            *("sh", str(state), str(after), str(pidfile)),
        ),
    )
    try:
        async with recording(broker, "tw/prompt", "tw/error") as dash:
            daemon.start()
            pid = int(await wait_for_file(pidfile))
            await daemon.wait_log(r"\(warmup\)")
            filler = Path(f"/proc/{pid}/root{state}/filler")
            assert fill(filler) > 0
            await daemon.wait_log(r"run \S+ ended")
            await daemon.wait_log(r"\(stretch\)")
            await asyncio.sleep(1.0)
            filler.unlink()  # space again: the daemon carries on storing
            await daemon.wait_log(r"\(checkin\) is due")
            expected = [prompt_id for prompt_id, _ in daemon.prompts_raised()]
            await dash.wait_for(
                lambda: set(expected) <= set(dash.prompt_ids()), f"all of {expected}"
            )
            os.kill(pid, 15)
            status = await asyncio.to_thread(daemon.procs[-1].wait, 30)
    finally:
        daemon.close()
    log = daemon.log()
    assert status == 0
    assert re.search(r"scheduler: prompt \S+:checkin kept in memory only .* full", log)
    assert re.search(r"mqtt(_core)?: MQTT: prompt \S+ kept in memory only: .* full", log)
    assert "failed to handle" not in log  # no event was dropped by the dispatcher
    assert duplicates(dash.prompt_ids()) == []
    assert dash.prompt_ids() == expected
    for name in ("treadwell.sqlite", "jobs.sqlite"):
        with sqlite3.connect(after / name) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

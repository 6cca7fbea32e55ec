"""sd_notify, the watchdog, journald-friendly logging and the unit file checks."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import socket
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from treadwell.daemon import logs, systemd

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterator

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket bound where $NOTIFY_SOCKET points, as systemd would."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    try:
        yield sock
    finally:
        sock.close()


def _received(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_notify_without_socket_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False
    assert systemd.ready("up") is False


def test_ready_sends_ready_and_a_one_line_status(notify_socket: socket.socket) -> None:
    assert systemd.ready("connected to\nbroker") is True
    assert _received(notify_socket) == "READY=1\nSTATUS=connected to broker"


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (systemd.stopping, "STOPPING=1"),
        (lambda: systemd.status("1 treadmill  connected"), "STATUS=1 treadmill connected"),
        (systemd.ready, "READY=1"),
    ],
)
def test_each_message_reaches_the_socket(
    notify_socket: socket.socket, send: object, expected: str
) -> None:
    assert callable(send)
    assert send() is True
    assert _received(notify_socket) == expected


def test_abstract_socket_address_is_understood(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"treadwell-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.notify("WATCHDOG=1") is True
        assert _received(sock) == "WATCHDOG=1"


def test_a_vanished_socket_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert systemd.notify("READY=1") is False
    assert "cannot notify systemd" in caplog.text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "own"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval_is_half_the_timeout_for_this_process_only(
    env: dict[str, str], expected: float | None
) -> None:
    resolved = {k: str(os.getpid()) if v == "own" else v for k, v in env.items()}
    assert systemd.watchdog_interval(resolved) == expected


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a fresh loop in a worker thread.

    pytest-asyncio under Python 3.11 leaves an implicit main-thread loop behind after a sync
    test, which then surfaces as an unraisable ResourceWarning; a loop in another thread
    never touches it.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_watchdog_pings_while_healthy(
    notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "20000")  # a ping every 10 ms
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    notify_socket.setblocking(False)

    async def scenario() -> list[str]:
        task = asyncio.create_task(systemd.watchdog(lambda: True))
        loop = asyncio.get_running_loop()
        pings = [(await loop.sock_recv(notify_socket, 100)).decode() for _ in range(3)]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return pings

    assert run_async(scenario()) == ["WATCHDOG=1"] * 3


def test_watchdog_stays_silent_while_unhealthy(
    notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "20000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    healthy = False
    checks = 0

    def is_healthy() -> bool:
        nonlocal checks
        checks += 1
        return healthy

    async def scenario() -> str:
        nonlocal healthy
        task = asyncio.create_task(systemd.watchdog(is_healthy))
        while checks < 3:
            await asyncio.sleep(0.01)
        notify_socket.setblocking(False)
        with pytest.raises(BlockingIOError):
            notify_socket.recv(100)
        healthy = True
        ping = await asyncio.get_running_loop().sock_recv(notify_socket, 100)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return ping.decode()

    assert run_async(scenario()) == "WATCHDOG=1"


def test_watchdog_returns_at_once_when_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    run_async(asyncio.wait_for(systemd.watchdog(lambda: True), timeout=5))


# -- logging ------------------------------------------------------------------------------


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
def test_journald_lines_carry_priority_and_no_timestamp() -> None:
    stream = io.StringIO()
    logs.setup_logging("DEBUG", journald=True, stream=stream)
    log = logging.getLogger("treadwell.test")
    log.error("broker lost")
    log.warning("slow\nsecond line")
    log.debug("frame 01 02")
    assert stream.getvalue().splitlines() == [
        "<3>treadwell.test: broker lost",
        "<4>treadwell.test: slow",
        "<4>second line",
        "<7>treadwell.test: frame 01 02",
    ]


@pytest.mark.usefixtures("restore_root_logger")
def test_journald_format_is_chosen_by_journal_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    logs.setup_logging("INFO", stream=stream)
    logging.getLogger("treadwell.test").info("up")
    assert stream.getvalue() == "<6>treadwell.test: up\n"
    monkeypatch.delenv("JOURNAL_STREAM")
    stream = io.StringIO()
    logs.setup_logging("INFO", stream=stream)
    logging.getLogger("treadwell.test").info("up")
    line = stream.getvalue()
    assert line.endswith(" INFO    treadwell.test: up\n")
    assert line[:4].isdigit()  # starts with the year: a timestamp
    assert sum(h.get_name() == "treadwell" for h in logging.getLogger().handlers) == 1


@pytest.mark.usefixtures("restore_root_logger")
def test_the_mqtt_password_is_masked_in_messages_and_tracebacks() -> None:
    stream = io.StringIO()
    logs.setup_logging("INFO", journald=True, secrets=["hunter2-secret"], stream=stream)
    log = logging.getLogger("treadwell.test")
    log.info("connecting with %s", "hunter2-secret")
    try:
        int("hunter2-secret")
    except ValueError:
        log.exception("failed")
    text = stream.getvalue()
    assert "hunter2-secret" not in text
    assert text.count(logs.MASK) >= 2


@pytest.mark.parametrize(
    ("level", "priority"),
    [(50, 2), (40, 3), (35, 4), (30, 4), (20, 6), (15, 7), (10, 7), (1, 7)],
)
def test_syslog_priority_of_each_level(level: int, priority: int) -> None:
    assert logs.syslog_priority(level) == priority


# -- the unit file ------------------------------------------------------------------------

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def _check_unit(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / ".ci" / "check-unit"), str(unit)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@needs_systemd_analyze
def test_the_shipped_unit_verifies_clean_and_scores_2_or_better() -> None:
    result = _check_unit(ROOT / "systemd" / "treadwell.service")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify: clean" in result.stdout
    assert "OK" in result.stdout


@needs_systemd_analyze
def test_check_unit_fails_on_a_typo_that_verify_only_warns_about(tmp_path: Path) -> None:
    unit = tmp_path / "treadwell.service"
    text = (ROOT / "systemd" / "treadwell.service").read_text()
    unit.write_text(text.replace("WatchdogSec=", "WatchdogSecs="))
    result = _check_unit(unit)
    assert result.returncode == 1
    assert "WatchdogSecs" in result.stdout


@needs_systemd_analyze
def test_check_unit_fails_when_hardening_is_removed(tmp_path: Path) -> None:
    unit = tmp_path / "treadwell.service"
    kept = [
        line
        for line in (ROOT / "systemd" / "treadwell.service").read_text().splitlines()
        if not line.startswith(("ProtectSystem", "SystemCallFilter", "CapabilityBoundingSet"))
        and not line.startswith(("PrivateDevices", "RestrictAddressFamilies", "ProtectHome"))
    ]
    unit.write_text("\n".join(kept) + "\n")
    result = _check_unit(unit)
    assert result.returncode == 1
    assert "security: FAILED" in result.stdout


def test_the_unit_has_what_the_daemon_relies_on() -> None:
    text = (ROOT / "systemd" / "treadwell.service").read_text()
    for line in (
        "Type=notify",
        "RestartPreventExitStatus=78",
        "Restart=on-failure",
        "StateDirectory=treadwell",
        "ConfigurationDirectory=treadwell",
        "LoadCredential=treadwell_mqtt_password:/etc/treadwell/mqtt_password",
        "SupplementaryGroups=bluetooth",
        "ExecStart=/opt/treadwell/venv/bin/treadwell run",
    ):
        assert line in text.splitlines(), line
    assert not any(line.startswith("DynamicUser") for line in text.splitlines())

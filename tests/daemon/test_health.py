"""An unhealthy daemon stops pinging systemd's watchdog, so systemd restarts it.

The daemon runs in-process on the virtual world against a real mosquitto, with the real
watchdog loop sending to a datagram socket where `$NOTIFY_SOCKET` points, as systemd's
would. Unhealthy means: the dispatcher is dead, or the state database keeps refusing to
save (systemd's `WatchdogSec` then restarts the service, docs in README).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import TYPE_CHECKING

import pytest

from tests.daemon.test_app import running, settings_for, virtual_devices
from tests.support.mqtt_client import publish
from treadwell.daemon import systemd

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto
    from treadwell.daemon.app import Daemon

pytestmark = pytest.mark.mqtt


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket where $NOTIFY_SOCKET points; the watchdog asks for 20 ms pings."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "40000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    try:
        yield sock
    finally:
        sock.close()


def drain(sock: socket.socket) -> list[str]:
    """Every datagram waiting on the socket."""
    got = []
    while True:
        try:
            got.append(sock.recv(100).decode())
        except BlockingIOError:
            return got


async def pings_stop(daemon: Daemon, sock: socket.socket) -> None:
    """Once unhealthy, a few watchdog rounds pass without a single ping."""
    checks = 0

    def is_healthy() -> bool:
        nonlocal checks
        checks += 1
        return daemon.healthy

    watchdog = asyncio.create_task(systemd.watchdog(is_healthy))
    try:
        async with asyncio.timeout(30):
            while checks < 1:
                await asyncio.sleep(0.01)
            drain(sock)
            seen = checks
            while checks < seen + 5:
                await asyncio.sleep(0.01)
        assert not daemon.healthy
        assert drain(sock) == []
    finally:
        watchdog.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watchdog


async def pings_flow(daemon: Daemon, sock: socket.socket) -> None:
    """While healthy, the watchdog pings."""
    watchdog = asyncio.create_task(systemd.watchdog(lambda: daemon.healthy))
    try:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(30):
            assert (await loop.sock_recv(sock, 100)).decode() == "WATCHDOG=1"
    finally:
        watchdog.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watchdog


async def test_a_dead_dispatcher_stops_the_watchdog(
    mosquitto: Mosquitto, tmp_path: Path, notify_socket: socket.socket
) -> None:
    async with (
        virtual_devices(profile=None) as (world, _),
        running(settings_for(mosquitto, tmp_path), world) as daemon,
    ):
        await pings_flow(daemon, notify_socket)
        dispatcher = daemon._dispatcher
        assert dispatcher is not None
        dispatcher.cancel()
        await pings_stop(daemon, notify_socket)


async def test_a_store_that_keeps_failing_stops_the_watchdog(
    mosquitto: Mosquitto, tmp_path: Path, notify_socket: socket.socket
) -> None:
    async with (
        virtual_devices(profile=None) as (world, _),
        running(settings_for(mosquitto, tmp_path, back_pain="none"), world) as daemon,
    ):
        await pings_flow(daemon, notify_socket)
        daemon._store._conn.close()  # every later write fails as a broken disk would
        for flag in ("ache", "none", "ache", "none"):
            await publish(mosquitto, "tw/flags/set", f'{{"back_pain": "{flag}"}}'.encode())
        async with asyncio.timeout(30):
            while daemon.healthy:
                await asyncio.sleep(0.05)
        await pings_stop(daemon, notify_socket)

"""I/O. The sd_notify protocol with the standard library: readiness, status, watchdog.

Outside systemd (`$NOTIFY_SOCKET` unset) every call is a no-op returning False, so the
daemon runs the same by hand, in tests and in containers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_LOGGER = logging.getLogger(__name__)


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one sd_notify message such as "READY=1" or "STATUS=...".

    Args:
        state: Newline-separated `KEY=value` assignments.
        environ: The environment to read `NOTIFY_SOCKET` from (defaults to `os.environ`).

    Returns:
        True if it was sent; False outside systemd or if the socket is gone (logged).
    """
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        # An abstract socket: the name starts with a NUL byte instead of '@'.
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        _LOGGER.warning("cannot notify systemd at %r: %s", address, exc)
        return False
    return True


def _one_line(text: str) -> str:
    return " ".join(text.split())


def ready(status: str = "") -> bool:
    """Tell systemd start-up is complete (`Type=notify`), with an optional status line."""
    return notify("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))


def stopping() -> bool:
    """Tell systemd the daemon is shutting down."""
    return notify("STOPPING=1")


def status(text: str) -> bool:
    """Set the one-line status shown by `systemctl status`."""
    return notify(f"STATUS={_one_line(text)}")


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings (half of `WATCHDOG_USEC`), or None if not asked for.

    The watchdog is for this process only when `WATCHDOG_PID` is unset or names it.
    """
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
        pid = int(env.get("WATCHDOG_PID", str(os.getpid())))
    except ValueError:
        _LOGGER.warning("ignoring malformed WATCHDOG_USEC/WATCHDOG_PID")
        return None
    if usec <= 0 or pid != os.getpid():
        return None
    return usec / 2_000_000


async def watchdog(is_healthy: Callable[[], bool]) -> None:
    """Ping systemd's watchdog from the event loop while `is_healthy()` says so.

    Runs until cancelled; returns at once when no watchdog is configured. Because it runs
    on the loop, a blocked loop stops the pings and systemd restarts the service; an
    unhealthy daemon stops them on purpose.

    Args:
        is_healthy: Checked before every ping.
    """
    interval = watchdog_interval()
    if interval is None:
        return
    _LOGGER.debug("pinging the systemd watchdog every %.1f s", interval)
    while True:
        if is_healthy():
            notify("WATCHDOG=1")
        else:
            _LOGGER.warning("unhealthy: not pinging the systemd watchdog")
        await asyncio.sleep(interval)

"""I/O. Running the project's links on plain bleak (BlueZ) and waiting for their events."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from treadwell.drivers.backend import BleBackend
from treadwell.drivers.backoff import Backoff
from treadwell.drivers.discovery import DeviceKind, DeviceTarget
from treadwell.drivers.heart_rate import HeartRateLink
from treadwell.drivers.treadmill import TreadmillLink

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from treadwell.drivers.events import LinkEvent
    from treadwell.drivers.link import BleLink

# Bleak's own platform backend: BlueZ over D-Bus in the VM. No custom backend anywhere here.
BLUEZ = BleBackend()
# Emulation is slow (qemu without KVM): generous limits, never asserted as timings.
EVENT_TIMEOUT_S = 90.0
_FAST_RETRY = Backoff(initial_s=0.5, max_s=2.0)
_E = TypeVar("_E")


class EventLog:
    """Every event of one link, in order, with a way to wait for the next of a kind."""

    def __init__(self) -> None:
        """Start empty."""
        self.events: list[LinkEvent] = []
        self._queue: asyncio.Queue[LinkEvent] = asyncio.Queue()

    def __call__(self, event: LinkEvent) -> None:
        """The link's `on_event` callback."""
        self.events.append(event)
        self._queue.put_nowait(event)

    async def next(self, kind: type[_E], timeout_s: float = EVENT_TIMEOUT_S) -> _E:
        """Wait for the next event of `kind` (events of other kinds are passed over)."""
        async with asyncio.timeout(timeout_s):
            while True:
                event = await self._queue.get()
                if isinstance(event, kind):
                    return event


def treadmill_link(address: str, log: EventLog) -> TreadmillLink:
    """A treadmill link to `address` over BlueZ."""
    target = DeviceTarget(DeviceKind.TREADMILL, address=address)
    return TreadmillLink(
        target, backend=BLUEZ, on_event=log, backoff=_FAST_RETRY, connect_timeout_s=40.0
    )


def strap_link(address: str, log: EventLog) -> HeartRateLink:
    """A heart-rate link to `address` over BlueZ."""
    target = DeviceTarget(DeviceKind.HEART_RATE, address=address)
    return HeartRateLink(
        target,
        label="strap",
        backend=BLUEZ,
        on_event=log,
        backoff=_FAST_RETRY,
        connect_timeout_s=40.0,
    )


def open_sockets() -> int:
    """How many sockets this process has open (D-Bus connections among them)."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            count += str(fd.readlink()).startswith("socket:")
    return count


@contextlib.asynccontextmanager
async def running(*links: BleLink) -> AsyncIterator[None]:
    """Run the links' supervision loops for the duration of the block."""
    tasks = [asyncio.create_task(link.run(), name=f"link-{link.label}") for link in links]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

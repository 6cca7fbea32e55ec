"""Helpers for driving links in tests: an event recorder and a running-link context."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, TypeVar

from treadwell.drivers.backoff import Backoff
from treadwell.drivers.discovery import DeviceKind, DeviceTarget

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from treadwell.drivers.events import LinkEvent
    from treadwell.drivers.link import BleLink

E = TypeVar("E")

FAST = Backoff(initial_s=0.5, max_s=4.0, jitter=0.0)


class Recorder:
    """Collects link events and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[LinkEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: LinkEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def mark(self) -> int:
        """An index: `wait_for(..., after=mark)` only looks at later events."""
        return len(self.events)

    async def wait_for(
        self,
        kind: type[E],
        predicate: Callable[[E], bool] = lambda _e: True,
        *,
        after: int = 0,
        timeout: float = 10.0,
    ) -> E:
        def match() -> E | None:
            for event in self.events[after:]:
                if isinstance(event, kind) and predicate(event):
                    return event
            return None

        async with asyncio.timeout(timeout):
            while (found := match()) is None:
                self._changed.clear()
                await self._changed.wait()
            return found


def target(kind: DeviceKind, name: str | None = None, address: str | None = None) -> DeviceTarget:
    return DeviceTarget(kind=kind, name=name, address=address)


@contextlib.asynccontextmanager
async def running(link: BleLink) -> AsyncIterator[asyncio.Task[None]]:
    """Run `link.run()` in a task for the block; cancel and await it afterwards."""
    task = asyncio.create_task(link.run(), name=f"link {link.label}")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

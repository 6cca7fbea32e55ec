"""I/O. Incline procedures on the treadmills: one at a time per deck, cancellable at once.

The rules have already decided (`SetIncline` carries the value and the limits the wire value
must respect); this part only runs the control-point procedure in its own task, so the
dispatcher never waits on Bluetooth, and reports the outcome back through the daemon's queue.
A red flag cancels a procedure in flight before its Set Target Inclination can be sent.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from treadwell.drivers.errors import TreadwellError
from treadwell.drivers.incline import InclineLimits

if TYPE_CHECKING:
    from collections.abc import Callable

    from treadwell.daemon.channel import TreadmillChannel
    from treadwell.rules.actions import SetIncline

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InclineDone:
    """A procedure finished (`error` None) or failed; goes back through the daemon's queue."""

    slug: str
    incline_pct: float
    error: str | None


class InclineProcedures:
    """The incline procedures in flight, by treadmill.

    Args:
        report: Called (from the procedure's task) with each outcome.
    """

    def __init__(self, report: Callable[[InclineDone], None]) -> None:
        self._report = report
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def busy(self, slug: str) -> bool:
        """Is a procedure under way on this treadmill?"""
        task = self._tasks.get(slug)
        return task is not None and not task.done()

    def start(self, channel: TreadmillChannel, action: SetIncline) -> None:
        """Start setting the incline the rules decided on (one procedure per deck at a time)."""
        if self.busy(channel.slug):
            _LOGGER.info("%s: an incline change is already under way", channel.slug)
            return
        limits = InclineLimits(action.min_pct, action.max_pct)
        task = asyncio.get_running_loop().create_task(
            self._run(channel, action.incline_pct, limits)
        )
        self._tasks[channel.slug] = task

    def cancel(self, slug: str, reason: str) -> None:
        """Stop the procedure in flight on `slug`, so nothing more of it reaches the deck."""
        task = self._tasks.pop(slug, None)
        if task is not None and not task.done():
            _LOGGER.warning("%s: incline change %s", slug, reason)
            task.cancel(reason)

    def cancel_all(self) -> None:
        """Cancel everything (the daemon is stopping)."""
        for slug in list(self._tasks):
            self.cancel(slug, "cancelled: the daemon is stopping")

    async def _run(
        self, channel: TreadmillChannel, incline_pct: float, limits: InclineLimits
    ) -> None:
        try:
            sent = await channel.link.set_incline(incline_pct, limits=limits)
        except TreadwellError as exc:
            self._report(InclineDone(channel.slug, incline_pct, str(exc)))
        except asyncio.CancelledError as exc:
            reason = str(exc.args[0]) if exc.args else "cancelled"
            self._report(InclineDone(channel.slug, incline_pct, reason))
            raise
        else:
            self._report(InclineDone(channel.slug, sent, None))

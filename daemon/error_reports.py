"""Pure. Reports of rejected commands for `{base}/error`: one by one, then summed up.

Up to `ERROR_REPORT_BURST` reports go out at once and `ERROR_REPORT_RATE_HZ` a second after
that (a token bucket). Past the limit rejections are counted, and one summary (with
`suppressed`: the count) follows as soon as the bucket allows. Commands dropped unread in a
flood are counted the same way. `treadwell.daemon.mqtt_core.BridgeCore` publishes them.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from treadwell.daemon.mqtt_pacing import ReportLimiter
from treadwell.daemon.payloads import ErrorReport

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

# The bridge core's log: these lines read as they did when the core kept the reports itself.
_LOGGER = logging.getLogger("treadwell.daemon.mqtt_core")

MAX_ERROR_REPORTS = 100
"""Reports held in memory at most; past this, rejections are only counted."""
ERROR_REPORT_BURST = 50
"""Rejected commands reported one by one before the rate limit applies."""
ERROR_REPORT_RATE_HZ = 10.0
"""Reports a second on `{base}/error` once the burst is spent (a summary counts as one)."""
DROPPED = "dropped unread: commands arrived faster than the daemon could handle them"


class ErrorReports:
    """The error reports waiting to be published, and the count of those summed up.

    Args:
        wall_clock: The time of day, for `received_at` in the reports.
    """

    def __init__(self, wall_clock: Callable[[], datetime]) -> None:
        self._wall_clock = wall_clock
        self._queue: deque[bytes] = deque()
        self._limiter = ReportLimiter(ERROR_REPORT_RATE_HZ, ERROR_REPORT_BURST)
        self._suppressed = 0
        self._dropped = 0  # of `suppressed`
        self._last: tuple[str, str] = ("", "")
        self._flooding = False

    def report(self, topic: str, error: str, now: float) -> None:
        """Queue a report of a rejected command, or count it when over the limit."""
        # While a summary is pending, later rejections join it: reports stay in order.
        held = self._suppressed > 0 or len(self._queue) >= MAX_ERROR_REPORTS
        if held or not self._limiter.take(now):
            self._suppress(topic, error)
            return
        self._flooding = False
        _LOGGER.warning("MQTT: rejected command on %s: %s", topic, error)
        report = ErrorReport(topic=topic, error=error, received_at=self._wall_clock())
        self._queue.append(report.to_json())

    def dropped(self, topic: str) -> None:
        """Count a command dropped unread (the incoming queue was full); it joins the summary."""
        self._dropped += 1
        self._suppress(topic, DROPPED)

    def _suppress(self, topic: str, error: str) -> None:
        if not self._flooding:
            self._flooding = True
            _LOGGER.warning(
                "MQTT: commands are rejected faster than %g a second; summing them up",
                ERROR_REPORT_RATE_HZ,
            )
        self._suppressed += 1
        self._last = (topic, error)

    @property
    def suppressed(self) -> int:
        """Rejected or dropped commands counted but not yet reported."""
        return self._suppressed

    @property
    def waiting(self) -> bool:
        """Whether a report or a summary of suppressed ones is still to go out."""
        return bool(self._queue) or self._suppressed > 0

    def next(self, now: float) -> bytes | None:
        """The report to publish next (a summary once the limit allows one), if any."""
        if not self._queue and self._suppressed and self._limiter.take(now):
            count, (topic, error) = self._suppressed, self._last
            dropped = f", {self._dropped} of them {DROPPED}" if self._dropped else ""
            self._suppressed = self._dropped = 0
            _LOGGER.warning(
                "MQTT: %d more commands rejected%s; the last on %s: %s",
                count,
                dropped,
                topic,
                error,
            )
            summary = ErrorReport(
                topic=topic,
                error=f"{count} more rejected commands not reported one by one{dropped};"
                f" the last: {error}",
                received_at=self._wall_clock(),
                suppressed=count,
            )
            self._queue.append(summary.to_json())
        return self._queue[0] if self._queue else None

    def sent(self) -> None:
        """The report `next` returned is with the broker."""
        self._queue.popleft()

    def wake_in(self, now: float) -> float | None:
        """Seconds until a summary may go out (None: none is waiting)."""
        if not self._suppressed:
            return None
        return self._limiter.wait_s(now) or 1.0 / ERROR_REPORT_RATE_HZ

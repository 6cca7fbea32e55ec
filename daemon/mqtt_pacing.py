"""Pure. Pacing for the MQTT bridge: the error-report rate limit and the reconnect delay."""

from __future__ import annotations


class ReportLimiter:
    """A token bucket: `burst` reports at once, then `rate_hz` a second."""

    def __init__(self, rate_hz: float, burst: int) -> None:
        self._rate_hz = rate_hz
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last: float | None = None

    def _refill(self, now: float) -> None:
        if self._last is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate_hz)
        self._last = now

    def take(self, now: float) -> bool:
        """Spend a token if there is one."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_s(self, now: float) -> float:
        """Seconds until a token is available."""
        self._refill(now)
        return max(0.0, (1.0 - self._tokens) / self._rate_hz)


class Reconnect:
    """When to reconnect, and whether another client seems to be using our client id.

    Failures are retried after a delay that doubles up to `maximum`. A connection that
    succeeds resets the delay, unless the broker keeps closing connections shortly after they
    open: `TAKEOVERS` sessions in a row that end within `window_s` of connecting (while every
    connect succeeds) are what two clients with one client id cause, as the broker hands the
    session to whichever connected last. Then the delay keeps doubling instead.

    Args:
        initial: First delay, in seconds.
        maximum: Cap of the doubling delay.
        window_s: A session shorter than this counts towards a suspected takeover.
    """

    TAKEOVERS = 3

    def __init__(self, initial: float, maximum: float, window_s: float) -> None:
        self._initial = initial
        self._maximum = maximum
        self._window_s = window_s
        self._delay = initial
        self._connected_at: float | None = None
        self.short_sessions = 0
        """Sessions in a row that the broker ended within `window_s` of connecting."""

    @property
    def takeover_suspected(self) -> bool:
        """Whether another client with the same id seems to be taking our session."""
        return self.short_sessions >= self.TAKEOVERS

    def connected(self, now: float) -> None:
        """A connection attempt succeeded."""
        self._connected_at = now

    def ended(self, now: float) -> float:
        """A session or connection attempt ended in failure; returns the delay before retrying."""
        if self._connected_at is None:
            self.short_sessions = 0  # the broker is unreachable: not a takeover
        elif now - self._connected_at < self._window_s:
            self.short_sessions += 1
        else:
            self.short_sessions = 0
        if self._connected_at is not None and not self.takeover_suspected:
            self._delay = self._initial
        self._connected_at = None
        delay = self._delay
        self._delay = min(self._delay * 2, self._maximum)
        return delay

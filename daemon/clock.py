"""I/O. The daemon's clock: wall time, or wall time sped up for the demo.

The rules engine has no clock; the daemon hands it `now`. In the demo the virtual treadmill
runs `speedup` times faster than real time, so the rules must see time pass just as fast, and
a prompt the rules schedule for "in an hour" must fire an hour of *demo* time later. `Clock`
maps between the two: `now()` is the (possibly sped-up) time the rules see, and `to_wall()`
turns one of those times back into the real time at which the scheduler must fire.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time, optionally running `speedup` times faster from the moment it is made."""

    def __init__(self, speedup: float = 1.0) -> None:
        """Start the clock now."""
        if speedup <= 0:
            raise ValueError(f"speedup must be > 0, got {speedup!r}")
        self.speedup = speedup
        self._origin_wall = datetime.now(UTC)
        self._origin_mono = time.monotonic()

    def now(self) -> datetime:
        """The current (possibly sped-up) time, timezone-aware UTC."""
        if self.speedup == 1.0:
            return datetime.now(UTC)
        elapsed = (time.monotonic() - self._origin_mono) * self.speedup
        return self._origin_wall + timedelta(seconds=elapsed)

    def to_wall(self, at: datetime) -> datetime:
        """The real time at which clock time `at` comes."""
        if self.speedup == 1.0:
            return at
        return self._origin_wall + (at - self._origin_wall) / self.speedup

    def seconds(self, clock_seconds: float) -> float:
        """How many real seconds `clock_seconds` of clock time take."""
        return clock_seconds / self.speedup

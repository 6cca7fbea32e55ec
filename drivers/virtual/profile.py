"""Pure. Scripted runs for the virtual treadmill: segments of speed and incline over time.

A profile is what a console program does: at each segment boundary it sets the belt speed and,
when the segment names one, the incline target. A segment at 0 km/h pauses the belt. Time is an
argument (seconds since the profile started), so the same profile plays on the real clock, on a
sped-up clock for the demo and on a virtual clock in tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

_SECONDS_PER_MINUTE = 60.0


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of a scripted run.

    Attributes:
        duration_s: How long it lasts, in seconds (> 0).
        speed_kmh: Belt speed; 0 pauses the belt for the segment.
        incline_pct: Incline target set when the segment starts, or None to leave it.
    """

    duration_s: float
    speed_kmh: float
    incline_pct: float | None = None

    def __post_init__(self) -> None:
        """Reject segments no treadmill could play."""
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ValueError(f"segment duration must be > 0 s, got {self.duration_s!r}")
        if not (math.isfinite(self.speed_kmh) and self.speed_kmh >= 0):
            raise ValueError(f"segment speed must be >= 0 km/h, got {self.speed_kmh!r}")
        if self.incline_pct is not None and not math.isfinite(self.incline_pct):
            raise ValueError(f"segment incline must be a number, got {self.incline_pct!r}")


@dataclass(frozen=True, slots=True)
class ProfilePosition:
    """Where a profile is at a given time.

    Attributes:
        index: The index of the current segment.
        segment: The current segment.
        elapsed_in_segment_s: Seconds since that segment started.
    """

    index: int
    segment: Segment
    elapsed_in_segment_s: float


@dataclass(frozen=True, slots=True)
class RunProfile:
    """A scripted run: segments played one after the other.

    Attributes:
        segments: The segments, in order (at least one).
    """

    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        """Reject an empty profile."""
        if not self.segments:
            raise ValueError("a run profile needs at least one segment")

    @classmethod
    def of(
        cls, segments: Iterable[Segment | tuple[float, float, float | None] | tuple[float, float]]
    ) -> RunProfile:
        """Build a profile from segments or `(duration_s, speed_kmh[, incline_pct])` tuples."""
        built = tuple(item if isinstance(item, Segment) else Segment(*item) for item in segments)
        return cls(built)

    @classmethod
    def steady(
        cls, minutes: float, speed_kmh: float, incline_pct: float | None = None
    ) -> RunProfile:
        """One segment at a constant speed (and incline) for `minutes`."""
        return cls((Segment(minutes * _SECONDS_PER_MINUTE, speed_kmh, incline_pct),))

    @classmethod
    def demo(cls) -> RunProfile:
        """About twenty minutes: warm-up walk, two runs with a short pause, cool-down walk."""
        minute = _SECONDS_PER_MINUTE
        return cls.of(
            [
                (3 * minute, 4.5, 1.0),
                (2 * minute, 5.5, 2.0),
                (5 * minute, 9.0, 1.0),
                (1 * minute, 0.0, None),
                (4 * minute, 10.0, 1.5),
                (2 * minute, 6.0, 2.5),
                (3 * minute, 4.0, 0.0),
            ]
        )

    @property
    def duration_s(self) -> float:
        """Total length of the run in seconds."""
        return sum(segment.duration_s for segment in self.segments)

    def position(self, elapsed_s: float) -> ProfilePosition | None:
        """Return the segment playing `elapsed_s` seconds after the start, None once finished.

        Raises:
            ValueError: If `elapsed_s` is negative or not a number.
        """
        if not (math.isfinite(elapsed_s) and elapsed_s >= 0):
            raise ValueError(f"elapsed time must be >= 0 s, got {elapsed_s!r}")
        start = 0.0
        for index, segment in enumerate(self.segments):
            if elapsed_s < start + segment.duration_s:
                return ProfilePosition(index, segment, elapsed_s - start)
            start += segment.duration_s
        return None

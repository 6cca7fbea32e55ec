"""Pure. Turning a requested incline into one the treadmill and the runner both accept.

docs/ftms.md §4 and §7.4: targets must lie within Supported Inclination Range and be a multiple of
its increment (0.5 % or 1 % on many decks, D8), or the treadmill answers Invalid Parameter.
On top of that the runner configures limits that the daemon must never exceed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from treadwell.drivers.errors import InclineOutOfLimitsError

_EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class InclineLimits:
    """The runner's configured incline limits, in percent (inclusive)."""

    min_pct: float
    max_pct: float

    def __post_init__(self) -> None:
        if self.min_pct > self.max_pct:
            raise ValueError(
                f"incline limits are reversed: min {self.min_pct} % > max {self.max_pct} %"
            )


def snap_incline(
    requested_pct: float,
    *,
    device_min_pct: float,
    device_max_pct: float,
    step_pct: float,
    limits: InclineLimits,
) -> float:
    """Return the incline to send for a request: in range, on the step, within the limits.

    A request outside the runner's limits is refused, never clamped: the limits are a safety
    setting. A request within them is clamped to the treadmill's range and rounded to the
    nearest multiple of its step that still lies inside both.

    Args:
        requested_pct: The incline asked for.
        device_min_pct: The treadmill's minimum (negative for decline-capable decks).
        device_max_pct: The treadmill's maximum.
        step_pct: The treadmill's increment (0 or less means any 0.1 % value).
        limits: The runner's limits.

    Returns:
        The incline to send, in percent, rounded to 0.1 %.

    Raises:
        InclineOutOfLimitsError: The request is outside the limits, or no value on the
            treadmill's step lies within both the limits and the treadmill's range.
    """
    if not limits.min_pct - _EPSILON <= requested_pct <= limits.max_pct + _EPSILON:
        raise InclineOutOfLimitsError(
            f"refusing incline {requested_pct:g} %: your configured limits are "
            f"{limits.min_pct:g} % to {limits.max_pct:g} % (change them in the config "
            "if this is really what you want)"
        )
    low = max(limits.min_pct, device_min_pct)
    high = min(limits.max_pct, device_max_pct)
    step = step_pct if step_pct > 0 else 0.1
    first = math.ceil((low - _EPSILON) / step)
    last = math.floor((high + _EPSILON) / step)
    if first > last:
        raise InclineOutOfLimitsError(
            f"cannot set incline {requested_pct:g} %: the treadmill offers "
            f"{device_min_pct:g} % to {device_max_pct:g} % in {step:g} % steps, and none of "
            f"those lies within your limits {limits.min_pct:g} % to {limits.max_pct:g} %"
        )
    nearest = min(max(math.floor(requested_pct / step + 0.5 + _EPSILON), first), last)
    return round(nearest * step, 1)

"""Pure. Which readings the rules must see one by one, and which they may see folded together.

On a steady run a treadmill's notifications repeat one another: the same speed, incline,
heart rate, cadence and step length, only the odometer a little further on. Such a reading
tells the rules nothing but that time passed. The daemon (`daemon/repeats.py`) therefore
holds back a reading that `repeats` the last one the rules decided, for less than
`hold_window` after it, and sends the rules the latest of the ones it held, with the readings
it closes (`ReadingReceived.earlier`), before anything else reaches them: a reading that
differs, a reading one window after the last decided one, or any other input.

What the rules make of the readings stays the same, but for timing:

* Statistics are exact. Along a run of repeats the odometer only grows, so the distance
  telescopes; time at speed and in the incline window is speed (or incline) times time with
  the speed unchanged; the heart-rate sums count each reading (`ReadingReceived.earlier`).
  A reading that differs from the held ones in heart rate alone may close them too, when no
  form baseline can be taken meanwhile (`Hold.heart_rate_may_change`): heart rate is read by
  nothing else.
* Every rule that compares the gap between two readings with a limit (a statistic's
  `MAX_SAMPLE_GAP_S`, the form stretch's and the stride's `MAX_GAP_S`, a run's
  `stop_timeout_s`) sees gaps under two windows where it would have seen gaps under one;
  `hold_window` keeps two windows within each limit, so no such comparison turns out
  differently.
* Repeats are held only in a run under way, at running speed: a run cannot start, end or
  time out on a held reading.
* A decision that waits for time to pass (incline help once the run is under way, the form
  cue at a distance, the stride cue after a spell, a flag's expiry) is taken at the next
  reading the rules see: up to a window late, and a later one timed from it as late again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from treadwell.rules import form, session, stride
from treadwell.rules.session import Phase

if TYPE_CHECKING:
    from datetime import datetime

    from treadwell.rules.engine import EngineState
    from treadwell.rules.model import Reading

__all__ = ["HOLD_WINDOW_S", "Hold", "hold_window", "repeats"]

HOLD_WINDOW_S = 1.0
"""The longest a repeat is held back: the most a time-driven decision is delayed."""

# The gap limits of the rules that compare readings' gaps; the window is kept to half of each.
_GAP_LIMITS_S = (session.MAX_SAMPLE_GAP_S, form.MAX_GAP_S, stride.MAX_GAP_S)
_WINDOW_S = min(HOLD_WINDOW_S, *(limit / 2 for limit in _GAP_LIMITS_S))


def repeats(last: Reading, reading: Reading, *, but_heart_rate: bool = False) -> bool:
    """Does `reading` repeat `last` (all the rules read but the odometer's progress)?

    The odometer may only have grown (or be missing from both): a total that went back is a
    counter reset, which the distance statistic must see. The console's elapsed time is
    not read by the rules. `but_heart_rate`: the heart rate may differ too.
    """
    total, before = reading.total_distance_m, last.total_distance_m
    if total is None or before is None:
        if total is not before:
            return False
    elif total < before:
        return False
    return (
        reading.speed_kmh == last.speed_kmh
        and reading.incline_pct == last.incline_pct
        and (but_heart_rate or reading.heart_rate_bpm == last.heart_rate_bpm)
        and reading.cadence_spm == last.cadence_spm
        and reading.stride_length_m == last.stride_length_m
    )


@dataclass(frozen=True, slots=True)
class Hold:
    """How a reading's repeats may be held back from the engine that just decided it.

    Attributes:
        window: For how long after it.
        heart_rate_may_change: A reading that differs from it in heart rate alone may close
            the held repeats too (`ReadingReceived.earlier`): the heart rate is read only by
            the statistics and the form cue's baseline, and no baseline can be taken within
            two windows (or one is taken already, or drift is not watched).
    """

    window: timedelta
    heart_rate_may_change: bool


def hold_window(engine: EngineState, reading: Reading, now: datetime) -> Hold | None:
    """How repeats of `reading` may be held back from an engine that decided it at `now`.

    None when they must each be decided: no run under way, or the belt below running speed
    (a run may end, start or time out), or runs that end after so short a stillness that
    two windows would not fit in it.
    """
    speed = reading.speed_kmh
    config = engine.config
    run = engine.session.run
    if engine.session.phase is not Phase.RUNNING or speed is None or run is None:
        return None
    if speed < config.run_start_speed_kmh:
        return None
    seconds = min(_WINDOW_S, config.stop_timeout_s / 2)
    if seconds <= 0:
        return None
    window = timedelta(seconds=seconds)
    stretch = engine.form.stretch
    if config.hr_drift_bpm is None or stretch is None or stretch.baseline_bpm is not None:
        return Hold(window, heart_rate_may_change=True)
    settled = stretch.since + timedelta(seconds=config.hr_settle_s)
    old_enough = run.started_at + timedelta(seconds=config.hr_baseline_after_s)
    return Hold(window, heart_rate_may_change=now + 2 * window < max(settled, old_enough))

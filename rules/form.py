"""Pure. When to cue running form: late in a run with an achy back.

Many runners hold a neutral spine for the first ~3 km and lose it as they tire. Two signs of
"late" are watched: the run's distance reaching `form_cue_distance_m`, and heart rate drifting
up by `hr_drift_bpm` while the effort stays the same (the cardiovascular sign of fatigue).

Drift compares like with like. Heart rate is followed over a *stretch*: running at one speed
(within `steady_speed_tolerance_kmh`) and one incline. A change of speed or incline, the belt
standing still, or the treadmill falling silent for more than `MAX_GAP_S` ends the stretch and
starts a new one. Heart rate rises for a few minutes after the belt starts, a speed-up or a
hill, and falls in a pause, so a stretch's baseline is taken only after `hr_settle_s` in it
(and not before the run is `hr_baseline_after_s` old); the normal rise to a harder effort, or
back to speed after a pause, never counts as drift. A settled heart rate that falls below the
baseline becomes the new baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from treadwell.rules.incline import INCLINE_TOLERANCE_PCT

if TYPE_CHECKING:
    from dataclasses import replace  # checked as the standard one

    from treadwell.rules.model import Reading, RulesConfig
else:
    from treadwell.rules.evolve import replace  # the same results, faster

__all__ = ["MAX_GAP_S", "FormReason", "FormState", "Stretch", "decide"]

MAX_GAP_S = 20.0
"""Readings further apart than this (a pause on a silent treadmill) end the stretch."""


class FormReason(StrEnum):
    """Why the form cue is due."""

    DISTANCE = "distance"
    HEART_RATE_DRIFT = "heart_rate_drift"


@dataclass(frozen=True, slots=True)
class Stretch:
    """A stretch of running at one speed and incline, and its heart-rate baseline once settled.

    Attributes:
        since: When the stretch began.
        last_at: The stretch's latest reading.
        speed_kmh: The speed the stretch began at.
        incline_pct: The incline it began at (None: the treadmill does not report one).
        baseline_bpm: The settled heart rate drift is measured from (None: not settled yet).
    """

    since: datetime
    last_at: datetime
    speed_kmh: float
    incline_pct: float | None
    baseline_bpm: int | None = None


@dataclass(frozen=True, slots=True)
class FormState:
    """The current stretch of steady running, if there is one."""

    stretch: Stretch | None = None


def _same_effort(
    stretch: Stretch, speed_kmh: float, incline_pct: float | None, config: RulesConfig
) -> bool:
    if abs(speed_kmh - stretch.speed_kmh) > config.steady_speed_tolerance_kmh:
        return False
    if incline_pct is None or stretch.incline_pct is None:
        return incline_pct is stretch.incline_pct
    return abs(incline_pct - stretch.incline_pct) <= INCLINE_TOLERANCE_PCT


def _follow(
    stretch: Stretch | None, reading: Reading, speed_kmh: float, now: datetime, config: RulesConfig
) -> Stretch | None:
    """The stretch this reading belongs to: the current one, a new one, or none (belt still)."""
    if speed_kmh < config.run_start_speed_kmh:
        return None
    if (
        stretch is None
        or now - stretch.last_at > timedelta(seconds=MAX_GAP_S)
        or not _same_effort(stretch, speed_kmh, reading.incline_pct, config)
    ):
        return Stretch(since=now, last_at=now, speed_kmh=speed_kmh, incline_pct=reading.incline_pct)
    return replace(stretch, last_at=now)


def _track_drift(
    state: FormState, reading: Reading, now: datetime, run_age: timedelta, config: RulesConfig
) -> tuple[FormState, bool]:
    speed, drift = reading.speed_kmh, config.hr_drift_bpm
    if drift is None or speed is None:
        return state, False
    stretch = _follow(state.stretch, reading, speed, now, config)
    hr = reading.heart_rate_bpm
    if stretch is None or hr is None:
        return FormState(stretch), False
    baseline = stretch.baseline_bpm
    if baseline is None:
        settled = now - stretch.since >= timedelta(seconds=config.hr_settle_s)
        if settled and run_age >= timedelta(seconds=config.hr_baseline_after_s):
            stretch = replace(stretch, baseline_bpm=hr)
        return FormState(stretch), False
    if hr < baseline:
        # A lower settled heart rate is the better baseline to measure drift from.
        return FormState(replace(stretch, baseline_bpm=hr)), False
    return FormState(stretch), hr - baseline >= drift


def decide(
    state: FormState,
    *,
    reading: Reading,
    distance_m: float,
    run_started_at: datetime,
    now: datetime,
    config: RulesConfig,
) -> tuple[FormState, FormReason | None]:
    """Follow heart rate at a steady effort and say whether (and why) a form cue is due now."""
    state, drifted = _track_drift(state, reading, now, now - run_started_at, config)
    if distance_m >= config.form_cue_distance_m:
        return state, FormReason.DISTANCE
    return state, FormReason.HEART_RATE_DRIFT if drifted else None

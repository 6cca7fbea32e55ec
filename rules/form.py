"""Pure. When to cue running form: late in a run with an achy back.

Many runners hold a neutral spine for the first ~3 km and lose it as they tire. Two signs of
"late" are watched: the run's distance reaching `form_cue_distance_m`, and heart rate drifting
up by `hr_drift_bpm` while pace and incline stay steady (the cardiovascular sign of fatigue).

The heart-rate baseline is taken once the run is `hr_baseline_after_s` old (heart rate needs
a few minutes to settle) and is taken again whenever speed moves by more than
`steady_speed_tolerance_kmh` or the incline changes: a harder effort is not drift.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from treadwell.rules.incline import INCLINE_TOLERANCE_PCT

if TYPE_CHECKING:
    from treadwell.rules.model import Reading, RulesConfig

__all__ = ["Baseline", "FormReason", "FormState", "decide"]


class FormReason(StrEnum):
    """Why the form cue is due."""

    DISTANCE = "distance"
    HEART_RATE_DRIFT = "heart_rate_drift"


@dataclass(frozen=True, slots=True)
class Baseline:
    """Heart rate at the start of a stretch of steady running, and that stretch's pace."""

    hr_bpm: int
    speed_kmh: float
    incline_pct: float | None


@dataclass(frozen=True, slots=True)
class FormState:
    """The heart-rate baseline for the current stretch of steady running, if taken."""

    baseline: Baseline | None = None


def _steady(
    baseline: Baseline, speed_kmh: float, incline_pct: float | None, config: RulesConfig
) -> bool:
    if abs(speed_kmh - baseline.speed_kmh) > config.steady_speed_tolerance_kmh:
        return False
    if incline_pct is None or baseline.incline_pct is None:
        return incline_pct is baseline.incline_pct
    return abs(incline_pct - baseline.incline_pct) <= INCLINE_TOLERANCE_PCT


def _track_drift(
    state: FormState, reading: Reading, run_age: timedelta, config: RulesConfig
) -> tuple[FormState, bool]:
    hr, speed, drift = reading.heart_rate_bpm, reading.speed_kmh, config.hr_drift_bpm
    if drift is None or hr is None or speed is None:
        return state, False
    if run_age < timedelta(seconds=config.hr_baseline_after_s):
        return state, False
    baseline = state.baseline
    if baseline is None or not _steady(baseline, speed, reading.incline_pct, config):
        return FormState(Baseline(hr, speed, reading.incline_pct)), False
    if hr < baseline.hr_bpm:
        # A lower steady heart rate is the better baseline to measure drift from.
        return FormState(replace(baseline, hr_bpm=hr)), False
    return state, hr - baseline.hr_bpm >= drift


def decide(
    state: FormState,
    *,
    reading: Reading,
    distance_m: float,
    run_started_at: datetime,
    now: datetime,
    config: RulesConfig,
) -> tuple[FormState, FormReason | None]:
    """Track heart rate and say whether (and why) a form cue is due now."""
    state, drifted = _track_drift(state, reading, now - run_started_at, config)
    if distance_m >= config.form_cue_distance_m:
        return state, FormReason.DISTANCE
    return state, FormReason.HEART_RATE_DRIFT if drifted else None

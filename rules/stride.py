"""Pure. Overstriding, from cadence and step length: a cue in the run, a shoe note after it.

Overstriding is the foot landing far in front of the body, usually heel first; the impact
travels up to the lower back. At a given speed, fewer steps per minute mean longer steps, so
the pattern shows as a low cadence with long steps. Cadence comes from a footpod (or from the
treadmill's step count, when it reports one); step length from the footpod, or else from speed
and cadence (speed / cadence).

Only running counts (`stride_min_speed_kmh` and up). A reading overstrides when its cadence
is below `overstride_cadence_spm` and its step is at least `overstride_step_m` long. After
`overstride_after_s` of overstriding without a break, the stride cue is due, once a run. The
run's running time with stride data and the part of it spent overstriding are added up; when
that part reaches `shoe_note_fraction` (over at least `shoe_note_min_s` of data), overstriding
*persisted*, and the post-run shoe note is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataclasses import replace  # checked as the standard one

    from treadwell.rules.model import Reading, RulesConfig
else:
    from treadwell.rules.evolve import replace  # the same results, faster

__all__ = [
    "MAX_GAP_S",
    "STEP_WINDOW_S",
    "StrideCue",
    "StrideState",
    "cadence_from_steps",
    "decide",
    "overstriding",
    "persisted",
    "step_m",
]

MAX_GAP_S = 10.0
"""Readings further apart than this add no time (the data was missing in between)."""

STEP_WINDOW_S = 5.0
"""A cadence from step counts needs counts at least this far apart (whole steps are coarse)."""


@dataclass(frozen=True, slots=True)
class StrideState:
    """Overstriding in the current run.

    Attributes:
        last_at: The latest reading with stride data at running speed (None: none yet).
        since: When the current unbroken spell of overstriding began (None: not in one).
        measured_s: Running time with stride data.
        overstride_s: The part of it spent overstriding.
        cued: The stride cue was given in this run.
    """

    last_at: datetime | None = None
    since: datetime | None = None
    measured_s: float = 0.0
    overstride_s: float = 0.0
    cued: bool = False


@dataclass(frozen=True, slots=True)
class StrideCue:
    """The stride cue is due: at this cadence and speed."""

    cadence_spm: float
    speed_kmh: float


def step_m(reading: Reading) -> float | None:
    """The step length: the footpod's, else speed / cadence, else None (no cadence or speed)."""
    if reading.stride_length_m is not None:
        return reading.stride_length_m
    if reading.cadence_spm is None or reading.cadence_spm <= 0 or reading.speed_kmh is None:
        return None
    return reading.speed_kmh / 3.6 * 60 / reading.cadence_spm


def _judge(reading: Reading, config: RulesConfig) -> tuple[bool, float, float] | None:
    """(overstriding?, cadence, speed) for a reading at running speed with stride data."""
    speed, cadence, step = reading.speed_kmh, reading.cadence_spm, step_m(reading)
    if speed is None or cadence is None or step is None or speed < config.stride_min_speed_kmh:
        return None
    over = cadence < config.overstride_cadence_spm and step >= config.overstride_step_m
    return over, cadence, speed


def overstriding(reading: Reading, config: RulesConfig) -> bool | None:
    """Does this reading overstride? None when it cannot tell (no data, or not running)."""
    judged = _judge(reading, config)
    return None if judged is None else judged[0]


def decide(
    state: StrideState, reading: Reading, now: datetime, config: RulesConfig
) -> tuple[StrideState, StrideCue | None]:
    """Fold one reading in; return the new state and the cue when it is due now."""
    judged = _judge(reading, config)
    if judged is None:
        # Walking, or no stride data: an unbroken spell of overstriding is broken.
        return replace(state, since=None), None
    over, cadence, speed = judged
    gap = None if state.last_at is None else (now - state.last_at).total_seconds()
    continuous = gap is not None and 0 <= gap <= MAX_GAP_S
    dt = gap if continuous and gap is not None else 0.0
    since = state.since if continuous else None
    state = replace(
        state,
        last_at=now,
        measured_s=state.measured_s + dt,
        overstride_s=state.overstride_s + (dt if over and since is not None else 0.0),
        since=(since or now) if over else None,
    )
    if state.cued or state.since is None:
        return state, None
    if now - state.since < timedelta(seconds=config.overstride_after_s):
        return state, None
    return replace(state, cued=True), StrideCue(cadence, speed)


def persisted(state: StrideState, config: RulesConfig) -> bool:
    """Did overstriding persist over the run (the shoe note's condition)?"""
    if state.measured_s < config.shoe_note_min_s:
        return False
    return state.overstride_s >= config.shoe_note_fraction * state.measured_s


def cadence_from_steps(
    previous: tuple[int, datetime] | None, steps: int, now: datetime
) -> float | None:
    """Steps per minute from a treadmill's running step count: the earlier count and now.

    None when there is no earlier count, the counter went back (a new workout), the counts
    are less than `STEP_WINDOW_S` apart (keep the earlier one and try again) or more than
    `MAX_GAP_S` (start again from this one).
    """
    if previous is None:
        return None
    count, at = previous
    seconds = (now - at).total_seconds()
    if steps < count or not STEP_WINDOW_S <= seconds <= MAX_GAP_S:
        return None
    return (steps - count) * 60 / seconds

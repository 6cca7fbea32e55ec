"""Pure. Incline help for an achy back: suggest (and maybe set) 2-3 %, and never fight the runner.

The rule: with an `ache` flag in force, once a run is underway on less than the window's lower
edge, suggest the target incline snapped to what the treadmill can do and what the runner
allows. With automation allowed and a treadmill that can set incline, also set it. Limits:

- never outside the window, above the runner's maximum, or outside the treadmill's range;
- at most one incline action per `incline_interval_s`;
- a suggestion is repeated only after the incline was seen inside the window and fell out
  again (the runner heard us the first time);
- a manual change after ours (an incline differing from ours once ours was confirmed, or once
  the treadmill had `incline_settle_s` to get there) ends incline help for the whole run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from treadwell.rules.model import BackPain, RulesConfig, Treadmill

if TYPE_CHECKING:
    from dataclasses import replace  # checked as the standard one
else:
    from treadwell.rules.evolve import replace  # the same results, faster

__all__ = ["INCLINE_TOLERANCE_PCT", "InclineDecision", "InclineState", "decide", "target_incline"]

# Treadmills report incline in 0.1 % units; within this we are "at" the incline we set.
INCLINE_TOLERANCE_PCT = 0.1
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class InclineState:
    """What incline help has done in the current run."""

    last_action_at: datetime | None = None
    last_set_pct: float | None = None
    last_set_at: datetime | None = None
    confirmed: bool = False
    overridden: bool = False
    armed: bool = True
    suggestions: int = 0


@dataclass(frozen=True, slots=True)
class InclineDecision:
    """Suggest `incline_pct`; `set_it` when the engine should also set it on the treadmill."""

    incline_pct: float
    set_it: bool


def target_incline(config: RulesConfig, treadmill: Treadmill | None) -> float | None:
    """The incline to suggest: the target snapped into every limit, or None if none fits.

    Without a known treadmill the target is only clamped to the window and the runner's max.
    With one, it is the treadmill step nearest the target within the window, its range and
    the runner's max; a step that cannot land inside all of them gives None.
    """
    low = config.incline_window_min_pct
    high = min(config.incline_window_max_pct, config.max_incline_pct)
    if treadmill is not None:
        low = max(low, treadmill.min_incline_pct)
        high = min(high, treadmill.max_incline_pct)
    if low > high:
        return None
    if treadmill is None:
        return min(max(config.incline_target_pct, low), high)
    base, step = treadmill.min_incline_pct, treadmill.step_pct
    first = math.ceil((low - base) / step - _EPS)
    last = math.floor((high - base) / step + _EPS)
    if first > last:
        return None
    nearest = min(max(round((config.incline_target_pct - base) / step), first), last)
    # Rounding keeps 0.1-steps tidy; the clamp keeps float noise from crossing a limit.
    return min(max(round(base + nearest * step, 6), low), high)


def observe(
    state: InclineState, incline_pct: float, now: datetime, config: RulesConfig
) -> InclineState:
    """Update from an incline the treadmill reported: confirmation, manual change, re-arming."""
    in_window = config.incline_window_min_pct <= incline_pct <= config.incline_window_max_pct
    if in_window and not state.armed:
        state = replace(state, armed=True)
    if state.last_set_pct is None or state.last_set_at is None or state.overridden:
        return state
    if abs(incline_pct - state.last_set_pct) <= INCLINE_TOLERANCE_PCT + _EPS:
        return replace(state, confirmed=True)
    settled = now - state.last_set_at >= timedelta(seconds=config.incline_settle_s)
    if state.confirmed or settled:
        return replace(state, overridden=True)
    return state


def decide(
    state: InclineState,
    *,
    incline_pct: float | None,
    flag: BackPain,
    run_started_at: datetime,
    now: datetime,
    config: RulesConfig,
    treadmill: Treadmill | None,
) -> tuple[InclineState, InclineDecision | None]:
    """Observe the current incline, then decide whether to suggest (and set) a new one."""
    if incline_pct is None:
        return state, None
    state = observe(state, incline_pct, now, config)
    if (
        flag is not BackPain.ACHE
        or state.overridden
        or not state.armed
        or incline_pct >= config.incline_window_min_pct
        or now - run_started_at < timedelta(seconds=config.incline_underway_s)
    ):
        return state, None
    interval = timedelta(seconds=config.incline_interval_s)
    if state.last_action_at is not None and now - state.last_action_at < interval:
        return state, None
    target = target_incline(config, treadmill)
    if target is None:
        return state, None
    set_it = config.automation_allowed and treadmill is not None and treadmill.can_set_incline
    state = replace(
        state,
        last_action_at=now,
        armed=False,
        suggestions=state.suggestions + 1,
        last_set_pct=target if set_it else state.last_set_pct,
        last_set_at=now if set_it else state.last_set_at,
        confirmed=False if set_it else state.confirmed,
    )
    return state, InclineDecision(target, set_it)

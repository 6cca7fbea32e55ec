"""Pure. The warm-up comes before the run: when the treadmill connects or wakes, belt still.

Dynamic stretches belong before the belt moves (one of them is done on the floor), so the
warm-up is *offered* as soon as there is a sign a run is coming: the treadmill connecting, or
waking up (a reading with the belt still after at least `stop_timeout_s` of silence). An offer
covers a run that starts within `warmup_window_s`; such a run adopts it and gets no second
warm-up. A run that starts without a valid offer gets the warm-up when it starts, as a last
resort. Either way a run gets the warm-up once, and an offer serves one run only.

With a red flag of the stop level no warm-up is offered: the runner is asked not to run.
Offers carry their own prompt id (`prerun-<time>:warmup`); the run that adopts one counts it
among its prompts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from treadwell.rules import catalogue
from treadwell.rules.model import BackPain, Prompt, PromptKind

if TYPE_CHECKING:
    from dataclasses import replace  # checked as the standard one

    from treadwell.rules.model import Reading, RulesConfig
else:
    from treadwell.rules.evolve import replace  # the same results, faster

__all__ = ["WarmupState", "at_run_start", "offer_id", "on_connected", "on_reading"]


@dataclass(frozen=True, slots=True)
class WarmupState:
    """The warm-up offered before a run, and what the treadmill was last heard doing.

    Attributes:
        offered_id: The prompt id of the offer not yet adopted by a run (None: none open).
        offered_at: When that offer was made.
        last_heard_at: The latest reading from the treadmill (to tell a wake-up).
        adopted_id: The warm-up the current run got (before or at its start), if any.
    """

    offered_id: str | None = None
    offered_at: datetime | None = None
    last_heard_at: datetime | None = None
    adopted_id: str | None = None


def offer_id(now: datetime) -> str:
    """The prompt id of a warm-up offered before a run at `now`."""
    return "prerun-" + now.strftime("%Y%m%dT%H%M%SZ") + f":{PromptKind.WARMUP}"


def _open_offer(state: WarmupState, now: datetime, config: RulesConfig) -> bool:
    at = state.offered_at
    return at is not None and now - at <= timedelta(seconds=config.warmup_window_s)


def _offer(
    state: WarmupState, now: datetime, flag: BackPain, config: RulesConfig
) -> tuple[WarmupState, Prompt | None]:
    if flag is BackPain.RED or _open_offer(state, now, config):
        return state, None
    prompt_id = offer_id(now)
    prompt = _prompt(prompt_id, None, now)
    return replace(state, offered_id=prompt_id, offered_at=now), prompt


def _prompt(prompt_id: str, run_id: str | None, now: datetime) -> Prompt:
    text = catalogue.warmup()
    return Prompt(
        id=prompt_id,
        kind=PromptKind.WARMUP,
        title=text.title,
        message=text.message,
        steps=text.steps,
        run_id=run_id,
        created_at=now,
        disclaimer=catalogue.DISCLAIMER,
    )


def on_connected(
    state: WarmupState, *, running: bool, flag: BackPain, now: datetime, config: RulesConfig
) -> tuple[WarmupState, Prompt | None]:
    """A treadmill connected: offer the warm-up unless a run is on or an offer is open."""
    if running:
        return state, None
    return _offer(state, now, flag, config)


def on_reading(
    state: WarmupState,
    reading: Reading,
    *,
    running: bool,
    flag: BackPain,
    now: datetime,
    config: RulesConfig,
) -> tuple[WarmupState, Prompt | None]:
    """A reading arrived: a still belt after a long silence is a treadmill waking up."""
    last, state = state.last_heard_at, replace(state, last_heard_at=now)
    speed = reading.speed_kmh
    if running or speed is None or speed >= config.run_start_speed_kmh:
        return state, None
    woke = last is None or now - last >= timedelta(seconds=config.stop_timeout_s)
    return _offer(state, now, flag, config) if woke else (state, None)


def at_run_start(
    state: WarmupState, run_id: str, *, flag: BackPain, now: datetime, config: RulesConfig
) -> tuple[WarmupState, Prompt | None]:
    """A run started: it adopts an open offer, or gets the warm-up now (none with `red`)."""
    opened = state.offered_id if _open_offer(state, now, config) else None
    state = replace(state, offered_id=None, offered_at=None, adopted_id=opened)
    if opened is not None or flag is BackPain.RED:
        return state, None
    prompt = _prompt(f"{run_id}:{PromptKind.WARMUP}", run_id, now)
    return replace(state, adopted_id=prompt.id), prompt

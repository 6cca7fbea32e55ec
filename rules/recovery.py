"""Pure. After the run: drink now, stretch now, a drink reminder and a check-in later.

The later prompts are `SchedulePrompt` intents: the daemon persists them, so they survive a
restart, and publishes each at its time. Keys and prompt ids derive from the run id, so the
same run always produces the same schedule.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from treadwell.rules import catalogue
from treadwell.rules.actions import RunSummary, SchedulePrompt
from treadwell.rules.model import BackPain, Prompt, PromptKind, RulesConfig

__all__ = ["checkin_key", "hydration_key", "make_prompt", "run_end_actions"]


def make_prompt(
    prompt_id: str,
    kind: PromptKind,
    text: catalogue.PromptText,
    run_id: str | None,
    created_at: datetime,
    *,
    suggested_incline_pct: float | None = None,
    urgent: bool = False,
) -> Prompt:
    """Build a prompt from catalogue text, with the disclaimer every health prompt carries."""
    return Prompt(
        id=prompt_id,
        kind=kind,
        title=text.title,
        message=text.message,
        steps=text.steps,
        run_id=run_id,
        created_at=created_at,
        disclaimer=catalogue.DISCLAIMER,
        suggested_incline_pct=suggested_incline_pct,
        urgent=urgent,
    )


def hydration_key(run_id: str) -> str:
    """Schedule key (and prompt id) of the later hydration reminder for `run_id`."""
    return f"{run_id}:{PromptKind.HYDRATION}:2"


def checkin_key(run_id: str) -> str:
    """Schedule key (and prompt id) of the check-in for `run_id`."""
    return f"{run_id}:{PromptKind.CHECKIN}"


def run_end_actions(
    summary: RunSummary,
    flag: BackPain,
    now: datetime,
    config: RulesConfig,
    *,
    overstrided: bool = False,
) -> tuple[tuple[Prompt, ...], tuple[SchedulePrompt, ...]]:
    """The prompts for a finished run: hydration and stretch now, reminder and check-in later.

    Returns the prompts to publish now and the ones to schedule.

    With a red flag (either level) the stretch routine is left out: that pain needs a
    provider's look first. When overstriding persisted in the run (`overstrided`), a note on
    shoes follows the stretch.
    """
    run_id = summary.run_id
    prompts = [
        make_prompt(
            f"{run_id}:{PromptKind.HYDRATION}",
            PromptKind.HYDRATION,
            catalogue.hydration(summary.duration_s),
            run_id,
            now,
        )
    ]
    if not flag.is_red_flag:
        prompts.append(
            make_prompt(
                f"{run_id}:{PromptKind.STRETCH}",
                PromptKind.STRETCH,
                catalogue.stretch(),
                run_id,
                now,
            )
        )
    if overstrided:
        prompts.append(
            make_prompt(
                f"{run_id}:{PromptKind.SHOES}", PromptKind.SHOES, catalogue.shoes(), run_id, now
            )
        )
    later = (
        (hydration_key(run_id), PromptKind.HYDRATION, catalogue.hydration_reminder(),
         config.hydration_reminder_after_s),
        (checkin_key(run_id), PromptKind.CHECKIN, catalogue.checkin(), config.checkin_after_s),
    )  # fmt: skip
    scheduled: list[SchedulePrompt] = []
    for key, kind, text, after_s in later:
        at = summary.ended_at + timedelta(seconds=after_s)
        scheduled.append(SchedulePrompt(key, at, make_prompt(key, kind, text, run_id, at)))
    return tuple(prompts), tuple(scheduled)

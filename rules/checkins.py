"""Pure. Check-in history and escalation: when recurring back pain calls for a physical therapist.

The history holds the last M finished runs, oldest first, each with the back pain reported for
it (None until a check-in arrives). A check-in belongs to the most recent finished run; a later
check-in for the same run replaces the earlier one, so pain that resolved counts as resolved.

Escalation: when at least N of those runs were painful, suggest a physical therapist, once.
The suggestion is made again only after a pain-free stretch: when no painful run is left in
the window, the episode is over and a new one may escalate again.

Red flags (`level`): sharp pain, pain shooting down the leg, or pain at night should be seen
by a healthcare provider soon (`BackPain.CHECK`); most runners may keep running meanwhile.
Pain that is sharp, severe (at least `severe_pain` on the 0-10 scale) *and* travels down the
leg means stop running until a provider has seen it (`BackPain.RED`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from treadwell.rules import catalogue, recovery
from treadwell.rules.model import BackPain, PainKind, Prompt, PromptKind

if TYPE_CHECKING:
    from dataclasses import replace  # checked as the standard one
    from datetime import datetime
else:
    from treadwell.rules.evolve import replace  # the same results, faster

__all__ = [
    "CheckinEntry",
    "add_run",
    "level",
    "most_serious",
    "painful_runs",
    "record_checkin",
    "red_flag_prompt",
    "run_for_checkin",
]

# From the least to the most serious: the one a history entry keeps when several are named.
_SERIOUSNESS = (PainKind.NONE, PainKind.ACHE, PainKind.NIGHT, PainKind.RADIATING, PainKind.SHARP)


@dataclass(frozen=True, slots=True)
class CheckinEntry:
    """One finished run and the pain reported after it (None: no check-in yet)."""

    run_id: str
    pain: int | None = None
    kind: PainKind | None = None

    @property
    def painful(self) -> bool:
        """Was back pain reported for this run?"""
        return bool(self.pain) or self.kind not in {None, PainKind.NONE}


def add_run(
    history: tuple[CheckinEntry, ...], run_id: str, window: int
) -> tuple[CheckinEntry, ...]:
    """Append a finished run, keeping only the last `window` runs."""
    return (*history, CheckinEntry(run_id))[-window:]


def run_for_checkin(history: tuple[CheckinEntry, ...], run_id: str | None) -> str | None:
    """The run a check-in is about: `run_id` when the history has it, else the latest run."""
    if run_id is not None and any(entry.run_id == run_id for entry in history):
        return run_id
    return history[-1].run_id if history else None


def record_checkin(
    history: tuple[CheckinEntry, ...], pain: int, kind: PainKind, run_id: str | None = None
) -> tuple[CheckinEntry, ...]:
    """Attach a check-in to run `run_id` (default: the most recent finished run).

    With no runs there is nothing to attach to; an unknown `run_id` means the latest run.
    """
    target = run_for_checkin(history, run_id)
    return tuple(
        replace(entry, pain=pain, kind=kind) if entry.run_id == target else entry
        for entry in history
    )


def painful_runs(history: tuple[CheckinEntry, ...]) -> int:
    """How many runs in the history were painful."""
    return sum(entry.painful for entry in history)


def most_serious(kinds: frozenset[PainKind]) -> PainKind:
    """The most serious of the kinds a check-in named (`none` when it named none)."""
    return max(kinds, key=_SERIOUSNESS.index, default=PainKind.NONE)


def level(pain: int, kinds: frozenset[PainKind], severe_pain: int) -> BackPain | None:
    """The red-flag level a check-in calls for, or None when it names no red-flag kind.

    `RED` (stop running until seen) needs sharp pain that travels down the leg at `severe_pain`
    or more; any other red-flag kind, or a milder score, is `CHECK` (get it checked soon).
    """
    if not any(kind.is_red_flag for kind in kinds):
        return None
    if {PainKind.SHARP, PainKind.RADIATING} <= kinds and pain >= severe_pain:
        return BackPain.RED
    return BackPain.CHECK


def red_flag_prompt(
    flag: BackPain, run_id: str | None, n: int, now: datetime, *, from_checkin: bool
) -> Prompt | None:
    """The prompt for a red flag: "stop running" for `RED`, "get it checked" for `CHECK`.

    Its id is `"{owner}:{kind}"` (`":{n}"` appended for n > 1), the owner being the run, or
    `checkin-<time>` outside any run. Other flags have no such prompt (None).
    """
    if flag is BackPain.RED:
        kind, text, urgent = PromptKind.STOP_RUNNING, catalogue.stop_running, True
    elif flag is BackPain.CHECK:
        kind, text, urgent = PromptKind.GET_CHECKED, catalogue.get_checked, False
    else:
        return None
    owner = run_id or "checkin-" + now.strftime("%Y%m%dT%H%M%SZ")
    prompt_id = f"{owner}:{kind}" + (f":{n}" if n > 1 else "")
    return recovery.make_prompt(
        prompt_id, kind, text(from_checkin=from_checkin), run_id, now, urgent=urgent
    )

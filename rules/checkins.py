"""Pure. Check-in history and escalation: when recurring back pain calls for a physical therapist.

The history holds the last M finished runs, oldest first, each with the back pain reported for
it (None until a check-in arrives). A check-in belongs to the most recent finished run; a later
check-in for the same run replaces the earlier one, so pain that resolved counts as resolved.

Escalation: when at least N of those runs were painful, suggest a physical therapist, once.
The suggestion is made again only after a pain-free stretch: when no painful run is left in
the window, the episode is over and a new one may escalate again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from treadwell.rules.model import PainKind

__all__ = ["CheckinEntry", "add_run", "painful_runs", "record_checkin", "run_for_checkin"]


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

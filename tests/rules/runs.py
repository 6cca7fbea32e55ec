"""Helpers for driving the rules engine through time in tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from treadwell.rules.actions import Action, PublishPrompt, SchedulePrompt, SetIncline
from treadwell.rules.engine import EngineState, evaluate
from treadwell.rules.events import Event, ReadingReceived
from treadwell.rules.model import Prompt, PromptKind, Reading, Treadmill

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

T0 = datetime(2026, 11, 26, 22, 15, tzinfo=UTC)
MILL = Treadmill(can_set_incline=True, min_incline_pct=0.0, max_incline_pct=15.0, step_pct=0.5)


def at(seconds: float) -> datetime:
    """The instant `seconds` after T0."""
    return T0 + timedelta(seconds=seconds)


@dataclass
class Driver:
    """Feeds events to the engine and keeps every action, in order."""

    state: EngineState
    actions: list[Action]

    def send(self, seconds: float, event: Event) -> tuple[Action, ...]:
        """Evaluate one event at T0 + seconds."""
        self.state, out = evaluate(self.state, event, at(seconds))
        self.actions.extend(out)
        return out

    def send_all(self, events: Iterable[tuple[float, Event]]) -> None:
        """Evaluate many (seconds, event) pairs."""
        for seconds, event in events:
            self.send(seconds, event)

    def belt(
        self,
        start_s: float,
        end_s: float,
        *,
        speed_kmh: float = 10.0,
        incline_pct: float | None = 0.0,
        heart_rate_bpm: int | None = None,
        step_s: float = 5.0,
        follow_incline: bool = True,
        cadence_spm: float | None = None,
        stride_length_m: float | None = None,
    ) -> None:
        """Readings every `step_s` at a steady speed; the incline follows what we set."""
        t = start_s
        incline = incline_pct
        while t <= end_s:
            reading = Reading(
                speed_kmh,
                incline,
                None,
                heart_rate_bpm,
                None,
                cadence_spm=cadence_spm,
                stride_length_m=stride_length_m,
            )
            self.send(t, ReadingReceived(reading))
            if follow_incline:
                for action in self.actions[-3:]:
                    if isinstance(action, SetIncline):
                        incline = action.incline_pct
            t += step_s

    def prompts(self) -> list[Prompt]:
        """Every prompt published so far."""
        return published(self.actions)

    def kinds(self) -> list[PromptKind]:
        """The kinds of the prompts published so far."""
        return [p.kind for p in self.prompts()]


def published(actions: Sequence[Action]) -> list[Prompt]:
    """The prompts among `actions`, in order."""
    return [a.prompt for a in actions if isinstance(a, PublishPrompt)]


def scheduled(actions: Sequence[Action]) -> list[SchedulePrompt]:
    """The scheduled prompts among `actions`, in order."""
    return [a for a in actions if isinstance(a, SchedulePrompt)]


def set_inclines(actions: Sequence[Action]) -> list[SetIncline]:
    """The incline commands among `actions`, in order."""
    return [a for a in actions if isinstance(a, SetIncline)]

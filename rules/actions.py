"""Pure. What the rules engine asks the daemon to do: the actions `evaluate` returns.

There is deliberately no action that changes the belt speed: the engine can only suggest or
set an incline, publish and schedule prompts, and report runs and flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from treadwell.rules.model import Flags, Prompt

__all__ = [
    "Action",
    "CancelScheduled",
    "FlagsChanged",
    "InclineSource",
    "PublishPrompt",
    "RunEnded",
    "RunStarted",
    "RunSummary",
    "SchedulePrompt",
    "SetIncline",
]


@dataclass(frozen=True, slots=True)
class PublishPrompt:
    """Publish `prompt` now."""

    prompt: Prompt


class InclineSource(StrEnum):
    """Who asked for an incline."""

    AUTOMATION = "automation"
    DASHBOARD = "dashboard"


@dataclass(frozen=True, slots=True)
class SetIncline:
    """Set the treadmill's incline (FTMS control point); never anything else.

    The engine gives the incline and its run; the household's incline policy adds the
    treadmill and the limits the value on the wire must respect (`min_pct`..`max_pct`).
    """

    incline_pct: float
    run_id: str
    treadmill: str = ""
    min_pct: float = 0.0
    max_pct: float = 0.0
    source: InclineSource = InclineSource.AUTOMATION


@dataclass(frozen=True, slots=True)
class SchedulePrompt:
    """Persist `prompt` and publish it at `at` (re-dated then); `key` names the schedule entry.

    When it fires, the daemon sends `TimerFired(key)` back so the engine knows it went out.
    """

    key: str
    at: datetime
    prompt: Prompt


@dataclass(frozen=True, slots=True)
class CancelScheduled:
    """Drop the scheduled prompt `key` if it has not fired yet."""

    key: str


@dataclass(frozen=True, slots=True)
class RunStarted:
    """A run began (`started_at` is when the belt started moving)."""

    run_id: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a finished run looked like.

    `moving_s` counts time at or above the run-start speed; averages are None when nothing
    reported them. `prompt_ids` are the prompts issued during the run, in order. `runner` and
    `treadmill` are filled in by the household.
    """

    run_id: str
    started_at: datetime
    ended_at: datetime
    duration_s: float
    moving_s: float
    distance_m: float
    average_speed_kmh: float | None
    incline_time_in_window_s: float
    average_hr_bpm: float | None
    max_hr_bpm: int | None
    prompt_ids: tuple[str, ...]
    runner: str | None = None
    treadmill: str | None = None


@dataclass(frozen=True, slots=True)
class RunEnded:
    """A run finished."""

    summary: RunSummary


@dataclass(frozen=True, slots=True)
class FlagsChanged:
    """The back-pain flags changed (set, cleared, expired, or raised by a check-in)."""

    flags: Flags


Action = (
    PublishPrompt
    | SetIncline
    | SchedulePrompt
    | CancelScheduled
    | RunStarted
    | RunEnded
    | FlagsChanged
)

"""Pure. The values the rules engine reasons about: flags, readings, prompts, capabilities, config.

Every value is a frozen, slotted dataclass; strings that leave the process are `StrEnum`s.
Constructors check what a caller can get wrong (a naive datetime, an inverted range, a
threshold out of order) and raise `RulesInputError` with a message that says what to fix, so
bad input is refused at the edge instead of turning into a strange decision later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from treadwell.rules.errors import TreadwellError

__all__ = [
    "MAX_PAIN",
    "BackPain",
    "Flags",
    "PainKind",
    "Prompt",
    "PromptKind",
    "Reading",
    "RulesConfig",
    "RulesInputError",
    "Step",
    "Treadmill",
    "require_aware",
]


MAX_PAIN = 10
"""The top of the 0-10 pain scale check-ins use."""


class RulesInputError(TreadwellError, ValueError):
    """A value handed to the rules engine that it cannot use (the message says why)."""


def require_aware(name: str, value: datetime | None) -> None:
    """Refuse a naive datetime: the engine compares instants, never wall-clock readings.

    Raises:
        RulesInputError: `value` is a datetime without a timezone.
    """
    if value is not None and value.utcoffset() is None:
        raise RulesInputError(f"{name} must be timezone-aware (UTC), got naive {value!r}")


class BackPain(StrEnum):
    """How the runner's back is, as set by the runner or raised by a check-in.

    The two red-flag levels (`CHECK` and `RED`) both switch incline help off. `red` is the
    value flags, configs and MQTT payloads have always used for "stop running", and it keeps
    that meaning; `check` is the milder level added beside it.
    """

    NONE = "none"
    ACHE = "ache"
    """Ache or stiffness: keep running, with incline and form help."""
    CHECK = "check"
    """Sharp, shooting or night pain: have it checked soon; running is not forbidden."""
    RED = "red"
    """Sharp, severe pain travelling down the leg: stop running until a provider has seen it."""

    @property
    def is_red_flag(self) -> bool:
        """True for both red-flag levels: no incline automation, no incline changes."""
        return self in {BackPain.CHECK, BackPain.RED}


class PainKind(StrEnum):
    """The kind of back pain reported in a check-in."""

    NONE = "none"
    ACHE = "ache"
    SHARP = "sharp"
    RADIATING = "radiating"
    NIGHT = "night"

    @property
    def is_red_flag(self) -> bool:
        """True for the kinds a healthcare provider should look at (see `checkins.level`)."""
        return self in {PainKind.SHARP, PainKind.RADIATING, PainKind.NIGHT}


@dataclass(frozen=True, slots=True)
class Flags:
    """The back-pain flag the runner set, and when it stops applying (None: until cleared)."""

    back_pain: BackPain = BackPain.NONE
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        require_aware("Flags.expires_at", self.expires_at)

    def effective(self, now: datetime) -> BackPain:
        """The flag that applies at `now`: an expired flag counts as `none`."""
        if self.expires_at is not None and now >= self.expires_at:
            return BackPain.NONE
        return self.back_pain


class PromptKind(StrEnum):
    """What a health prompt is about."""

    WARMUP = "warmup"
    INCLINE = "incline"
    FORM = "form"
    HYDRATION = "hydration"
    STRETCH = "stretch"
    CHECKIN = "checkin"
    SEE_PHYSIO = "see_physio"
    STOP_RUNNING = "stop_running"
    GET_CHECKED = "get_checked"
    STRIDE = "stride"
    SHOES = "shoes"


@dataclass(frozen=True, slots=True)
class Step:
    """One exercise in a routine: held for `seconds`, or done for `reps`, maybe on each side.

    A time range ("20-30 s") is `seconds` (the lower end) with `max_seconds` (the upper end);
    `how` says how to do the exercise, in a sentence or two.
    """

    name: str
    seconds: int | None = None
    reps: str | None = None
    per_side: bool = False
    max_seconds: int | None = None
    how: str | None = None

    def __post_init__(self) -> None:
        if self.max_seconds is not None and (
            self.seconds is None or self.max_seconds < self.seconds
        ):
            raise RulesInputError(
                f"step {self.name!r}: max_seconds {self.max_seconds} needs seconds <= it"
            )

    @property
    def duration(self) -> str | None:
        """The time as shown to the runner: "20 s", "20-30 s", or None for a step without one."""
        if self.seconds is None:
            return None
        if self.max_seconds is None or self.max_seconds == self.seconds:
            return f"{self.seconds} s"
        return f"{self.seconds}-{self.max_seconds} s"


@dataclass(frozen=True, slots=True)
class Prompt:
    """A health prompt for the runner.

    `id` is stable for a run and a reason, so a re-delivered prompt can be de-duplicated.
    `runner` names the household member it is for (set by the household, not the engine).
    """

    id: str
    kind: PromptKind
    title: str
    message: str
    steps: tuple[Step, ...]
    run_id: str | None
    created_at: datetime
    disclaimer: str
    suggested_incline_pct: float | None = None
    urgent: bool = False
    runner: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """One treadmill/strap sample; a field is None when no device reports it."""

    speed_kmh: float | None = None
    incline_pct: float | None = None
    total_distance_m: float | None = None
    heart_rate_bpm: int | None = None
    elapsed_time_s: int | None = None
    cadence_spm: float | None = None
    """Steps per minute (both feet), from a footpod or the treadmill's step count."""
    stride_length_m: float | None = None
    """Length of one step in metres, as a footpod measures it (None: derive it from speed)."""


@dataclass(frozen=True, slots=True)
class Treadmill:
    """What the connected treadmill can do with its incline (FTMS Supported Inclination Range)."""

    can_set_incline: bool
    min_incline_pct: float
    max_incline_pct: float
    step_pct: float

    def __post_init__(self) -> None:
        values = (self.min_incline_pct, self.max_incline_pct, self.step_pct)
        if not all(math.isfinite(v) for v in values):
            raise RulesInputError(f"treadmill incline range must be finite numbers: {values}")
        if self.min_incline_pct > self.max_incline_pct:
            raise RulesInputError(
                f"treadmill incline range is inverted: min {self.min_incline_pct} "
                f"> max {self.max_incline_pct}"
            )
        if self.step_pct <= 0:
            raise RulesInputError(f"treadmill incline step must be > 0, got {self.step_pct}")


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """Every threshold the rules use. Durations are seconds; speeds km/h; inclines percent.

    Attributes:
        run_start_speed_kmh: The belt counts as moving at or above this (2.0: a slow walk).
        run_start_s: The belt must keep moving this long before a run starts.
        stop_timeout_s: A run ends once the belt has been still (or silent) this long;
            shorter stops are pauses the run survives.
        pause_tolerance_s: A pause reported by the treadmill itself is kept this long.
        incline_window_min_pct: Lower edge of the back-friendly incline window.
        incline_window_max_pct: Upper edge of that window.
        incline_target_pct: The incline suggested inside the window.
        max_incline_pct: The runner's own ceiling; nothing above it is ever suggested or set.
        automation_allowed: May the engine set the incline itself (ache flag only)?
        incline_underway_s: How long a run must be going before incline help starts.
        incline_interval_s: At most one incline action per this many seconds.
        incline_settle_s: Time the treadmill gets to reach an incline we set; a different
            incline after that (or after ours was confirmed) is the runner's choice.
        form_cue_distance_m: With an ache flag, the form cue comes after this distance.
        hr_drift_bpm: Heart-rate rise at a steady pace that also brings the form cue
            (None: do not watch heart rate).
        hr_baseline_after_s: No heart-rate baseline is taken earlier in a run than this.
        hr_settle_s: Heart rate needs this long to settle after the belt starts, a change
            of speed or incline, or a pause; only then is the baseline (re)taken.
        steady_speed_tolerance_kmh: Speed changes larger than this restart the baseline.
        severe_pain: On the 0-10 check-in scale, pain at or above this counts as severe:
            severe, sharp pain travelling down the leg means stop running until seen.
        warmup_window_s: A warm-up offered before the belt moves (treadmill connected or
            woken) covers a run that starts within this time; later runs get their own.
        stride_min_speed_kmh: Stride is judged only at or above this speed (running).
        overstride_cadence_spm: Fewer steps per minute than this, at running speed ...
        overstride_step_m: ... with steps at least this long (metres, one foot to the
            other), counts as overstriding.
        overstride_after_s: Overstriding must last this long without a break before the
            stride cue (at most once a run).
        shoe_note_fraction: When overstriding took at least this share of the running time
            with stride data ...
        shoe_note_min_s: ... and there were at least this many seconds of such data, the
            post-run note on shoes is added.
        hydration_reminder_after_s: The later hydration reminder, after the run ends.
        checkin_after_s: The "how is your back?" check-in, after the run ends.
        escalate_painful_runs: Painful runs (N) among ...
        escalate_window_runs: ... the last M runs that lead to a physical-therapist prompt.
    """

    run_start_speed_kmh: float = 2.0
    run_start_s: float = 5.0
    stop_timeout_s: float = 120.0
    pause_tolerance_s: float = 600.0
    incline_window_min_pct: float = 2.0
    incline_window_max_pct: float = 3.0
    incline_target_pct: float = 2.5
    max_incline_pct: float = 3.0
    automation_allowed: bool = True
    incline_underway_s: float = 60.0
    incline_interval_s: float = 300.0
    incline_settle_s: float = 30.0
    form_cue_distance_m: float = 3000.0
    hr_drift_bpm: int | None = 10
    hr_baseline_after_s: float = 600.0
    hr_settle_s: float = 180.0
    steady_speed_tolerance_kmh: float = 0.5
    severe_pain: int = 7
    warmup_window_s: float = 1800.0
    stride_min_speed_kmh: float = 7.0
    overstride_cadence_spm: float = 150.0
    overstride_step_m: float = 1.0
    overstride_after_s: float = 60.0
    shoe_note_fraction: float = 0.5
    shoe_note_min_s: float = 300.0
    hydration_reminder_after_s: float = 3600.0
    checkin_after_s: float = 7200.0
    escalate_painful_runs: int = 3
    escalate_window_runs: int = 5

    def __post_init__(self) -> None:
        for problem in self._problems():
            raise RulesInputError(f"invalid rules config: {problem}")

    def _problems(self) -> list[str]:
        problems = [
            f"{name} must be a finite number >= 0, got {value}"
            for name, value in (
                ("run_start_speed_kmh", self.run_start_speed_kmh),
                ("stop_timeout_s", self.stop_timeout_s),
                ("pause_tolerance_s", self.pause_tolerance_s),
                ("incline_underway_s", self.incline_underway_s),
                ("incline_interval_s", self.incline_interval_s),
                ("incline_settle_s", self.incline_settle_s),
                ("form_cue_distance_m", self.form_cue_distance_m),
                ("hr_baseline_after_s", self.hr_baseline_after_s),
                ("hr_settle_s", self.hr_settle_s),
                ("warmup_window_s", self.warmup_window_s),
                ("stride_min_speed_kmh", self.stride_min_speed_kmh),
                ("overstride_cadence_spm", self.overstride_cadence_spm),
                ("overstride_step_m", self.overstride_step_m),
                ("overstride_after_s", self.overstride_after_s),
                ("shoe_note_min_s", self.shoe_note_min_s),
                ("steady_speed_tolerance_kmh", self.steady_speed_tolerance_kmh),
                ("hydration_reminder_after_s", self.hydration_reminder_after_s),
                ("checkin_after_s", self.checkin_after_s),
                ("max_incline_pct", self.max_incline_pct),
            )
            if not (math.isfinite(value) and value >= 0)
        ]
        if not self.run_start_s >= 1:
            # Run ids carry the start second: one second apart keeps them unique.
            problems.append(f"run_start_s must be >= 1, got {self.run_start_s}")
        window = (self.incline_window_min_pct, self.incline_target_pct, self.incline_window_max_pct)
        if not (0 <= window[0] <= window[1] <= window[2] and math.isfinite(window[2])):
            problems.append(f"need 0 <= incline window min <= target <= max, got {window}")
        if not 1 <= self.severe_pain <= MAX_PAIN:
            problems.append(f"severe_pain must be 1 to {MAX_PAIN}, got {self.severe_pain}")
        if not 0 < self.shoe_note_fraction <= 1:
            problems.append(
                f"shoe_note_fraction must be > 0 and <= 1, got {self.shoe_note_fraction}"
            )
        if self.hr_drift_bpm is not None and self.hr_drift_bpm < 1:
            problems.append(f"hr_drift_bpm must be >= 1 or None, got {self.hr_drift_bpm}")
        if not 1 <= self.escalate_painful_runs <= self.escalate_window_runs:
            problems.append(
                "need 1 <= escalate_painful_runs <= escalate_window_runs, got "
                f"{self.escalate_painful_runs} of {self.escalate_window_runs}"
            )
        return problems

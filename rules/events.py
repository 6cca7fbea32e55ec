"""Pure. What can happen to the rules engine: the events `evaluate` accepts.

The daemon turns BLE notifications, MQTT commands and its own timers into these. Events that
carry user input check it on construction (`RulesInputError`), so nothing invalid gets in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from treadwell.rules.model import (
    MAX_PAIN,
    BackPain,
    PainKind,
    Reading,
    RulesInputError,
    Treadmill,
    require_aware,
)

__all__ = [
    "CheckinReceived",
    "Earlier",
    "Event",
    "FlagSet",
    "MachineStarted",
    "MachineStopped",
    "ReadingReceived",
    "TimerFired",
    "TreadmillConnected",
    "TreadmillDisconnected",
]


@dataclass(frozen=True, slots=True)
class ReadingReceived:
    """A treadmill/strap sample arrived.

    `earlier`: readings before it that it closes. The daemon need not send the rules every
    repeat of an unchanged reading (`rules/repeats.py`); the reading that closes a run of
    repeats comes with them, so per-reading statistics (the heart-rate average) come out as
    if each had been sent.
    """

    reading: Reading
    earlier: Earlier | None = None


@dataclass(frozen=True, slots=True)
class Earlier:
    """Readings a `ReadingReceived` closes: equal to it but for the odometer and heart rate.

    Attributes:
        count: How many (at least one).
        heart_rate_bpm: The heart rate they had (all the same), or None.
    """

    count: int
    heart_rate_bpm: int | None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise RulesInputError(f"earlier readings are at least one, got {self.count}")


@dataclass(frozen=True, slots=True)
class MachineStopped:
    """The treadmill reported that it stopped (`paused`: the runner paused it)."""

    paused: bool


@dataclass(frozen=True, slots=True)
class MachineStarted:
    """The treadmill reported that it started or resumed."""


@dataclass(frozen=True, slots=True)
class TreadmillConnected:
    """A treadmill connected; `treadmill` says what its incline can do."""

    treadmill: Treadmill


@dataclass(frozen=True, slots=True)
class TreadmillDisconnected:
    """The treadmill went away: nothing can be set on it until it is back."""


@dataclass(frozen=True, slots=True)
class FlagSet:
    """The runner set a back-pain flag, optionally until `expires_at`."""

    back_pain: BackPain
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        require_aware("FlagSet.expires_at", self.expires_at)


@dataclass(frozen=True, slots=True)
class CheckinReceived:
    """The runner answered "how is your back?": pain 0-10, what kind (or kinds), which run.

    `kind` is the first kind named; `other_kinds` the rest, when the pain is more than one
    thing at once (sharp *and* running down the leg). `none` cannot be combined. `run_id`
    None means the runner's most recent finished run.
    """

    pain: int
    kind: PainKind
    other_kinds: tuple[PainKind, ...] = ()
    run_id: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.pain <= MAX_PAIN:
            raise RulesInputError(f"check-in pain must be 0 to {MAX_PAIN}, got {self.pain}")
        if self.other_kinds and PainKind.NONE in self.kinds:
            raise RulesInputError("check-in kind 'none' cannot be combined with other kinds")

    @property
    def kinds(self) -> frozenset[PainKind]:
        """Every kind the runner named."""
        return frozenset((self.kind, *self.other_kinds))

    @property
    def painful(self) -> bool:
        """Did the runner report any back pain?"""
        return self.pain > 0 or self.kinds != {PainKind.NONE}


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer of the daemon fired: a scheduled prompt's `key`, or any tick.

    The engine has no clock, so run timeouts are noticed on the next event; the daemon sends
    a tick now and then (say every 10 s) so a run also ends when the treadmill goes silent.
    """

    key: str


Event = (
    ReadingReceived
    | MachineStopped
    | MachineStarted
    | TreadmillConnected
    | TreadmillDisconnected
    | FlagSet
    | CheckinReceived
    | TimerFired
)

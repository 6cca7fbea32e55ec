"""Folds a treadmill's repeated readings before they reach the rules (`rules/repeats.py`).

For each treadmill this remembers the last reading the rules decided and, while a run is
under way, holds back readings that repeat it for less than a window after it. What comes
back from `on_reading` and `flush` is what the rules must decide now, in that order, each
with the time it is to be decided at (a held reading: the time it came); the daemon calls
`decided` after each reading it decides, with the hold the rules give for its repeats, and
`other_decided` after anything else.

A held reading is sent, standing for itself and every reading it replaced:

* before a reading of its treadmill that does not repeat it, or that came a window after it;
* as the next reading one window after the last one decided, when that repeats it too, or
  as the next reading that differs from it in heart rate alone, when the rules allow that
  (`rules.repeats.Hold.heart_rate_may_change`);
* before any other input that reaches the rules (`flush`): a command, a tick, a status;
  after which (`other_decided`) the next reading of every treadmill is decided.

No clock and no I/O: time comes in as an argument. Not thread-safe (the dispatcher's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from treadwell.rules.events import Earlier, ReadingReceived
from treadwell.rules.household import TreadmillEvent
from treadwell.rules.repeats import repeats

if TYPE_CHECKING:
    from datetime import datetime

    from treadwell.rules.model import Reading
    from treadwell.rules.repeats import Hold

__all__ = ["Repeats"]


@dataclass(slots=True)
class _Decided:
    """The last reading the rules decided for a treadmill, and how its repeats may wait."""

    reading: Reading
    at: datetime
    hold: Hold | None


@dataclass(slots=True)
class _Held:
    """The latest repeat held back, and how many readings it stands for (itself included)."""

    treadmill: str
    reading: Reading
    at: datetime
    count: int


class Repeats:
    """Every treadmill's last decided reading and held repeat (see the module docstring)."""

    def __init__(self) -> None:
        self._decided: dict[str, _Decided] = {}
        self._held: dict[str, _Held] = {}
        self.spared = 0
        """Readings so far the rules decided as part of a later one, not on their own."""

    @property
    def held(self) -> int:
        """How many treadmills have a reading held back."""
        return len(self._held)

    def on_reading(
        self, order: TreadmillEvent, reading: Reading, now: datetime
    ) -> list[tuple[TreadmillEvent, datetime]]:
        """A reading's order came at `now`: what to decide now (possibly nothing).

        `reading` is the one in `order` (`order.event.reading`), passed to save a lookup.
        """
        slug = order.treadmill
        last = self._decided.get(slug)
        hold = None if last is None else last.hold
        if last is None or hold is None:
            return [*self._take(slug), (order, now)]
        held = self._held.get(slug)
        window = hold.window
        if repeats(last.reading, reading):
            if now - last.at < window:
                self._held[slug] = _Held(slug, reading, now, 1 if held is None else held.count + 1)
                self.spared += held is not None
                return []
        elif not hold.heart_rate_may_change or not repeats(
            last.reading, reading, but_heart_rate=True
        ):
            return [*self._take(slug), (order, now)]
        if held is not None and now - held.at < window:
            # The held repeats as close together as ever: this reading closes them (a window
            # after the last one decided, or with a new heart rate) and is decided for all.
            del self._held[slug]
            self.spared += 1
            earlier = Earlier(held.count, last.reading.heart_rate_bpm)
            return [(TreadmillEvent(slug, ReadingReceived(reading, earlier)), now)]
        return [*self._take(slug), (order, now)]

    def decided(self, slug: str, reading: Reading, at: datetime, hold: Hold | None) -> None:
        """The rules decided `reading` of `slug` at `at`; its repeats may wait as `hold` says."""
        self._decided[slug] = _Decided(reading, at, hold)

    def flush(self) -> list[tuple[TreadmillEvent, datetime]]:
        """Every held reading, oldest first: another input is about to reach the rules."""
        if not self._held:
            return []
        held = sorted(self._held.values(), key=lambda h: h.at)
        self._held.clear()
        return [(_order(h), h.at) for h in held]

    def other_decided(self) -> None:
        """The rules decided something other than a reading (after `flush`).

        It may have changed what a treadmill's engine is doing (a pause, a run's end), which
        the holds were given for: the next reading of every treadmill is decided.
        """
        self._decided.clear()

    def _take(self, slug: str) -> list[tuple[TreadmillEvent, datetime]]:
        held = self._held.pop(slug, None)
        return [] if held is None else [(_order(held), held.at)]


def _order(held: _Held) -> TreadmillEvent:
    """A held reading's order, closing the readings it replaced (all with its heart rate)."""
    count, reading = held.count, held.reading
    earlier = Earlier(count - 1, reading.heart_rate_bpm) if count > 1 else None
    return TreadmillEvent(held.treadmill, ReadingReceived(reading, earlier))

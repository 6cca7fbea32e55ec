"""Pure. Which heart rate to believe when both the strap and the treadmill report one.

docs/ftms.md §8.3: a chest strap measures the heart directly, while treadmill HR comes from hand
grips or a receiver of its own; when the strap has a fresh reading with skin contact it wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from treadwell.drivers.codec.heart_rate import HeartRateMeasurement, SensorContact
from treadwell.drivers.events import HeartRateSource


@dataclass(frozen=True, slots=True)
class HeartRateChoice:
    """The heart rate to use and where it came from."""

    heart_rate_bpm: int
    source: HeartRateSource


class HeartRateArbiter:
    """Keeps the latest strap and treadmill heart rates and picks one (strap first).

    A strap reading counts while it is younger than `stale_after_s`, is above zero and the
    strap does not say it has lost skin contact. Otherwise a fresh treadmill value is used.
    """

    def __init__(self, *, stale_after_s: float = 5.0) -> None:
        self._stale_after_s = stale_after_s
        # The choice each source would give, made once when its value arrives, and when.
        self._strap: tuple[HeartRateChoice, float] | None = None
        self._treadmill: tuple[HeartRateChoice, float] | None = None

    def on_strap(self, measurement: HeartRateMeasurement, now: float) -> None:
        """Record a strap measurement taken at `now` (loop seconds)."""
        usable = (
            measurement.heart_rate_bpm > 0
            and measurement.sensor_contact is not SensorContact.NO_CONTACT
        )
        bpm = measurement.heart_rate_bpm
        self._strap = (HeartRateChoice(bpm, HeartRateSource.STRAP), now) if usable else None

    def on_treadmill(self, heart_rate_bpm: int | None, now: float) -> None:
        """Record the heart rate of a treadmill reading (None when it reported none)."""
        self._treadmill = (
            (HeartRateChoice(heart_rate_bpm, HeartRateSource.TREADMILL), now)
            if heart_rate_bpm
            else None
        )

    def strap_lost(self) -> None:
        """Forget the strap's value (its link dropped)."""
        self._strap = None

    def choose(self, now: float) -> HeartRateChoice | None:
        """Return the heart rate to use at `now`, or None when no fresh value exists."""
        for held in (self._strap, self._treadmill):
            if held is not None and now - held[1] <= self._stale_after_s:
                return held[0]
        return None

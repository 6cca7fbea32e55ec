"""Pure. Total distance for decks whose own distance is stuck at 0 or moves in coarse steps.

Some walking pads report a total distance that stays at 0 m while the belt runs, or that moves
only in whole tens of metres. The estimator integrates the reported speed between records and
takes over where the deck's value is unusable:

- stuck: the deck still says 0 m once the integrated distance passed `STUCK_AFTER_M`; from
  then on the integrated distance is reported;
- coarse: every change the deck reported so far was a whole multiple of `COARSE_STEP_M`
  (at least `COARSE_CHANGES` of them); the reported value is then refined by the distance
  integrated since the deck's last step, never reaching the deck's next step.

Time comes in as an argument (seconds on any monotonic clock). The value handed out never
decreases while the deck's own value does not.
"""

from __future__ import annotations

from dataclasses import dataclass

STUCK_AFTER_M = 20.0
COARSE_STEP_M = 10
COARSE_CHANGES = 2
_MAX_GAP_S = 10.0  # a longer gap between records is not integrated (link loss, pause)


@dataclass(frozen=True, slots=True)
class DistanceEstimate:
    """A total distance and whether it was estimated rather than taken from the deck."""

    total_m: int | None
    estimated: bool


class DistanceEstimator:
    """Integrates speed and decides per record whether the deck's distance is usable."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new connection or a new workout)."""
        self._last_t: float | None = None
        self._last_speed = 0.0
        self._integrated = 0.0
        self._since_step = 0.0
        self._deck_last: int | None = None
        self._changes = 0
        self._coarse = True
        self._output = 0

    def feed(self, t_s: float, speed_kmh: float | None, deck_m: int | None) -> DistanceEstimate:
        """Take one record's speed and distance at time `t_s`; return the distance to report."""
        if self._last_t is not None and 0 < t_s - self._last_t <= _MAX_GAP_S:
            gained = self._last_speed / 3.6 * (t_s - self._last_t)
            self._integrated += gained
            self._since_step += gained
        self._last_t = t_s
        self._last_speed = max(speed_kmh or 0.0, 0.0)
        if deck_m is None:
            return DistanceEstimate(None, estimated=False)
        if self._deck_last is not None and deck_m < self._deck_last:
            # The deck started a new workout: start over with it.
            self.reset()
            self._last_t, self._deck_last = t_s, deck_m
            return DistanceEstimate(deck_m, estimated=False)
        if self._deck_last is not None and deck_m != self._deck_last:
            self._changes += 1
            self._since_step = 0.0
            if (deck_m - self._deck_last) % COARSE_STEP_M:
                self._coarse = False
        self._deck_last = deck_m
        if deck_m == 0 and self._integrated >= STUCK_AFTER_M:
            return self._out(int(self._integrated), estimated=True)
        if self._coarse and self._changes >= COARSE_CHANGES:
            refined = deck_m + min(int(self._since_step), COARSE_STEP_M - 1)
            return self._out(refined, estimated=True)
        return self._out(deck_m, estimated=False)

    def _out(self, value: int, *, estimated: bool) -> DistanceEstimate:
        self._output = max(self._output, value)
        return DistanceEstimate(self._output, estimated=estimated)

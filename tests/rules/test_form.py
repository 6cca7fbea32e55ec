"""The form cue's heart-rate drift: like compared with like, on realistic heart-rate curves.

Each case is a run sampled every 5 s: belt speed and incline as the console has them, heart
rate as a chest strap would show it (rising after a start, a speed-up or a hill, falling in a
pause, creeping up slowly late in a long steady run). Only the last kind is drift.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from tests.rules.runs import MILL, T0, Driver, at
from treadwell.rules import form
from treadwell.rules.engine import initial_state
from treadwell.rules.events import FlagSet, MachineStarted, MachineStopped, TreadmillConnected
from treadwell.rules.model import BackPain, PromptKind, Reading, RulesConfig

CONFIG = RulesConfig(form_cue_distance_m=1_000_000)  # only heart rate brings the cue here


def _piecewise(points: list[tuple[float, float]], t: float) -> float:
    """Linear interpolation through (time, value) points; flat beyond the last."""
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t0 <= t <= t1:
            return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return points[-1][1]


@dataclass(frozen=True)
class Curve:
    """A run: speed and incline segments (from, value) and heart-rate points (time, bpm)."""

    end_s: float
    speed: list[tuple[float, float]]
    incline: list[tuple[float, float]]
    hr: list[tuple[float, float]]
    silent: tuple[float, float] | None = None  # no readings at all in this span

    def step(self, points: list[tuple[float, float]], t: float) -> float:
        return [v for start, v in points if start <= t][-1]

    def readings(self) -> list[tuple[float, Reading]]:
        out = []
        t = 0.0
        while t <= self.end_s:
            if self.silent is None or not self.silent[0] <= t < self.silent[1]:
                reading = Reading(
                    speed_kmh=self.step(self.speed, t),
                    incline_pct=self.step(self.incline, t),
                    heart_rate_bpm=round(_piecewise(self.hr, t)),
                )
                out.append((t, reading))
            t += 5.0
        return out


def _first_cue(curve: Curve, config: RulesConfig = CONFIG) -> float | None:
    state = form.FormState()
    for t, reading in curve.readings():
        state, reason = form.decide(
            state, reading=reading, distance_m=0.0, run_started_at=T0, now=at(t), config=config
        )
        if reason is not None:
            return t
    return None


SPEED_UP = Curve(  # the case: 12 min at 9 km/h, then 11 km/h with its normal rise
    end_s=1500,
    speed=[(0, 9.0), (720, 11.0)],
    incline=[(0, 1.0)],
    hr=[(0, 95), (240, 138), (720, 143), (770, 153), (1500, 156)],
)
PAUSE_AND_RESUME = Curve(  # a minute standing on the rails, heart rate falling, then back on
    end_s=1500,
    speed=[(0, 10.0), (900, 0.0), (960, 10.0)],
    incline=[(0, 1.0)],
    hr=[(0, 95), (240, 145), (900, 147), (960, 112), (1000, 140), (1080, 147), (1500, 150)],
)
SILENT_PAUSE = Curve(  # paused on the console: the treadmill sends nothing meanwhile
    end_s=1500,
    speed=[(0, 10.0)],
    incline=[(0, 1.0)],
    hr=[(0, 95), (240, 145), (900, 147), (960, 112), (1000, 140), (1080, 147), (1500, 150)],
    silent=(905, 960),
)
HILL = Curve(  # the runner raises the incline to 4 %: a harder effort, not tiredness
    end_s=1800,
    speed=[(0, 10.0)],
    incline=[(0, 0.0), (900, 4.0)],
    hr=[(0, 95), (240, 144), (900, 146), (1000, 158), (1800, 160)],
)
SLOW_DRIFT = Curve(  # forty minutes at one pace, heart rate creeping up ~0.5 bpm a minute
    end_s=2400,
    speed=[(0, 10.0)],
    incline=[(0, 1.0)],
    hr=[(0, 95), (300, 140), (600, 142), (2400, 157)],
)


@pytest.mark.parametrize(
    ("curve", "cue_between"),
    [
        pytest.param(SPEED_UP, None, id="speed-up with its normal rise"),
        pytest.param(PAUSE_AND_RESUME, None, id="pause and resume"),
        pytest.param(SILENT_PAUSE, None, id="pause with the treadmill silent"),
        pytest.param(HILL, None, id="hill"),
        # Baseline 142 bpm at 600 s; 152 bpm (rounded) is reached 1140 s later.
        pytest.param(SLOW_DRIFT, (1735, 1750), id="steady run with slow drift"),
    ],
)
def test_only_slow_drift_at_a_steady_effort_brings_the_form_cue(
    curve: Curve, cue_between: tuple[float, float] | None
) -> None:
    cue = _first_cue(curve)
    if cue_between is None:
        assert cue is None
    else:
        assert cue is not None
        assert cue_between[0] <= cue <= cue_between[1]


def test_drift_after_a_speed_up_counts_from_the_settled_heart_rate() -> None:
    # Same speed-up, but then a real drift of 10 bpm on top of the settled 153.
    curve = Curve(
        end_s=2400,
        speed=[(0, 9.0), (720, 11.0)],
        incline=[(0, 1.0)],
        hr=[(0, 95), (240, 138), (720, 143), (770, 153), (900, 153), (2400, 165)],
    )
    cue = _first_cue(curve)
    assert cue is not None
    assert 2080 <= cue <= 2100  # 163 bpm: 10 above the baseline taken once settled (900 s)


def test_a_baseline_waits_for_the_run_to_be_old_enough() -> None:
    config = RulesConfig(form_cue_distance_m=1_000_000, hr_baseline_after_s=1500)
    # With the baseline at 1500 s (150 bpm), 160 bpm would come after the run's end.
    assert _first_cue(SLOW_DRIFT, config) is None


def test_a_reading_without_speed_leaves_the_tracking_as_it_was() -> None:
    state = form.FormState()
    state, _ = form.decide(
        state, reading=Reading(10.0, 1.0, None, 140), distance_m=0.0, run_started_at=T0,
        now=at(700), config=CONFIG,
    )  # fmt: skip
    after, reason = form.decide(
        state, reading=Reading(heart_rate_bpm=170), distance_m=0.0, run_started_at=T0,
        now=at(705), config=CONFIG,
    )  # fmt: skip
    assert (after, reason) == (state, None)


def _ache_driver() -> Driver:
    driver = Driver(initial_state(RulesConfig()), [])
    driver.send(-60, TreadmillConnected(MILL))
    driver.send(-30, FlagSet(BackPain.ACHE))
    return driver


def test_a_resume_from_a_pause_brings_no_form_cue() -> None:
    # The ache demo: a pause on the console, then back to 10 km/h with the heart rate rising
    # from its rested value. 8 km/h keeps the 3 km distance cue out of the way until ~1400 s.
    driver = _ache_driver()
    driver.belt(0, 900, speed_kmh=8.0, heart_rate_bpm=145, follow_incline=False)
    driver.send(901, MachineStopped(paused=True))
    driver.send(960, MachineStarted())
    for t, hr in ((965, 112), (970, 118), (980, 128), (990, 136), (1000, 142), (1010, 146)):
        driver.belt(t, t, speed_kmh=10.0, heart_rate_bpm=hr, follow_incline=False)
    driver.belt(1015, 1300, speed_kmh=10.0, heart_rate_bpm=147, follow_incline=False)
    assert PromptKind.FORM not in driver.kinds()


def test_a_steady_run_with_drift_brings_one_form_cue_citing_heart_rate() -> None:
    driver = _ache_driver()
    driver.belt(0, 600, speed_kmh=7.0, heart_rate_bpm=140, follow_incline=False)
    driver.belt(605, 1200, speed_kmh=7.0, heart_rate_bpm=150, follow_incline=False)
    forms = [p for p in driver.prompts() if p.kind is PromptKind.FORM]
    assert len(forms) == 1
    assert forms[0].created_at == at(605)
    assert "heart rate" in forms[0].message

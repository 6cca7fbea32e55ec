"""Which readings repeat the last one, and how long their repeats may be held back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.rules.runs import T0, at
from treadwell.rules import form, session, stride
from treadwell.rules.engine import EngineState, evaluate, initial_state
from treadwell.rules.events import Earlier, ReadingReceived
from treadwell.rules.form import FormState, Stretch
from treadwell.rules.model import Reading, RulesConfig, RulesInputError
from treadwell.rules.repeats import HOLD_WINDOW_S, Hold, hold_window, repeats

STEADY = Reading(
    speed_kmh=10.0,
    incline_pct=2.0,
    total_distance_m=1200.0,
    heart_rate_bpm=140,
    elapsed_time_s=400,
    cadence_spm=168.0,
    stride_length_m=1.1,
)


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ({}, True),
        ({"total_distance_m": 1201.0}, True),
        ({"elapsed_time_s": 401}, True),
        ({"elapsed_time_s": None}, True),
        ({"total_distance_m": 1199.0}, False),  # the counter went back: a reset
        ({"total_distance_m": None}, False),
        ({"speed_kmh": 10.1}, False),
        ({"speed_kmh": None}, False),
        ({"incline_pct": 2.5}, False),
        ({"incline_pct": None}, False),
        ({"heart_rate_bpm": 141}, False),
        ({"heart_rate_bpm": None}, False),
        ({"cadence_spm": 170.0}, False),
        ({"stride_length_m": 1.2}, False),
    ],
)
def test_a_reading_repeats_the_last_when_only_the_odometer_or_clock_moved_on(
    changed: dict[str, object], expected: bool
) -> None:
    assert repeats(STEADY, replace(STEADY, **changed)) is expected  # type: ignore[arg-type]


def test_a_reading_may_repeat_the_last_but_for_its_heart_rate() -> None:
    other = replace(STEADY, heart_rate_bpm=141, total_distance_m=1203.0)
    assert not repeats(STEADY, other)
    assert repeats(STEADY, other, but_heart_rate=True)
    assert repeats(STEADY, replace(other, heart_rate_bpm=None), but_heart_rate=True)
    assert not repeats(STEADY, replace(other, speed_kmh=10.5), but_heart_rate=True)


def test_readings_without_an_odometer_repeat_each_other_but_not_one_with() -> None:
    bare = replace(STEADY, total_distance_m=None)
    assert repeats(bare, bare)
    assert not repeats(bare, STEADY)


def _running(config: RulesConfig) -> EngineState:
    """An engine with a run under way since T0."""
    run = session.Run("run-1", T0, last_reading_at=T0)
    return replace(
        initial_state(config),
        session=session.Session(session.Phase.RUNNING, last_moving_at=T0, run=run),
    )


SECOND = timedelta(seconds=HOLD_WINDOW_S)


def test_repeats_of_a_reading_at_running_speed_in_a_run_may_wait_a_second() -> None:
    engine = _running(RulesConfig())
    assert hold_window(engine, Reading(speed_kmh=10.0), at(30)) == Hold(SECOND, True)


def _stretch(config: RulesConfig, since_s: float, baseline_bpm: int | None) -> EngineState:
    stretch = Stretch(at(since_s), at(since_s), 10.0, None, baseline_bpm)
    return replace(_running(config), form=FormState(stretch))


@pytest.mark.parametrize(
    ("config", "since_s", "baseline_bpm", "now_s", "may_change"),
    [
        # No baseline can be taken before the run is 600 s old, nor 180 s into the stretch.
        (RulesConfig(), 0.0, None, 30.0, True),
        (RulesConfig(), 0.0, None, 597.9, True),
        (RulesConfig(), 0.0, None, 598.0, False),  # due two windows from now: decide each
        (RulesConfig(), 500.0, None, 650.0, True),
        (RulesConfig(), 500.0, None, 678.0, False),
        (RulesConfig(), 500.0, None, 900.0, False),  # due already: the next one takes it
        (RulesConfig(), 0.0, 150, 900.0, True),  # taken: the heart rate only adds to sums
        (RulesConfig(hr_drift_bpm=None), 0.0, None, 900.0, True),  # drift not watched
    ],
)
def test_a_new_heart_rate_may_close_held_repeats_unless_a_form_baseline_may_be_taken(
    config: RulesConfig, since_s: float, baseline_bpm: int | None, now_s: float, may_change: bool
) -> None:
    engine = _stretch(config, since_s, baseline_bpm)
    hold = hold_window(engine, Reading(speed_kmh=10.0), at(now_s))
    assert hold == Hold(SECOND, may_change)


def test_without_a_form_stretch_a_new_heart_rate_may_close_held_repeats() -> None:
    hold = hold_window(_running(RulesConfig()), Reading(speed_kmh=10.0), at(900))
    assert hold == Hold(SECOND, True)


@pytest.mark.parametrize(
    "reading",
    [Reading(speed_kmh=None, heart_rate_bpm=120), Reading(speed_kmh=1.0), Reading(speed_kmh=0.0)],
    ids=["no speed", "walking below the run speed", "belt still"],
)
def test_repeats_are_never_held_when_the_belt_may_be_stopping(reading: Reading) -> None:
    assert hold_window(_running(RulesConfig()), reading, at(30)) is None


def test_repeats_are_never_held_outside_a_run_under_way() -> None:
    config = RulesConfig()
    idle = initial_state(config)
    assert hold_window(idle, Reading(speed_kmh=10.0), T0) is None
    starting, _ = evaluate(idle, ReadingReceived(Reading(speed_kmh=10.0)), T0)
    assert starting.session.phase is session.Phase.STARTING
    assert hold_window(starting, Reading(speed_kmh=10.0), T0) is None


@pytest.mark.parametrize(
    ("stop_timeout_s", "window_s"), [(120.0, 1.0), (2.0, 1.0), (1.0, 0.5), (0.0, None)]
)
def test_the_window_leaves_two_within_the_stillness_that_ends_a_run(
    stop_timeout_s: float, window_s: float | None
) -> None:
    engine = _running(RulesConfig(stop_timeout_s=stop_timeout_s))
    hold = hold_window(engine, Reading(speed_kmh=10.0), at(30))
    assert (hold and hold.window) == (window_s and timedelta(seconds=window_s))


def test_two_windows_fit_within_every_gap_limit_the_rules_compare() -> None:
    for limit in (session.MAX_SAMPLE_GAP_S, form.MAX_GAP_S, stride.MAX_GAP_S):
        assert limit >= 2 * HOLD_WINDOW_S


def test_earlier_readings_are_at_least_one() -> None:
    with pytest.raises(RulesInputError, match="at least one"):
        Earlier(0, 150)


@pytest.mark.parametrize(
    ("heart_rate", "earlier", "sums"),
    [
        (150, None, (150, 1, 150)),
        (150, Earlier(3, 150), (600, 4, 150)),
        (152, Earlier(3, 150), (602, 4, 152)),
        (149, Earlier(3, 150), (599, 4, 150)),
        (None, Earlier(3, 150), (450, 3, 150)),
        (150, Earlier(3, None), (150, 1, 150)),
        (None, Earlier(3, None), (0, 0, None)),
    ],
)
def test_a_reading_that_closes_earlier_ones_counts_each_heart_rate(
    heart_rate: int | None, earlier: Earlier | None, sums: tuple[int, int, int | None]
) -> None:
    state = _running(RulesConfig())
    reading = Reading(10.0, heart_rate_bpm=heart_rate)
    after, _ = evaluate(state, ReadingReceived(reading, earlier), at(2))
    alone, _ = evaluate(state, ReadingReceived(reading), at(2))
    run, run_alone = after.session.run, alone.session.run
    assert run is not None
    assert run_alone is not None
    assert (run.stats.hr_sum, run.stats.hr_count, run.stats.hr_max) == sums
    # Nothing else about the reading is multiplied: the distance is the time's.
    assert run.stats.distance_m == run_alone.stats.distance_m

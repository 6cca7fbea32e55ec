"""Which readings repeat the last one, and how long their repeats may be held back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.rules.runs import T0, at
from treadwell.rules import form, session, stride
from treadwell.rules.engine import EngineState, evaluate, initial_state
from treadwell.rules.events import ReadingReceived
from treadwell.rules.model import Reading, RulesConfig, RulesInputError
from treadwell.rules.repeats import HOLD_WINDOW_S, hold_window, repeats

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


def test_repeats_of_a_reading_at_running_speed_in_a_run_may_wait_a_second() -> None:
    engine = _running(RulesConfig())
    assert hold_window(engine, Reading(speed_kmh=10.0)) == timedelta(seconds=HOLD_WINDOW_S)


@pytest.mark.parametrize(
    "reading",
    [Reading(speed_kmh=None, heart_rate_bpm=120), Reading(speed_kmh=1.0), Reading(speed_kmh=0.0)],
    ids=["no speed", "walking below the run speed", "belt still"],
)
def test_repeats_are_never_held_when_the_belt_may_be_stopping(reading: Reading) -> None:
    assert hold_window(_running(RulesConfig()), reading) is None


def test_repeats_are_never_held_outside_a_run_under_way() -> None:
    config = RulesConfig()
    idle = initial_state(config)
    assert hold_window(idle, Reading(speed_kmh=10.0)) is None
    starting, _ = evaluate(idle, ReadingReceived(Reading(speed_kmh=10.0)), T0)
    assert starting.session.phase is session.Phase.STARTING
    assert hold_window(starting, Reading(speed_kmh=10.0)) is None


@pytest.mark.parametrize(
    ("stop_timeout_s", "window_s"), [(120.0, 1.0), (2.0, 1.0), (1.0, 0.5), (0.0, None)]
)
def test_the_window_leaves_two_within_the_stillness_that_ends_a_run(
    stop_timeout_s: float, window_s: float | None
) -> None:
    engine = _running(RulesConfig(stop_timeout_s=stop_timeout_s))
    expected = None if window_s is None else timedelta(seconds=window_s)
    assert hold_window(engine, Reading(speed_kmh=10.0)) == expected


def test_two_windows_fit_within_every_gap_limit_the_rules_compare() -> None:
    for limit in (session.MAX_SAMPLE_GAP_S, form.MAX_GAP_S, stride.MAX_GAP_S):
        assert limit >= 2 * HOLD_WINDOW_S


def test_a_reading_stands_for_at_least_one() -> None:
    with pytest.raises(RulesInputError, match="at least one"):
        ReadingReceived(STEADY, count=0)


def test_a_folded_reading_counts_each_heart_rate_it_stands_for() -> None:
    state = _running(RulesConfig())
    one, _ = evaluate(state, ReadingReceived(Reading(10.0, heart_rate_bpm=150)), at(2))
    four, _ = evaluate(state, ReadingReceived(Reading(10.0, heart_rate_bpm=150), 4), at(2))
    one_run, four_run = one.session.run, four.session.run
    assert one_run is not None
    assert four_run is not None
    assert (one_run.stats.hr_sum, one_run.stats.hr_count) == (150, 1)
    assert (four_run.stats.hr_sum, four_run.stats.hr_count) == (600, 4)
    # Nothing else about the reading is multiplied: the distance is the time's.
    assert four_run.stats.distance_m == one_run.stats.distance_m
    without, _ = evaluate(state, ReadingReceived(Reading(10.0), 4), at(2))
    assert without.session.run is not None
    assert without.session.run.stats.hr_count == 0

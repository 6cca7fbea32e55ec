"""Overstriding: the stride cue once a run, and the shoe note when it persisted."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.rules.runs import MILL, Driver, at
from treadwell.rules import stride
from treadwell.rules.actions import RunEnded
from treadwell.rules.engine import initial_state
from treadwell.rules.events import TreadmillConnected
from treadwell.rules.model import PromptKind, Reading, RulesConfig

if TYPE_CHECKING:
    from collections.abc import Sequence

CONFIG = RulesConfig()


@pytest.mark.parametrize(
    ("reading", "step"),
    [
        (Reading(10.0, cadence_spm=150, stride_length_m=1.3), 1.3),  # the footpod's own
        (Reading(9.0, cadence_spm=150), 1.0),  # 2.5 m/s * 60 / 150
        (Reading(9.0, cadence_spm=0), None),
        (Reading(9.0), None),
        (Reading(cadence_spm=150), None),
    ],
)
def test_step_length_comes_from_the_footpod_or_from_speed_and_cadence(
    reading: Reading, step: float | None
) -> None:
    assert stride.step_m(reading) == (None if step is None else pytest.approx(step))


@pytest.mark.parametrize(
    ("reading", "over"),
    [
        (Reading(10.0, cadence_spm=140), True),  # long (1.19 m), slow steps
        (Reading(10.0, cadence_spm=140, stride_length_m=0.9), False),  # short steps measured
        (Reading(10.0, cadence_spm=165), False),  # quick steps
        (Reading(10.0, cadence_spm=150), False),  # the threshold itself is not below it
        (Reading(7.5, cadence_spm=140), False),  # slow jog: short steps (0.89 m)
        (Reading(6.0, cadence_spm=110), None),  # walking is not judged
        (Reading(10.0), None),  # no cadence
        (Reading(None, cadence_spm=140, stride_length_m=1.2), None),  # no speed
    ],
)
def test_overstriding_is_a_low_cadence_with_long_steps_at_running_speed(
    reading: Reading, over: bool | None
) -> None:
    assert stride.overstriding(reading, CONFIG) is over


def _feed(
    readings: Sequence[tuple[float, Reading]], config: RulesConfig = CONFIG
) -> tuple[stride.StrideState, list[tuple[float, stride.StrideCue]]]:
    state, cues = stride.StrideState(), []
    for t, reading in readings:
        state, cue = stride.decide(state, reading, at(t), config)
        if cue is not None:
            cues.append((t, cue))
    return state, cues


LONG_SLOW = Reading(10.0, cadence_spm=140)
QUICK = Reading(10.0, cadence_spm=168)
WALK = Reading(5.0, cadence_spm=110)


def test_a_minute_of_unbroken_overstriding_brings_one_cue_per_run() -> None:
    state, cues = _feed([(t, LONG_SLOW) for t in range(0, 1200, 5)])
    assert cues == [(60, stride.StrideCue(140, 10.0))]
    assert state.cued
    assert stride.persisted(state, CONFIG)


@pytest.mark.parametrize(
    "breaker",
    [
        [(30, QUICK)],  # a few quick steps
        [(30, WALK)],  # a walk break
        [],  # the footpod went quiet for 15 s
    ],
)
def test_a_break_in_overstriding_restarts_the_minute(breaker: list[tuple[float, Reading]]) -> None:
    before = [(t, LONG_SLOW) for t in range(0, 30, 5)]
    after = [(t, LONG_SLOW) for t in range(45, 200, 5)]
    _, cues = _feed([*before, *breaker, *after])
    assert [t for t, _ in cues] == [105]


def test_quick_steps_bring_no_cue_and_no_shoe_note() -> None:
    state, cues = _feed([(t, QUICK) for t in range(0, 1800, 5)])
    assert cues == []
    assert state.measured_s == 1795
    assert not stride.persisted(state, CONFIG)


@pytest.mark.parametrize(
    ("over_s", "quick_s", "persisted"),
    [
        (400, 400, True),  # half the time
        (300, 500, False),  # less than half
        (200, 0, False),  # too little data to say
    ],
)
def test_the_shoe_note_needs_overstriding_for_much_of_the_run(
    over_s: int, quick_s: int, persisted: bool
) -> None:
    readings = [(t, LONG_SLOW) for t in range(0, over_s + 5, 5)]
    readings += [(over_s + t, QUICK) for t in range(5, quick_s + 5, 5)]
    state, _ = _feed(readings)
    assert stride.persisted(state, CONFIG) is persisted


def _run(cadence: float, stride_length_m: float | None = None) -> Driver:
    driver = Driver(initial_state(CONFIG), [])
    driver.send(-60, TreadmillConnected(MILL))
    driver.belt(0, 1200, speed_kmh=10.0, cadence_spm=cadence, stride_length_m=stride_length_m)
    driver.belt(1205, 1400, speed_kmh=0.0)
    return driver


def test_a_run_with_long_slow_strides_gets_one_stride_cue_and_a_shoe_note() -> None:
    driver = _run(cadence=140, stride_length_m=1.2)
    prompts = driver.prompts()
    cues = [p for p in prompts if p.kind is PromptKind.STRIDE]
    assert [(p.id, p.created_at) for p in cues] == [("run-20261126T221500Z:stride", at(65))]
    assert "140 steps a minute at 10 km/h" in cues[0].message
    (shoes,) = [p for p in prompts if p.kind is PromptKind.SHOES]
    assert shoes.id == "run-20261126T221500Z:shoes"
    assert "gradually" in shoes.message
    assert all(p.disclaimer for p in prompts)
    (ended,) = [a for a in driver.actions if isinstance(a, RunEnded)]
    assert "run-20261126T221500Z:stride" in ended.summary.prompt_ids
    assert "run-20261126T221500Z:shoes" in ended.summary.prompt_ids
    assert driver.state.stride == stride.StrideState()


def test_a_run_with_quick_steps_gets_neither() -> None:
    kinds = _run(cadence=170).kinds()
    assert PromptKind.STRIDE not in kinds
    assert PromptKind.SHOES not in kinds


@pytest.mark.parametrize(
    ("previous", "steps", "seconds", "cadence"),
    [
        (None, 100, 5, None),
        ((100, 0), 114, 5, 168.0),
        ((100, 0), 120, 8, 150.0),
        ((100, 0), 102, 1, None),  # too close: whole steps are too coarse
        ((100, 0), 150, 20, None),  # too far apart
        ((100, 0), 3, 5, None),  # the counter started again
    ],
)
def test_cadence_from_a_treadmills_step_count(
    previous: tuple[int, float] | None, steps: int, seconds: float, cadence: float | None
) -> None:
    before = None if previous is None else (previous[0], at(previous[1]))
    assert stride.cadence_from_steps(before, steps, at(seconds)) == cadence

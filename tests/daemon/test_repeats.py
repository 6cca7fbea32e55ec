"""Folding repeated readings: the rules decide the same runs, with fewer readings.

Every test feeds the same stream of orders to the household's rules twice: one by one, and
through `Repeats` the way the daemon does (`Daemon._decide`). The folded stream must end with
the same runs and the same statistics, and never say anything the one-by-one stream did not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.rules.runs import MILL, T0, at
from treadwell.daemon.repeats import Repeats
from treadwell.rules.actions import PublishPrompt, RunEnded, RunStarted, SetIncline
from treadwell.rules.events import (
    Earlier,
    MachineStopped,
    ReadingReceived,
    TimerFired,
    TreadmillConnected,
)
from treadwell.rules.household import (
    HouseholdConfig,
    HouseholdState,
    Order,
    Routed,
    RunnerFlagSet,
    RunnerProfile,
    TreadmillEvent,
    TreadmillProfile,
    evaluate,
    initial_household,
)
from treadwell.rules.model import BackPain, Reading, RulesConfig
from treadwell.rules.repeats import Hold, hold_window

RULES = RulesConfig(
    run_start_s=2.0,
    stop_timeout_s=20.0,
    incline_underway_s=15.0,
    incline_interval_s=20.0,
    incline_settle_s=5.0,
    form_cue_distance_m=150.0,
    hr_baseline_after_s=10.0,
    hr_settle_s=5.0,
    overstride_after_s=8.0,
    shoe_note_min_s=10.0,
)
ALICE = RunnerProfile("alice", max_incline_pct=3.0, automation_allowed=True)
CONFIG = HouseholdConfig(
    RULES,
    (ALICE,),
    (TreadmillProfile("garage", 10.0, True), TreadmillProfile("loft", 10.0, True)),
    default_runner="alice",
)


@dataclass
class Fed:
    """A household fed orders, and everything it said."""

    state: HouseholdState = field(default_factory=lambda: initial_household(CONFIG))
    out: list[Routed] = field(default_factory=list)
    readings: int = 0  # readings the rules decided

    def send(self, order: Order, now: datetime) -> None:
        self.state, routed = evaluate(self.state, order, now)
        self.out.extend(routed)
        if isinstance(order, TreadmillEvent) and isinstance(order.event, ReadingReceived):
            self.readings += 1


def one_by_one(stream: list[tuple[datetime, Order]]) -> Fed:
    fed = Fed()
    for now, order in stream:
        fed.send(order, now)
    return fed


def folded(stream: list[tuple[datetime, Order]]) -> Fed:
    """The daemon's way: repeats held back, held readings first before anything else."""
    fed, held = Fed(), Repeats()

    def decide(todo: list[tuple[TreadmillEvent, datetime]] | list[tuple[Order, datetime]]) -> None:
        for order, now in todo:
            fed.send(order, now)
            if isinstance(order, TreadmillEvent) and isinstance(order.event, ReadingReceived):
                slug, reading = order.treadmill, order.event.reading
                hold = hold_window(fed.state.slot(slug).engine, reading, now)
                held.decided(slug, reading, now, hold)
            else:
                held.other_decided()

    for now, order in stream:
        if isinstance(order, TreadmillEvent) and isinstance(order.event, ReadingReceived):
            decide(held.on_reading(order, order.event.reading, now))
        else:
            decide([*held.flush(), (order, now)])
    assert held.held == 0  # every stream ends with a tick
    return fed


def _summaries(fed: Fed) -> list[RunEnded]:
    return [r.action for r in fed.out if isinstance(r.action, RunEnded)]


def assert_same_runs(one: Fed, fold: Fed) -> None:
    """The same runs, started and ended, with the same statistics (to display precision)."""
    started = [r.action for r in one.out if isinstance(r.action, RunStarted)]
    assert [r.action for r in fold.out if isinstance(r.action, RunStarted)] == started
    ended, fold_ended = _summaries(one), _summaries(fold)
    assert len(fold_ended) == len(ended)
    for a, b in zip(ended, fold_ended, strict=True):
        x, y = a.summary, b.summary
        assert (x.run_id, x.started_at, x.ended_at) == (y.run_id, y.started_at, y.ended_at)
        assert (x.average_hr_bpm, x.max_hr_bpm) == (y.average_hr_bpm, y.max_hr_bpm)
        for name in ("duration_s", "moving_s", "distance_m", "incline_time_in_window_s"):
            # Sums of the same times taken in fewer steps: equal but for the last rounding.
            assert math.isclose(getattr(x, name), getattr(y, name), abs_tol=0.1 + 1e-9), name
        if x.average_speed_kmh is None:
            assert y.average_speed_kmh is None
        else:
            assert y.average_speed_kmh is not None
            assert math.isclose(x.average_speed_kmh, y.average_speed_kmh, abs_tol=0.02)


def _inclines(fed: Fed) -> set[tuple[str | None, float]]:
    return {
        (r.action.run_id, r.action.incline_pct) for r in fed.out if isinstance(r.action, SetIncline)
    }


def assert_says_nothing_new(one: Fed, fold: Fed) -> None:
    """Every prompt and incline of the folded stream, the one-by-one stream has too."""
    prompts = {r.action.prompt.id for r in one.out if isinstance(r.action, PublishPrompt)}
    assert {r.action.prompt.id for r in fold.out if isinstance(r.action, PublishPrompt)} <= prompts
    assert _inclines(fold) <= _inclines(one)


def steady_run(deck: str, start_s: float, seconds: float, hz: float) -> list[tuple[float, Order]]:
    """A run at 10 km/h and 2 %, heart rate 150, odometer counting: `hz` readings a second."""
    out: list[tuple[float, Order]] = []
    step, n = 1 / hz, 0
    while n * step <= seconds:
        t = n * step
        reading = Reading(10.0, 2.0, round(t * 10 / 3.6), 150, int(t))
        out.append((start_s + t, TreadmillEvent(deck, ReadingReceived(reading))))
        n += 1
    return out


def test_a_steady_run_is_decided_from_about_one_reading_a_second_with_the_same_outcome() -> None:
    stream: list[tuple[float, Order]] = [
        (0.0, TreadmillEvent("garage", TreadmillConnected(MILL))),
        (0.0, RunnerFlagSet("alice", BackPain.ACHE)),
        *steady_run("garage", 1.0, 120.0, hz=4.0),
        (122.0, TreadmillEvent("garage", MachineStopped(paused=False))),
        (200.0, TimerFired("tick")),
    ]
    timed = [(at(s), o) for s, o in stream]
    one, fold = one_by_one(timed), folded(timed)
    assert_same_runs(one, fold)
    assert len(_summaries(one)) == 1
    # Here even the prompts are the same: no decision came near the run's end.
    prompts = [r.action.prompt.id for r in one.out if isinstance(r.action, PublishPrompt)]
    assert [r.action.prompt.id for r in fold.out if isinstance(r.action, PublishPrompt)] == prompts
    assert len(prompts) >= 3  # warm-up, incline, form cue (and what the run's end brings)
    assert one.readings == 481
    assert fold.readings <= 130  # one a second, and the few around the run's start


SECOND = Hold(timedelta(seconds=1), heart_rate_may_change=False)
SECOND_ANY_HR = Hold(timedelta(seconds=1), heart_rate_may_change=True)


def test_a_reading_that_differs_is_decided_after_the_one_held_before_it() -> None:
    held = Repeats()
    same = Reading(10.0, 2.0, 100.0, 150)
    first = TreadmillEvent("garage", ReadingReceived(same))
    assert held.on_reading(first, same, at(0)) == [(first, at(0))]
    held.decided("garage", same, at(0), SECOND)
    later = [Reading(10.0, 2.0, 100.0 + i, 150) for i in (1, 2)]
    orders = [TreadmillEvent("garage", ReadingReceived(r)) for r in later]
    assert held.on_reading(orders[0], later[0], at(0.25)) == []
    assert held.on_reading(orders[1], later[1], at(0.5)) == []
    assert held.held == 1
    faster = Reading(11.0, 2.0, 103.0, 150)
    change = TreadmillEvent("garage", ReadingReceived(faster))
    todo = held.on_reading(change, faster, at(0.75))
    # The latest repeat, standing for both, then the change.
    assert todo == [
        (TreadmillEvent("garage", ReadingReceived(later[1], Earlier(1, 150))), at(0.5)),
        (change, at(0.75)),
    ]
    assert held.held == 0


def test_a_repeat_a_window_after_the_last_decided_closes_the_held_ones() -> None:
    held = Repeats()
    same = Reading(10.0, 2.0, None, 150)
    order = TreadmillEvent("garage", ReadingReceived(same))
    held.decided("garage", same, at(0), SECOND)
    for t in (0.25, 0.5, 0.75):
        assert held.on_reading(order, same, at(t)) == []
    assert held.on_reading(order, same, at(1.0)) == [
        (TreadmillEvent("garage", ReadingReceived(same, Earlier(3, 150))), at(1.0))
    ]


def test_a_new_heart_rate_closes_the_held_repeats_when_the_rules_allow_it() -> None:
    same, faster_heart = Reading(10.0, 2.0, None, 150), Reading(10.0, 2.0, None, 152)
    order = TreadmillEvent("garage", ReadingReceived(same))
    new = TreadmillEvent("garage", ReadingReceived(faster_heart))
    for hold, expected in (
        (
            SECOND_ANY_HR,
            [(TreadmillEvent("garage", ReadingReceived(faster_heart, Earlier(2, 150))), at(0.6))],
        ),
        (
            SECOND,
            [
                (TreadmillEvent("garage", ReadingReceived(same, Earlier(1, 150))), at(0.4)),
                (new, at(0.6)),
            ],
        ),
    ):
        held = Repeats()
        held.decided("garage", same, at(0), hold)
        assert held.on_reading(order, same, at(0.2)) == []
        assert held.on_reading(order, same, at(0.4)) == []
        assert held.on_reading(new, faster_heart, at(0.6)) == expected
        assert held.held == 0
    # Nothing held: the new heart rate is simply decided.
    held = Repeats()
    held.decided("garage", same, at(0), SECOND_ANY_HR)
    assert held.on_reading(new, faster_heart, at(0.6)) == [(new, at(0.6))]
    # A speed change is never folded in.
    faster = TreadmillEvent("garage", ReadingReceived(Reading(11.0, 2.0, None, 150)))
    assert held.on_reading(order, same, at(0.7)) == []
    assert held.on_reading(faster, Reading(11.0, 2.0, None, 150), at(0.8)) == [
        (order, at(0.7)),
        (faster, at(0.8)),
    ]


def test_after_a_silence_of_a_window_the_held_repeat_goes_first_on_its_own() -> None:
    held = Repeats()
    same = Reading(10.0, 2.0, None, 150)
    order = TreadmillEvent("garage", ReadingReceived(same))
    held.decided("garage", same, at(0), SECOND)
    assert held.on_reading(order, same, at(0.5)) == []
    # 1.5 s later: the gap after the held one is as long as a window, so it is not folded.
    assert held.on_reading(order, same, at(2.0)) == [(order, at(0.5)), (order, at(2.0))]


def test_readings_whose_repeats_may_not_wait_are_each_decided() -> None:
    held = Repeats()
    same = Reading(10.0, 2.0, None, 150)
    order = TreadmillEvent("garage", ReadingReceived(same))
    held.decided("garage", same, at(0), None)
    assert held.on_reading(order, same, at(0.1)) == [(order, at(0.1))]


def test_anything_else_comes_after_every_held_reading_oldest_first() -> None:
    held = Repeats()
    same = Reading(10.0, 2.0, None, 150)
    for deck in ("loft", "garage"):
        held.decided(deck, same, at(0), SECOND)
    loft = TreadmillEvent("loft", ReadingReceived(same))
    garage = TreadmillEvent("garage", ReadingReceived(same))
    assert held.on_reading(garage, same, at(0.2)) == []
    assert held.on_reading(loft, same, at(0.3)) == []
    assert held.on_reading(garage, same, at(0.4)) == []
    assert held.flush() == [
        (loft, at(0.3)),
        (TreadmillEvent("garage", ReadingReceived(same, Earlier(1, 150))), at(0.4)),
    ]
    assert held.flush() == []


# -- the property ------------------------------------------------------------------------

speeds = st.sampled_from([None, 0.0, 1.5, 9.0, 10.0])
stretch = st.tuples(
    st.sampled_from(["garage", "loft"]),
    speeds,
    st.sampled_from([None, 0.0, 2.0, 2.5]),  # incline
    st.sampled_from([None, 140, 150, 151]),  # heart rate
    st.sampled_from([None, 140.0, 170.0]),  # cadence
    st.sampled_from([None, 1.2]),  # step length
    st.sampled_from(["odometer", "none", "reset"]),
    st.integers(1, 24),  # readings in the stretch
    st.sampled_from([0.05, 0.25, 0.4, 0.7, 0.95, 1.2, 3.0]),  # seconds between them
    st.sampled_from([0.0, 0.0, 0.5, 6.0, 25.0]),  # silence after the stretch
    st.sampled_from([None, "tick", "stop", "pause", "ache", "red", "none"]),  # then
    st.sampled_from([0, 0, 1, 2]),  # heart rate jitter: up by this, three readings in six
)


def _stream(stretches: list[tuple[object, ...]]) -> list[tuple[datetime, Order]]:
    stream: list[tuple[datetime, Order]] = [
        (T0, TreadmillEvent("garage", TreadmillConnected(MILL))),
        (T0, TreadmillEvent("loft", TreadmillConnected(MILL))),
    ]
    t, odometer = 0.0, {"garage": 0.0, "loft": 0.0}
    for deck, speed, incline, hr, cadence, step, odo, n, gap, silence, then, jitter in stretches:
        assert isinstance(deck, str)
        assert isinstance(n, int)
        assert isinstance(gap, float)
        assert isinstance(silence, float)
        if odo == "reset":
            odometer[deck] = 0.0
        assert isinstance(jitter, int)
        for i in range(n):
            t += gap
            bpm = None if hr is None else hr + jitter * (i // 3 % 2)  # type: ignore[operator]
            odometer[deck] += 1.0 if speed else 0.0
            total = odometer[deck] if odo != "none" else None
            reading = Reading(speed, incline, total, bpm, None, cadence, step)  # type: ignore[arg-type]
            stream.append((at(t), TreadmillEvent(deck, ReadingReceived(reading))))
        t += silence
        match then:
            case "tick":
                stream.append((at(t), TimerFired("tick")))
            case "stop" | "pause":
                stream.append((at(t), TreadmillEvent(deck, MachineStopped(then == "pause"))))
            case "ache" | "red" | "none":
                stream.append((at(t), RunnerFlagSet("alice", BackPain(then))))
            case _:
                pass
    stream.append((at(t + 1000.0), TimerFired("tick")))  # every run ends
    return stream


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stretch, min_size=1, max_size=30))
def test_folding_repeats_keeps_every_run_and_statistic_and_adds_nothing(
    stretches: list[tuple[object, ...]],
) -> None:
    stream = _stream(stretches)
    one, fold = one_by_one(stream), folded(stream)
    assert_same_runs(one, fold)
    assert_says_nothing_new(one, fold)
    assert fold.readings <= one.readings

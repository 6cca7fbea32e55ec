"""Whole runs through the engine, minute by minute, with explicit times."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.rules.runs import MILL, Driver, at, published, scheduled, set_inclines
from treadwell.rules.actions import CancelScheduled, FlagsChanged, RunEnded, RunStarted
from treadwell.rules.engine import initial_state
from treadwell.rules.events import (
    CheckinReceived,
    FlagSet,
    MachineStopped,
    ReadingReceived,
    TimerFired,
    TreadmillConnected,
)
from treadwell.rules.model import BackPain, PainKind, PromptKind, Reading, RulesConfig


def _driver(flag: BackPain = BackPain.NONE, **config: object) -> Driver:
    driver = Driver(initial_state(RulesConfig(**config)), [])  # type: ignore[arg-type]
    if flag is not BackPain.NONE:
        driver.send(-90, FlagSet(flag))
    driver.send(-60, TreadmillConnected(MILL))
    return driver


def _summary(driver: Driver) -> RunEnded:
    (ended,) = [a for a in driver.actions if isinstance(a, RunEnded)]
    return ended


def test_a_thirty_minute_run_with_an_achy_back_gets_every_prompt_once() -> None:
    driver = _driver(BackPain.ACHE)
    driver.belt(0, 1800, speed_kmh=10.0, heart_rate_bpm=140)
    driver.belt(1805, 1950, speed_kmh=0.0)

    starts = [a for a in driver.actions if isinstance(a, RunStarted)]
    assert starts == [RunStarted("run-20261126T221500Z", at(0))]
    assert driver.kinds() == [
        PromptKind.WARMUP,
        PromptKind.INCLINE,
        PromptKind.FORM,
        PromptKind.HYDRATION,
        PromptKind.STRETCH,
    ]
    warmup = driver.prompts()[0]
    assert (warmup.id, warmup.created_at) == ("prerun-20261126T221400Z:warmup", at(-60))
    assert [s.incline_pct for s in set_inclines(driver.actions)] == [2.5]
    incline = driver.prompts()[1]
    assert incline.suggested_incline_pct == 2.5
    assert incline.created_at >= at(60)
    form = driver.prompts()[2]
    # 3 km at 10 km/h takes 18 minutes.
    assert at(1075) <= form.created_at <= at(1090)
    summary = _summary(driver).summary
    assert summary.run_id == "run-20261126T221500Z"
    assert summary.duration_s == 1800
    assert summary.distance_m == pytest.approx(5000, rel=0.01)
    assert summary.average_speed_kmh == pytest.approx(10, rel=0.01)
    assert summary.incline_time_in_window_s == pytest.approx(1800 - 65, abs=10)
    assert summary.average_hr_bpm == 140
    assert summary.max_hr_bpm == 140
    # Every prompt the runner gets for this run: the warm-up before it, those in it, and
    # those after it, scheduled ones included.
    assert summary.prompt_ids == (
        "prerun-20261126T221400Z:warmup",
        "run-20261126T221500Z:incline",
        "run-20261126T221500Z:form",
        "run-20261126T221500Z:hydration",
        "run-20261126T221500Z:stretch",
        "run-20261126T221500Z:hydration:2",
        "run-20261126T221500Z:checkin",
    )
    later = scheduled(driver.actions)
    assert [(s.key, s.at) for s in later] == [
        ("run-20261126T221500Z:hydration:2", at(1800 + 3600)),
        ("run-20261126T221500Z:checkin", at(1800 + 7200)),
    ]
    assert [s.prompt.kind for s in later] == [PromptKind.HYDRATION, PromptKind.CHECKIN]
    assert not driver.state.running
    assert driver.state.suggested_incline_pct is None


def test_a_run_with_pauses_stays_one_run() -> None:
    driver = _driver()
    driver.belt(0, 600, speed_kmh=8.0)
    driver.belt(605, 665, speed_kmh=0.0)  # a minute standing on the rails
    driver.belt(670, 1200, speed_kmh=8.0)
    driver.send(1201, MachineStopped(paused=True))  # paused on the console for 5 minutes
    driver.send(1500, TimerFired("tick"))
    assert driver.state.running
    driver.belt(1505, 1800, speed_kmh=8.0)
    driver.send(1801, MachineStopped(paused=False))

    assert len([a for a in driver.actions if isinstance(a, RunStarted)]) == 1
    summary = _summary(driver).summary
    assert summary.run_id == "run-20261126T221500Z"
    # The stand-still (605-670 s) and the console pause (1201-1505 s) are not run time.
    assert summary.duration_s == 1800 - 65 - 304
    assert summary.average_speed_kmh == pytest.approx(8.0, abs=0.1)
    # Sampled moving time credits up to 10 s of a silent gap to the speed before it.
    assert summary.duration_s <= summary.moving_s <= summary.duration_s + 10
    assert summary.ended_at == at(1800)
    assert driver.kinds() == [PromptKind.WARMUP, PromptKind.HYDRATION, PromptKind.STRETCH]


def test_a_manual_incline_change_after_ours_is_respected_for_the_rest_of_the_run() -> None:
    driver = _driver(BackPain.ACHE, incline_interval_s=60)
    driver.belt(0, 300, speed_kmh=9.0)  # we set 2.5 %, the treadmill follows
    assert [s.incline_pct for s in set_inclines(driver.actions)] == [2.5]
    driver.belt(305, 1500, speed_kmh=9.0, incline_pct=1.0, follow_incline=False)

    assert [s.incline_pct for s in set_inclines(driver.actions)] == [2.5]
    assert driver.kinds().count(PromptKind.INCLINE) == 1
    assert driver.state.incline.overridden
    assert driver.state.suggested_incline_pct is None


def test_a_red_flag_run_gets_the_urgent_stop_prompt_and_no_incline() -> None:
    driver = _driver(BackPain.RED)
    driver.belt(0, 900, speed_kmh=10.0)
    driver.belt(905, 1100, speed_kmh=0.0)

    assert set_inclines(driver.actions) == []
    prompts = driver.prompts()
    assert prompts[0].kind is PromptKind.STOP_RUNNING
    assert prompts[0].urgent
    assert prompts[0].run_id == "run-20261126T221500Z"
    assert PromptKind.WARMUP not in driver.kinds()
    assert PromptKind.STRETCH not in driver.kinds()
    assert PromptKind.FORM not in driver.kinds()
    assert PromptKind.HYDRATION in driver.kinds()


def _one_run(driver: Driver, day: int, pain: int, kind: PainKind) -> None:
    start = day * 86400
    driver.belt(start, start + 1200, speed_kmh=9.0, step_s=10)
    driver.belt(start + 1210, start + 1400, speed_kmh=0.0, step_s=10)
    driver.send(start + 1200 + 7200, TimerFired(f"{driver.state.last_run_id}:checkin"))
    driver.send(start + 1200 + 7300, CheckinReceived(pain, kind))


def test_five_runs_with_recurring_pain_suggest_a_physio_once() -> None:
    driver = _driver()
    reports = [(0, PainKind.NONE), (4, PainKind.ACHE), (0, PainKind.NONE), (3, PainKind.ACHE)]
    for day, (pain, kind) in enumerate(reports):
        _one_run(driver, day, pain, kind)
    assert PromptKind.SEE_PHYSIO not in driver.kinds()
    _one_run(driver, 4, 5, PainKind.ACHE)  # third painful run of the last five
    physio = [p for p in driver.prompts() if p.kind is PromptKind.SEE_PHYSIO]
    assert [p.id for p in physio] == ["run-20261130T221500Z:see_physio"]
    assert "3 of your last 5" in physio[0].message
    driver.send(4 * 86400 + 9000, CheckinReceived(5, PainKind.ACHE))
    assert driver.kinds().count(PromptKind.SEE_PHYSIO) == 1
    assert driver.state.physio_suggested
    assert driver.state.flags.back_pain is BackPain.NONE


def test_one_painful_run_that_resolves_does_not_escalate() -> None:
    driver = _driver(escalate_painful_runs=2, escalate_window_runs=5)
    _one_run(driver, 0, 6, PainKind.ACHE)
    for day in range(1, 5):
        _one_run(driver, day, 0, PainKind.NONE)
    assert PromptKind.SEE_PHYSIO not in driver.kinds()
    assert not driver.state.physio_suggested


def test_a_check_in_cancels_the_pending_check_in_prompt() -> None:
    driver = _driver()
    driver.belt(0, 600)
    driver.belt(605, 800, speed_kmh=0.0)
    out = driver.send(900, CheckinReceived(0, PainKind.NONE))
    assert out == (CancelScheduled("run-20261126T221500Z:checkin"),)
    assert driver.state.pending == ("run-20261126T221500Z:hydration:2",)


def test_a_new_run_cancels_the_last_runs_stale_drink_reminder() -> None:
    driver = _driver()
    driver.belt(0, 600)
    driver.belt(605, 800, speed_kmh=0.0)
    driver.belt(1800, 2400)
    assert CancelScheduled("run-20261126T221500Z:hydration:2") in driver.actions
    assert driver.state.pending == ("run-20261126T221500Z:checkin",)
    assert driver.state.run_id == "run-20261126T224500Z"


def test_a_shooting_pain_check_in_asks_to_get_it_checked_without_stopping() -> None:
    driver = _driver()
    driver.belt(0, 600)
    driver.belt(605, 800, speed_kmh=0.0)
    out = driver.send(5000, CheckinReceived(7, PainKind.RADIATING))
    assert FlagsChanged(driver.state.flags) in out
    assert driver.state.flags.back_pain is BackPain.CHECK
    (checked,) = published(out)
    assert checked.kind is PromptKind.GET_CHECKED
    assert not checked.urgent
    assert checked.id == "run-20261126T221500Z:get_checked:2"
    # The next run: a reminder to get checked, the warm-up, and no incline help.
    driver.belt(86400, 86800, incline_pct=0.0)
    kinds = [p.kind for p in driver.prompts() if p.run_id == "run-20261127T221500Z"]
    assert kinds == [PromptKind.GET_CHECKED, PromptKind.WARMUP]
    assert PromptKind.STOP_RUNNING not in driver.kinds()
    assert set_inclines(driver.actions) == []


def test_sharp_severe_pain_down_the_leg_sets_the_red_flag_and_says_stop() -> None:
    driver = _driver()
    driver.belt(0, 600)
    driver.belt(605, 800, speed_kmh=0.0)
    out = driver.send(5000, CheckinReceived(8, PainKind.SHARP, (PainKind.RADIATING,)))
    assert FlagsChanged(driver.state.flags) in out
    assert driver.state.flags.back_pain is BackPain.RED
    (stop,) = published(out)
    assert stop.kind is PromptKind.STOP_RUNNING
    assert stop.urgent
    assert stop.id == "run-20261126T221500Z:stop_running:2"
    assert driver.state.history[-1].kind is PainKind.SHARP
    # The next run starts with the stop prompt instead of a warm-up.
    driver.belt(86400, 86500)
    assert driver.prompts()[-1].id == "run-20261127T221500Z:stop_running"
    assert PromptKind.WARMUP not in [p.kind for p in driver.prompts()[-1:]]


def test_a_milder_check_in_never_lowers_the_stop_flag() -> None:
    driver = _driver(BackPain.RED)
    out = driver.send(10, CheckinReceived(3, PainKind.NIGHT))
    assert driver.state.flags.back_pain is BackPain.RED
    assert not any(isinstance(a, FlagsChanged) for a in out)
    (checked,) = published(out)
    assert checked.kind is PromptKind.GET_CHECKED


def test_a_red_check_in_before_any_run_still_says_stop() -> None:
    driver = _driver()
    out = driver.send(10, CheckinReceived(8, PainKind.RADIATING, (PainKind.SHARP,)))
    (stop,) = published(out)
    assert stop.run_id is None
    assert stop.id == "checkin-20261126T221510Z:stop_running:2"
    assert driver.state.history == ()


def test_an_ache_flag_that_expires_mid_run_stops_incline_help() -> None:
    driver = _driver(incline_interval_s=60)
    driver.send(-10, FlagSet(BackPain.ACHE, at(200)))
    driver.belt(0, 190, incline_pct=0.0, follow_incline=False)
    assert len(set_inclines(driver.actions)) == 1
    driver.belt(195, 900, incline_pct=0.0, follow_incline=False)
    assert len(set_inclines(driver.actions)) == 1
    assert FlagsChanged(driver.state.flags) in driver.actions
    assert driver.state.flags.back_pain is BackPain.NONE
    assert driver.state.suggested_incline_pct is None


def test_a_run_ends_when_the_treadmill_goes_silent() -> None:
    driver = _driver()
    driver.belt(0, 300)
    driver.send(400, TimerFired("tick"))
    assert driver.state.running
    out = driver.send(421, TimerFired("tick"))
    (ended,) = [a for a in out if isinstance(a, RunEnded)]
    assert ended.summary.ended_at == at(300)
    assert ended.summary.duration_s == 300


def test_a_reading_without_speed_neither_starts_nor_ends_a_run() -> None:
    driver = _driver()
    driver.send(0, ReadingReceived(Reading(None, 1.0, None, 120, None)))
    assert not driver.state.running
    driver.belt(10, 100)
    driver.send(105, ReadingReceived(Reading(heart_rate_bpm=150)))
    state = driver.state
    assert state.running
    assert state.session.run is not None
    assert state.session.run.stats.hr_max == 150
    assert state.session.last_moving_at == at(100)
    assert state.session.run.started_at == at(10)
    assert state.session.run.started_at + timedelta(seconds=90) == at(100)


def test_a_console_pause_with_the_belt_reported_still_counts_once() -> None:
    driver = _driver()
    driver.belt(0, 600, speed_kmh=8.0)
    driver.send(601, MachineStopped(paused=True))  # still from 601 ...
    driver.belt(605, 660, speed_kmh=0.0)  # ... and the treadmill says so as well
    driver.belt(665, 1200, speed_kmh=8.0)  # ... until here
    driver.belt(1205, 1400, speed_kmh=0.0)
    summary = _summary(driver).summary
    assert summary.duration_s == 1200 - 64
    assert summary.ended_at == at(1200)

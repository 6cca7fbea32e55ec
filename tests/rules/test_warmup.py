"""The warm-up comes before the run, and never twice for one run."""

from __future__ import annotations

from tests.rules.runs import MILL, Driver, at
from treadwell.rules.actions import RunEnded
from treadwell.rules.engine import initial_state
from treadwell.rules.events import (
    FlagSet,
    MachineStopped,
    ReadingReceived,
    TimerFired,
    TreadmillConnected,
    TreadmillDisconnected,
)
from treadwell.rules.model import BackPain, PromptKind, Reading, RulesConfig

STILL = ReadingReceived(Reading(0.0, 0.0))


def _driver(**config: object) -> Driver:
    return Driver(initial_state(RulesConfig(**config)), [])  # type: ignore[arg-type]


def _warmups(driver: Driver) -> list[tuple[str, object]]:
    return [(p.id, p.created_at) for p in driver.prompts() if p.kind is PromptKind.WARMUP]


def test_the_warm_up_comes_when_the_treadmill_connects_and_the_run_adopts_it() -> None:
    driver = _driver()
    driver.send(-300, TreadmillConnected(MILL))
    driver.belt(-240, -5, speed_kmh=0.0)  # the runner stretches beside the still belt
    driver.belt(0, 900)
    driver.belt(905, 1100, speed_kmh=0.0)
    assert _warmups(driver) == [("prerun-20261126T221000Z:warmup", at(-300))]
    (ended,) = [a for a in driver.actions if isinstance(a, RunEnded)]
    assert ended.summary.prompt_ids[0] == "prerun-20261126T221000Z:warmup"


def test_the_warm_up_comes_when_a_sleeping_treadmill_wakes_with_the_belt_still() -> None:
    driver = _driver()
    driver.send(-7200, TreadmillConnected(MILL))  # long ago: that offer has lapsed
    driver.send(-3600, STILL)  # woke once, nobody ran: an offer that lapses too
    driver.send(-100, STILL)  # woke again
    driver.send(-95, STILL)
    driver.belt(0, 600)
    assert [i for i, _ in _warmups(driver)] == [
        "prerun-20261126T201500Z:warmup",
        "prerun-20261126T211500Z:warmup",
        "prerun-20261126T221320Z:warmup",
    ]


def test_a_run_without_a_fresh_offer_gets_the_warm_up_when_it_starts() -> None:
    driver = _driver(warmup_window_s=600)
    driver.send(-700, TreadmillConnected(MILL))
    driver.belt(0, 300)  # the belt starts without a still reading first
    assert [i for i, _ in _warmups(driver)] == [
        "prerun-20261126T220320Z:warmup",
        "run-20261126T221500Z:warmup",
    ]
    assert _warmups(driver)[1][1] == at(5)


def test_an_offer_serves_one_run_only() -> None:
    driver = _driver()
    driver.send(-60, TreadmillConnected(MILL))
    driver.belt(0, 300)
    driver.send(301, MachineStopped(paused=False))  # run over
    driver.belt(305, 400, speed_kmh=0.0)  # the belt stays still, the treadmill talking
    driver.belt(420, 700)  # a second run, soon after
    assert [i for i, _ in _warmups(driver)] == [
        "prerun-20261126T221400Z:warmup",
        "run-20261126T222200Z:warmup",
    ]


def test_no_warm_up_while_a_run_is_on_or_after_a_reconnect_mid_run() -> None:
    driver = _driver()
    driver.belt(0, 300)
    driver.send(305, TreadmillDisconnected())
    driver.send(330, TreadmillConnected(MILL))
    driver.send(335, STILL)
    driver.send(400, STILL)  # standing on the rails for a moment: the run goes on
    driver.belt(405, 600)
    assert driver.state.run_id == "run-20261126T221500Z"
    assert [i for i, _ in _warmups(driver)] == ["run-20261126T221500Z:warmup"]


def test_no_warm_up_with_the_stop_flag() -> None:
    driver = _driver()
    driver.send(-100, FlagSet(BackPain.RED))
    driver.send(-60, TreadmillConnected(MILL))
    driver.send(-30, STILL)
    driver.belt(0, 300)
    assert _warmups(driver) == []
    assert driver.kinds() == [PromptKind.STOP_RUNNING]


def test_a_stop_flag_set_after_the_offer_is_the_runs_first_word() -> None:
    driver = _driver()
    driver.send(-60, TreadmillConnected(MILL))
    driver.send(-30, FlagSet(BackPain.RED))
    driver.belt(0, 300)
    driver.send(900, TimerFired("tick"))
    assert driver.kinds()[:2] == [PromptKind.WARMUP, PromptKind.STOP_RUNNING]
    assert driver.prompts()[1].run_id == "run-20261126T221500Z"

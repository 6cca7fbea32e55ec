"""The household: runners own flags and history, one incline policy, a red flag stops everything."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.rules.runs import MILL, T0, at
from treadwell.rules.actions import (
    CancelScheduled,
    FlagsChanged,
    InclineSource,
    PublishPrompt,
    RunEnded,
    RunStarted,
    SchedulePrompt,
    SetIncline,
)
from treadwell.rules.events import (
    MachineStopped,
    ReadingReceived,
    TimerFired,
    TreadmillConnected,
    TreadmillDisconnected,
)
from treadwell.rules.household import (
    CancelIncline,
    HouseholdConfig,
    HouseholdState,
    InclineRefused,
    InclineRequested,
    Order,
    Routed,
    RunnerChanged,
    RunnerCheckin,
    RunnerFlagSet,
    RunnerProfile,
    RunnerSelected,
    RunnerState,
    StrapPresence,
    TreadmillEvent,
    TreadmillProfile,
    TreadmillSlot,
    checkin_run,
    evaluate,
    initial_household,
    limits_for,
    needs_commit,
)
from treadwell.rules.model import (
    BackPain,
    Flags,
    PainKind,
    PromptKind,
    Reading,
    RulesConfig,
    RulesInputError,
)
from treadwell.rules.serialization import (
    StateFormatError,
    household_from_json,
    household_to_json,
)

RULES = RulesConfig(incline_underway_s=60.0, incline_interval_s=120.0)
ALICE = RunnerProfile("alice", max_incline_pct=3.0, automation_allowed=True)
BOB = RunnerProfile("bob", max_incline_pct=2.0, automation_allowed=False)
GARAGE = TreadmillProfile("garage", max_incline_pct=10.0, automation_allowed=True)
LOFT = TreadmillProfile("loft", max_incline_pct=2.5, automation_allowed=True)
CONFIG = HouseholdConfig(RULES, (ALICE, BOB), (GARAGE, LOFT), default_runner="alice")


@dataclass
class House:
    """Feeds orders to the household and keeps every routed action."""

    state: HouseholdState = field(default_factory=lambda: initial_household(CONFIG))
    out: list[Routed] = field(default_factory=list)

    def send(self, seconds: float, order: Order) -> tuple[Routed, ...]:
        self.state, routed = evaluate(self.state, order, at(seconds))
        self.out.extend(routed)
        return routed

    def connect(self, seconds: float, *decks: str) -> None:
        for deck in decks:
            self.send(seconds, TreadmillEvent(deck, TreadmillConnected(MILL)))

    def belt(self, deck: str, start: float, end: float, incline: float = 0.0) -> None:
        t = start
        while t <= end:
            self.send(t, TreadmillEvent(deck, ReadingReceived(Reading(9.0, incline))))
            t += 5.0

    def actions(self, kind: type) -> list[Routed]:
        return [r for r in self.out if isinstance(r.action, kind)]

    def prompts(self, runner: str | None = None) -> list[PublishPrompt]:
        return [
            r.action
            for r in self.actions(PublishPrompt)
            if isinstance(r.action, PublishPrompt) and runner in {None, r.runner}
        ]


def test_a_runner_the_household_has_no_state_for_starts_fresh() -> None:
    state = initial_household(CONFIG)
    assert state.runner("carol") == RunnerState()
    assert state.runner("alice") is state.runners[0][1]


def test_config_refuses_what_cannot_work() -> None:
    with pytest.raises(RulesInputError, match="needs a name"):
        RunnerProfile("")
    with pytest.raises(RulesInputError, match="max_incline_pct"):
        RunnerProfile("a", max_incline_pct=-1)
    with pytest.raises(RulesInputError, match="at least one runner"):
        HouseholdConfig(RULES, (), (GARAGE,), "a")
    with pytest.raises(RulesInputError, match="unique"):
        HouseholdConfig(RULES, (ALICE, ALICE), (GARAGE,), "alice")
    with pytest.raises(RulesInputError, match="not a runner"):
        HouseholdConfig(RULES, (ALICE,), (GARAGE,), "carol")
    with pytest.raises(RulesInputError, match="no treadmill"):
        CONFIG.treadmill("attic")


@pytest.mark.parametrize(
    ("runner", "deck", "ceiling", "automation"),
    [
        ("alice", "garage", 3.0, True),
        ("alice", "loft", 2.5, True),
        ("bob", "garage", 2.0, False),
        ("carol", "garage", 3.0, True),  # an unknown runner is treated as the default one
    ],
)
def test_the_engine_gets_the_smaller_ceiling_and_both_consents(
    runner: str, deck: str, ceiling: float, automation: bool
) -> None:
    config = CONFIG.engine_config(runner, deck)
    assert (config.max_incline_pct, config.automation_allowed) == (ceiling, automation)


def test_who_runs_strap_first_then_selection_then_default() -> None:
    house = House()
    assert house.state.runner_on("garage") == "alice"
    house.send(0, RunnerSelected("garage", "bob"))
    assert house.state.runner_on("garage") == "bob"
    assert house.actions(RunnerChanged)[-1].action == RunnerChanged("garage", "bob")
    house.send(1, RunnerSelected("garage", "carol"))  # unknown: back to automatic
    assert house.state.runner_on("garage") == "alice"
    house.send(2, StrapPresence("bob", present=True))
    assert house.state.runner_on("garage") == "bob"
    assert house.state.runner_on("loft") == "bob"
    house.send(3, StrapPresence("alice", present=True))
    house.send(4, RunnerSelected("loft", "alice"))
    assert house.state.runner_on("loft") == "alice"  # selected and strapped beats other straps
    house.send(5, StrapPresence("bob", present=False))
    house.send(6, StrapPresence("carol", present=True))  # not a runner: ignored
    assert house.state.present == ("alice",)
    with pytest.raises(RulesInputError, match="no treadmill"):
        house.send(7, RunnerSelected("attic", "bob"))


def test_a_selection_a_config_no_longer_knows_falls_back_to_the_default() -> None:
    state = initial_household(CONFIG)
    slots = tuple((n, replace(s, selected="zoe")) for n, s in state.treadmills)
    assert replace(state, treadmills=slots).runner_on("garage") == "alice"


def test_a_run_belongs_to_its_runner_until_it_ends() -> None:
    house = House()
    house.send(0, RunnerSelected("garage", "bob"))
    house.connect(0, "garage")  # the warm-up offered now is bob's
    house.belt("garage", 1, 30)
    started = house.actions(RunStarted)
    assert [(r.runner, r.treadmill) for r in started] == [("bob", "garage")]
    run_id = started[0].action.run_id  # type: ignore[union-attr]
    assert run_id.endswith("-garage-1")
    house.send(31, RunnerSelected("garage", "alice"))  # mid-run: the next run is alice's
    assert house.state.runner_on("garage") == "bob"
    assert all(p.prompt.runner == "bob" for p in house.prompts())
    house.send(40, TreadmillEvent("garage", MachineStopped(paused=False)))
    ended = house.actions(RunEnded)
    assert ended[0].runner == "bob"
    summary = ended[0].action.summary  # type: ignore[union-attr]
    assert (summary.runner, summary.treadmill) == ("bob", "garage")
    assert house.state.runner_on("garage") == "alice"
    assert house.state.runner("bob").last_run_id == run_id
    assert house.state.runner("alice").last_run_id is None
    scheduled = house.actions(SchedulePrompt)
    assert scheduled
    assert all(isinstance(r.action, SchedulePrompt) for r in scheduled)
    assert all(r.action.prompt.runner == "bob" for r in scheduled)  # type: ignore[union-attr]


def test_runs_starting_in_the_same_second_on_two_treadmills_get_different_ids() -> None:
    house = House()
    house.connect(0, "garage", "loft")
    for t in range(0, 30, 5):
        house.send(t, TreadmillEvent("garage", ReadingReceived(Reading(9.0, 0.0))))
        house.send(t, TreadmillEvent("loft", ReadingReceived(Reading(9.0, 0.0))))
    ids = [r.action.run_id for r in house.actions(RunStarted)]  # type: ignore[union-attr]
    assert len(ids) == 2
    assert len(set(ids)) == 2
    prompt_ids = [p.prompt.id for p in house.prompts()]
    assert len(prompt_ids) == len(set(prompt_ids))


def test_automation_goes_through_the_policy_with_the_smallest_ceiling() -> None:
    house = House()
    house.send(0, RunnerFlagSet("alice", BackPain.ACHE))
    house.connect(0, "loft")
    house.belt("loft", 1, 90)
    sets = [r.action for r in house.actions(SetIncline)]
    assert len(sets) == 1
    action = sets[0]
    assert isinstance(action, SetIncline)
    assert action.treadmill == "loft"
    assert action.source is InclineSource.AUTOMATION
    assert (action.min_pct, action.max_pct) == (0.0, 2.5)
    assert action.incline_pct <= 2.5


def test_a_runner_without_consent_gets_suggestions_only() -> None:
    house = House()
    house.send(0, RunnerFlagSet("bob", BackPain.ACHE))
    house.send(0, RunnerSelected("garage", "bob"))
    house.connect(0, "garage")
    house.belt("garage", 1, 90)
    assert not house.actions(SetIncline)
    assert [p.prompt.kind for p in house.prompts("bob")].count(PromptKind.INCLINE) == 1


@pytest.mark.parametrize(
    ("setup", "incline", "reason"),
    [
        ("red", 2.0, "red back-pain flag (red)"),
        ("check", 2.0, "red back-pain flag (check)"),
        ("no-dashboard", 2.0, "dashboard incline control is off"),
        ("disconnected", 2.0, "not connected"),
        ("fixed-deck", 2.0, "cannot set its incline"),
        ("", 3.5, "outside your limits"),
        ("", -1.0, "outside your limits"),
        ("high-floor", 4.0, "no incline may be set"),
        ("zero-ceiling", 0.0, "no incline may be set"),
    ],
)
def test_a_dashboard_request_that_breaks_a_rule_is_refused_with_its_reason(
    setup: str, incline: float, reason: str
) -> None:
    config = CONFIG
    if setup == "no-dashboard":
        config = replace(CONFIG, treadmills=(replace(GARAGE, dashboard_control=False), LOFT))
    if setup == "zero-ceiling":
        config = replace(CONFIG, treadmills=(replace(GARAGE, max_incline_pct=0.0), LOFT))
    house = House(initial_household(config))
    if setup != "disconnected":
        floor = 4.0 if setup == "high-floor" else 0.0
        mill = replace(MILL, can_set_incline=setup != "fixed-deck", min_incline_pct=floor)
        house.send(0, TreadmillEvent("garage", TreadmillConnected(mill)))
    if setup in {"red", "check"}:
        house.send(0, RunnerFlagSet("alice", BackPain(setup)))
    (routed,) = [r for r in house.send(1, InclineRequested("garage", incline)) if r.treadmill]
    assert isinstance(routed.action, InclineRefused)
    assert reason in routed.action.reason
    assert routed.action.source is InclineSource.DASHBOARD


def test_a_dashboard_request_within_every_limit_is_set() -> None:
    house = House()
    house.connect(0, "garage")
    (routed,) = house.send(1, InclineRequested("garage", 2.0))
    assert routed.action == SetIncline(
        2.0, "", treadmill="garage", min_pct=0.0, max_pct=3.0, source=InclineSource.DASHBOARD
    )
    assert limits_for(house.state, "garage") == (0.0, 3.0)


def test_automation_the_deck_does_not_allow_is_refused() -> None:
    config = replace(CONFIG, treadmills=(replace(GARAGE, automation_allowed=False), LOFT))
    house = House(initial_household(config))
    house.connect(0, "garage")
    (routed,) = house.send(1, InclineRequested("garage", 2.0, InclineSource.AUTOMATION))
    assert isinstance(routed.action, InclineRefused)
    assert "automation is not allowed" in routed.action.reason


def test_a_red_flag_stops_every_treadmill_the_runner_is_on_at_once() -> None:
    house = House()
    house.send(0, RunnerFlagSet("alice", BackPain.ACHE))
    house.connect(0, "garage", "loft")
    house.belt("garage", 1, 30)
    house.belt("loft", 1, 30)
    house.out.clear()
    house.send(31, RunnerFlagSet("alice", BackPain.RED))
    cancels = {r.action.treadmill for r in house.actions(CancelIncline)}  # type: ignore[union-attr]
    assert cancels == {"garage", "loft"}
    stops = [p.prompt for p in house.prompts() if p.prompt.kind == "stop_running"]
    assert len(stops) == 2
    assert len(house.actions(FlagsChanged)) == 1
    for deck in ("garage", "loft"):
        (routed,) = house.send(32, InclineRequested(deck, 1.0))
        assert isinstance(routed.action, InclineRefused)
    house.belt("garage", 35, 300)
    assert not house.actions(SetIncline)


def test_a_red_checkin_raises_the_flag_on_every_run_of_that_runner() -> None:
    house = House()
    house.connect(0, "garage")
    house.belt("garage", 1, 30)
    run_id = house.state.slot("garage").engine.run_id
    house.out.clear()
    # Sharp, severe and down the leg: the stop level.
    house.send(31, RunnerCheckin("alice", 8, PainKind.SHARP, None, (PainKind.RADIATING,)))
    assert house.state.runner("alice").flags.back_pain is BackPain.RED
    stops = [p.prompt for p in house.prompts() if p.prompt.kind == "stop_running"]
    assert {p.run_id for p in stops} == {None, run_id}
    assert [r.action for r in house.actions(CancelIncline)] == [
        CancelIncline("garage", "cancelled: alice's red back-pain flag is on"),
        CancelIncline("loft", "cancelled: alice's red back-pain flag is on"),
    ]
    assert house.state.runner("bob").flags.back_pain is BackPain.NONE


def test_a_checkin_goes_to_the_run_it_names_or_the_latest() -> None:
    house = House()
    house.connect(0, "garage")
    house.belt("garage", 1, 30)
    house.send(40, TreadmillEvent("garage", MachineStopped(paused=False)))
    first = house.state.runner("alice").last_run_id
    house.belt("garage", 100, 130)
    house.send(140, TreadmillEvent("garage", MachineStopped(paused=False)))
    second = house.state.runner("alice").last_run_id
    assert first != second
    assert checkin_run(house.state, "alice", first) == first
    assert checkin_run(house.state, "alice", "run-unknown") == second
    assert checkin_run(house.state, "bob", None) is None
    house.out.clear()
    house.send(150, RunnerCheckin("alice", 3, PainKind.ACHE, first))
    history = {e.run_id: e.pain for e in house.state.runner("alice").history}
    assert history == {first: 3, second: None}
    cancelled = [r.action for r in house.actions(CancelScheduled)]
    assert cancelled == [CancelScheduled(f"{first}:checkin")]


def test_runner_events_for_an_unknown_runner_are_refused() -> None:
    with pytest.raises(RulesInputError, match="no runner called"):
        House().send(0, RunnerFlagSet("carol", BackPain.ACHE))


def test_evaluate_needs_an_aware_time() -> None:
    with pytest.raises(RulesInputError, match="timezone-aware"):
        evaluate(initial_household(CONFIG), TimerFired("tick"), T0.replace(tzinfo=None))


def test_a_fired_prompt_is_forgotten_and_time_passes_on_every_deck() -> None:
    house = House()
    house.connect(0, "garage")
    house.belt("garage", 1, 30)
    house.send(40, TreadmillEvent("garage", MachineStopped(paused=False)))
    pending = house.state.runner("alice").pending
    assert pending
    house.send(50, TimerFired(pending[0]))
    assert pending[0] not in house.state.runner("alice").pending


def test_a_flag_of_a_runner_on_no_treadmill_still_expires() -> None:
    house = House()
    house.send(0, RunnerFlagSet("bob", BackPain.ACHE, at(60)))
    house.out.clear()
    house.send(30, TimerFired("tick"))
    assert not house.actions(FlagsChanged)
    house.send(61, TimerFired("tick"))
    changed = house.actions(FlagsChanged)
    assert [(r.runner, r.action.flags.back_pain) for r in changed] == [("bob", BackPain.NONE)]  # type: ignore[union-attr]


def test_a_disconnected_treadmill_refuses_until_it_is_back() -> None:
    house = House()
    house.connect(0, "garage")
    house.send(1, TreadmillEvent("garage", TreadmillDisconnected()))
    (routed,) = house.send(2, InclineRequested("garage", 2.0))
    assert isinstance(routed.action, InclineRefused)


def test_only_lasting_changes_need_a_commit() -> None:
    keep = Routed(FlagsChanged(Flags()), "alice", None)
    passing = Routed(RunnerChanged("garage", "bob"), "bob", "garage")
    assert needs_commit([keep])
    assert not needs_commit([passing])


def test_the_household_round_trips_through_json() -> None:
    house = House()
    house.send(0, RunnerFlagSet("bob", BackPain.ACHE, T0 + timedelta(days=2)))
    house.connect(0, "garage")
    house.belt("garage", 1, 30)
    loaded, dropped = household_from_json(household_to_json(house.state), CONFIG)
    assert dropped == []
    assert loaded.runners == house.state.runners
    assert (
        dict(loaded.treadmills)["garage"].engine.session
        == house.state.slot("garage").engine.session
    )
    assert dict(loaded.treadmills)["garage"].run_runner == "alice"


def test_loading_drops_what_the_config_no_longer_has_and_starts_new_ones_fresh() -> None:
    text = household_to_json(House().state)
    smaller = HouseholdConfig(RULES, (ALICE, RunnerProfile("carol")), (GARAGE,), "alice")
    loaded, dropped = household_from_json(text, smaller)
    assert dropped == ["runner bob", "treadmill loft"]
    assert loaded.runner("carol") == RunnerState()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ('{"version": 1}', "version 3"),
        ('{"version": 3, "runners": []}', "needs 'runners'"),
        ('{"version": 3, "runners": {}, "treadmills": {"garage": 3}}', "expected an object"),
    ],
)
def test_a_damaged_household_state_is_refused(text: str, message: str) -> None:
    with pytest.raises(StateFormatError, match=message):
        household_from_json(text, CONFIG)


# -- the safety property --------------------------------------------------------------------

orders = st.one_of(
    st.builds(
        lambda deck, speed, incline: TreadmillEvent(deck, ReadingReceived(Reading(speed, incline))),
        st.sampled_from(["garage", "loft"]),
        st.sampled_from([0.0, 9.0, 9.0, 9.0]),
        st.sampled_from([0.0, 1.0, 2.5, 5.0]),
    ),
    st.builds(RunnerFlagSet, st.sampled_from(["alice", "bob"]), st.sampled_from(list(BackPain))),
    st.builds(
        RunnerCheckin,
        st.sampled_from(["alice", "bob"]),
        st.integers(0, 10),
        st.sampled_from(list(PainKind)),
    ),
    st.builds(
        RunnerSelected, st.sampled_from(["garage", "loft"]), st.sampled_from(["alice", "bob", None])
    ),
    st.builds(StrapPresence, st.sampled_from(["alice", "bob"]), st.booleans()),
    st.builds(
        InclineRequested,
        st.sampled_from(["garage", "loft"]),
        st.floats(-5.0, 20.0),
        st.sampled_from(list(InclineSource)),
    ),
    st.builds(
        lambda deck: TreadmillEvent(deck, TreadmillConnected(MILL)),
        st.sampled_from(["garage", "loft"]),
    ),
    st.builds(
        lambda deck: TreadmillEvent(deck, TreadmillDisconnected()),
        st.sampled_from(["garage", "loft"]),
    ),
    st.just(TimerFired("tick")),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 40), orders), max_size=80))
def test_no_incline_is_ever_set_for_a_red_flag_or_above_the_limit(
    steps: list[tuple[int, Order]],
) -> None:
    state = initial_household(CONFIG)
    t = 0.0
    for gap, order in steps:
        t += gap
        now = at(t)
        state, routed = evaluate(state, order, now)
        for item in routed:
            action = item.action
            if not isinstance(action, SetIncline):
                continue
            runner = state.runner_on(action.treadmill)
            assert item.runner == runner
            assert state.runner(runner).flags.effective(now) is not BackPain.RED
            person = CONFIG.runner(runner)
            deck = CONFIG.treadmill(action.treadmill)
            ceiling = min(person.max_incline_pct, deck.max_incline_pct, MILL.max_incline_pct)
            assert 0.0 <= action.min_pct <= action.incline_pct <= action.max_pct <= ceiling
            if action.source is InclineSource.AUTOMATION:
                assert person.automation_allowed
                assert deck.automation_allowed


def test_slot_defaults() -> None:
    slot = TreadmillSlot(initial_household(CONFIG).slot("garage").engine)
    assert (slot.selected, slot.run_runner, slot.runs_started) == (None, None, 0)


def test_a_treadmill_added_to_the_config_starts_fresh() -> None:
    smaller = HouseholdConfig(RULES, (ALICE,), (GARAGE,), "alice")
    loaded, dropped = household_from_json(household_to_json(initial_household(smaller)), CONFIG)
    assert dropped == []
    assert loaded.slot("loft") == initial_household(CONFIG).slot("loft")

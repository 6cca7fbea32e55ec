"""Table-driven edges of each rule, with explicit `now`."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.rules.runs import MILL, T0, Driver, at, set_inclines
from treadwell.drivers.errors import TreadwellError
from treadwell.rules import catalogue, checkins, form, incline, session
from treadwell.rules.engine import evaluate, initial_state
from treadwell.rules.events import (
    CheckinReceived,
    FlagSet,
    ReadingReceived,
    TreadmillConnected,
    TreadmillDisconnected,
)
from treadwell.rules.model import (
    BackPain,
    Flags,
    PainKind,
    PromptKind,
    Reading,
    RulesConfig,
    RulesInputError,
    Step,
    Treadmill,
)

CONFIG = RulesConfig()


@pytest.mark.parametrize(
    ("low", "high", "step", "target"),
    [
        (0.0, 15.0, 0.5, 2.5),
        (0.0, 15.0, 0.1, 2.5),
        (0.0, 15.0, 1.0, 2.0),  # 2 and 3 tie for 2.5: round-half-even picks 2
        (0.0, 15.0, 2.0, 2.0),
        (0.0, 15.0, 4.0, None),  # steps 0, 4: nothing lands in 2-3 %
        (1.0, 15.0, 1.5, 2.5),
        (-3.0, 15.0, 0.7, 2.6),
        (2.6, 15.0, 0.5, 2.6),  # the range starts inside the window
        (0.0, 2.2, 0.1, 2.2),  # the range ends inside the window
        (0.0, 1.5, 0.5, None),  # the range never reaches the window
        (3.5, 15.0, 0.5, None),
    ],
)
def test_the_target_incline_snaps_to_the_treadmill(
    low: float, high: float, step: float, target: float | None
) -> None:
    assert incline.target_incline(CONFIG, Treadmill(True, low, high, step)) == target


@pytest.mark.parametrize(
    ("runner_max", "target"), [(8.0, 2.5), (2.2, 2.2), (2.0, 2.0), (1.9, None)]
)
def test_the_target_never_exceeds_the_runners_maximum(
    runner_max: float, target: float | None
) -> None:
    config = RulesConfig(max_incline_pct=runner_max)
    assert incline.target_incline(config, None) == target


def _decide(
    state: incline.InclineState = incline.InclineState(),  # noqa: B008
    *,
    incline_pct: float | None = 0.0,
    flag: BackPain = BackPain.ACHE,
    seconds: float = 120,
    treadmill: Treadmill | None = MILL,
    config: RulesConfig = CONFIG,
) -> tuple[incline.InclineState, incline.InclineDecision | None]:
    return incline.decide(
        state,
        incline_pct=incline_pct,
        flag=flag,
        run_started_at=T0,
        now=at(seconds),
        config=config,
        treadmill=treadmill,
    )


@pytest.mark.parametrize(
    ("kwargs", "decision"),
    [
        ({}, incline.InclineDecision(2.5, set_it=True)),
        ({"incline_pct": None}, None),
        ({"flag": BackPain.NONE}, None),
        ({"flag": BackPain.RED}, None),
        ({"incline_pct": 2.0}, None),  # already in the window
        ({"incline_pct": 4.0}, None),  # above the window: never lowered
        ({"seconds": 30}, None),  # not underway yet
        ({"treadmill": None}, incline.InclineDecision(2.5, set_it=False)),
        ({"treadmill": Treadmill(False, 0, 15, 0.5)}, incline.InclineDecision(2.5, set_it=False)),
        ({"treadmill": Treadmill(True, 0, 15, 4.0)}, None),
        ({"config": RulesConfig(automation_allowed=False)}, incline.InclineDecision(2.5, False)),
    ],
)
def test_incline_decisions(kwargs: dict[str, object], decision: object) -> None:
    assert _decide(**kwargs)[1] == decision  # type: ignore[arg-type]


def test_no_second_incline_action_inside_the_interval() -> None:
    state, first = _decide(treadmill=None)
    state, _ = _decide(state, incline_pct=2.5, seconds=130, treadmill=None)  # re-armed
    assert first is not None
    assert _decide(state, seconds=419, treadmill=None)[1] is None
    assert _decide(state, seconds=420, treadmill=None)[1] == incline.InclineDecision(2.5, False)


def test_a_suggestion_is_not_repeated_until_the_incline_was_in_the_window() -> None:
    state, _ = _decide(treadmill=None)
    assert _decide(state, seconds=5000, treadmill=None)[1] is None


@pytest.mark.parametrize(
    ("observed", "seconds", "confirmed", "overridden"),
    [
        (2.5, 125, True, False),
        (2.45, 125, True, False),
        (1.0, 125, False, False),  # still ramping up
        (1.0, 150, False, True),  # the treadmill had time to get there
    ],
)
def test_our_incline_is_confirmed_or_overridden(
    observed: float, seconds: float, confirmed: bool, overridden: bool
) -> None:
    state, _ = _decide()
    state = incline.observe(state, observed, at(seconds), CONFIG)
    assert (state.confirmed, state.overridden) == (confirmed, overridden)


def test_any_change_after_confirmation_is_manual() -> None:
    state, _ = _decide()
    state = incline.observe(state, 2.5, at(125), CONFIG)
    state = incline.observe(state, 3.0, at(126), CONFIG)
    assert state.overridden
    assert incline.observe(state, 2.5, at(127), CONFIG) == state
    assert _decide(state, seconds=9999)[1] is None


def _form(
    state: form.FormState, speed: float, hr: int | None, seconds: float, incline_pct: float | None
) -> tuple[form.FormState, form.FormReason | None]:
    reading = Reading(speed, incline_pct, None, hr, None)
    # No settle time: the baseline is the first reading of a stretch (curves: test_form.py).
    config = RulesConfig(hr_baseline_after_s=600, hr_settle_s=0)
    return form.decide(
        state, reading=reading, distance_m=0.0, run_started_at=T0, now=at(seconds), config=config
    )


@pytest.mark.parametrize(
    ("samples", "reason"),
    [
        ([(10.0, 140, 700, 0.0), (10.0, 150, 710, 0.0)], form.FormReason.HEART_RATE_DRIFT),
        ([(10.0, 140, 700, 0.0), (10.0, 149, 710, 0.0)], None),
        ([(10.0, 140, 500, 0.0), (10.0, 150, 510, 0.0)], None),  # too early for a baseline
        ([(10.0, 140, 700, 0.0), (11.0, 150, 710, 0.0)], None),  # faster: new stretch
        ([(10.0, 140, 700, 0.0), (10.4, 150, 710, 0.0)], form.FormReason.HEART_RATE_DRIFT),
        ([(10.0, 140, 700, 0.0), (10.0, 150, 710, 2.5)], None),  # steeper: new stretch
        ([(10.0, 140, 700, None), (10.0, 150, 710, None)], form.FormReason.HEART_RATE_DRIFT),
        ([(10.0, 140, 700, None), (10.0, 150, 710, 1.0)], None),
        ([(10.0, 140, 700, 0.0), (10.0, None, 710, 0.0)], None),
        ([(10.0, 140, 700, 0.0), (10.0, 150, 730, 0.0)], None),  # a gap: new stretch
        ([(10.0, 140, 700, 0.0), (0.0, 100, 705, 0.0), (10.0, 150, 710, 0.0)], None),  # pause
        (
            [(10.0, 140, 700, 0.0), (10.0, 130, 705, 0.0), (10.0, 140, 710, 0.0)],
            (form.FormReason.HEART_RATE_DRIFT),
        ),
    ],
)
def test_heart_rate_drift_at_a_steady_pace(
    samples: list[tuple[float, int | None, float, float | None]], reason: object
) -> None:
    state, result = form.FormState(), None
    for speed, hr, seconds, incline_pct in samples:
        state, result = _form(state, speed, hr, seconds, incline_pct)
    assert result == reason


def test_heart_rate_is_not_watched_when_drift_is_off() -> None:
    config = RulesConfig(hr_drift_bpm=None)
    reading = Reading(10.0, 0.0, None, 190, None)
    assert form.decide(
        form.FormState(), reading=reading, distance_m=0, run_started_at=T0, now=at(9000),
        config=config,
    ) == (form.FormState(), None)  # fmt: skip


@pytest.mark.parametrize(
    ("duration_s", "words"),
    [(600, "Refill"), (1200, "Refill"), (1201, "keep sipping"), (4000, "keep sipping")],
)
def test_hydration_is_about_staying_hydrated_not_one_glass(duration_s: float, words: str) -> None:
    message = catalogue.hydration(duration_s).message
    assert words in message
    assert "day to day" in message
    assert "chronically" in message
    assert "A glass" not in message


def test_every_catalogue_prompt_has_a_title_message_and_sane_steps() -> None:
    texts = [
        catalogue.warmup(),
        catalogue.incline(2.5, automated=True),
        catalogue.incline(2.5, automated=False),
        catalogue.form_cue(heart_rate_drift=True),
        catalogue.form_cue(heart_rate_drift=False),
        catalogue.hydration(60),
        catalogue.hydration_reminder(),
        catalogue.stretch(),
        catalogue.checkin(),
        catalogue.see_physio(3, 5),
        catalogue.stop_running(from_checkin=True),
        catalogue.stop_running(from_checkin=False),
        catalogue.get_checked(from_checkin=True),
        catalogue.get_checked(from_checkin=False),
        catalogue.stride(140, 10.0),
        catalogue.shoes(),
    ]
    for text in texts:
        assert text.title
        assert len(text.message) > 40
        assert "run tall" not in text.message.lower()
        for step in text.steps:
            assert step.how
    assert catalogue.warmup().steps == (
        catalogue.LEG_SWINGS,
        catalogue.BUTT_KICKS,
        catalogue.HIP_CARS,
    )
    assert catalogue.LEG_SWINGS.duration == "20 s"
    assert catalogue.BUTT_KICKS.duration == "20-30 s"
    assert catalogue.FIGURE_FOUR.duration == "20-30 s"
    assert catalogue.HIP_CARS.reps == "3-5 circles"
    assert catalogue.HIP_CARS.how is not None
    assert "floor" in catalogue.HIP_CARS.how
    assert catalogue.HIP_CARS.duration is None
    assert catalogue.FIGURE_FOUR.per_side
    assert catalogue.HIP_FLEXOR_STRETCH.how is not None
    assert "Before the belt starts" in catalogue.warmup().message


def test_the_form_cue_warns_against_chest_up_instead_of_asking_for_it() -> None:
    message = catalogue.form_cue(heart_rate_drift=False).message
    assert "Do not pull the chest up" in message
    assert "flares the ribs" in message


@pytest.mark.parametrize(
    ("kwargs", "duration"),
    [
        ({"seconds": 30}, "30 s"),
        ({"seconds": 20, "max_seconds": 30}, "20-30 s"),
        ({"seconds": 20, "max_seconds": 20}, "20 s"),
        ({"reps": "5"}, None),
    ],
)
def test_a_step_shows_its_time_or_time_range(kwargs: dict[str, object], duration: str) -> None:
    assert Step("x", **kwargs).duration == duration  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"max_seconds": 30}, {"seconds": 30, "max_seconds": 20}])
def test_a_step_range_must_run_upwards(kwargs: dict[str, object]) -> None:
    with pytest.raises(RulesInputError, match="max_seconds"):
        Step("x", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"run_start_s": 0.5}, "run_start_s"),
        ({"stop_timeout_s": -1}, "stop_timeout_s"),
        ({"incline_interval_s": float("nan")}, "incline_interval_s"),
        ({"incline_target_pct": 3.5}, "incline window"),
        ({"incline_window_min_pct": -1}, "incline window"),
        ({"hr_drift_bpm": 0}, "hr_drift_bpm"),
        ({"escalate_painful_runs": 6}, "escalate_painful_runs"),
        ({"escalate_painful_runs": 0}, "escalate_painful_runs"),
        ({"severe_pain": 0}, "severe_pain"),
        ({"severe_pain": 11}, "severe_pain"),
        ({"shoe_note_fraction": 0.0}, "shoe_note_fraction"),
        ({"shoe_note_fraction": 1.5}, "shoe_note_fraction"),
        ({"hr_settle_s": -1}, "hr_settle_s"),
        ({"overstride_cadence_spm": float("inf")}, "overstride_cadence_spm"),
    ],
)
def test_bad_config_is_refused_with_the_setting_named(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(RulesInputError, match=message):
        RulesConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("low", "high", "step", "message"),
    [
        (5.0, 1.0, 0.5, "inverted"),
        (0.0, 5.0, 0.0, "step"),
        (0.0, float("inf"), 0.5, "finite"),
    ],
)
def test_bad_treadmill_ranges_are_refused(
    low: float, high: float, step: float, message: str
) -> None:
    with pytest.raises(TreadwellError, match=message):
        Treadmill(True, low, high, step)


def test_naive_times_are_refused() -> None:
    naive = datetime(2026, 11, 26, 22, 15)  # noqa: DTZ001
    with pytest.raises(RulesInputError, match="timezone-aware"):
        Flags(BackPain.ACHE, naive)
    with pytest.raises(RulesInputError, match="timezone-aware"):
        FlagSet(BackPain.ACHE, naive)
    with pytest.raises(RulesInputError, match="timezone-aware"):
        evaluate(initial_state(CONFIG), TreadmillDisconnected(), naive)


@pytest.mark.parametrize("pain", [-1, 11])
def test_check_in_pain_outside_zero_to_ten_is_refused(pain: int) -> None:
    with pytest.raises(RulesInputError, match="0 to 10"):
        CheckinReceived(pain, PainKind.ACHE)


def test_a_check_in_cannot_combine_none_with_pain() -> None:
    with pytest.raises(RulesInputError, match="'none' cannot be combined"):
        CheckinReceived(3, PainKind.ACHE, (PainKind.NONE,))


S, R, N, A = PainKind.SHARP, PainKind.RADIATING, PainKind.NIGHT, PainKind.ACHE


@pytest.mark.parametrize(
    ("pain", "kinds", "level"),
    [
        (0, {PainKind.NONE}, None),
        (6, {A}, None),
        (2, {S}, BackPain.CHECK),  # sharp: have it checked soon
        (9, {S}, BackPain.CHECK),  # severe and sharp, but not down the leg
        (9, {R}, BackPain.CHECK),  # severe, down the leg, not sharp
        (3, {N}, BackPain.CHECK),  # at night
        (6, {S, R}, BackPain.CHECK),  # sharp, down the leg, not severe
        (7, {S, R}, BackPain.RED),  # sharp, severe, down the leg: stop until seen
        (10, {S, R, N, A}, BackPain.RED),
    ],
)
def test_a_check_ins_red_flag_level(pain: int, kinds: set[PainKind], level: object) -> None:
    assert checkins.level(pain, frozenset(kinds), RulesConfig().severe_pain) is level


@pytest.mark.parametrize(
    ("kinds", "most"),
    [(set(), PainKind.NONE), ({A, N}, N), ({N, R}, R), ({R, S, A}, S)],
)
def test_a_history_entry_keeps_the_most_serious_kind(kinds: set[PainKind], most: object) -> None:
    assert checkins.most_serious(frozenset(kinds)) is most


@pytest.mark.parametrize(
    ("flag", "red"),
    [(BackPain.NONE, False), (BackPain.ACHE, False), (BackPain.CHECK, True), (BackPain.RED, True)],
)
def test_both_red_flag_levels_are_red_flags(flag: BackPain, red: bool) -> None:
    assert flag.is_red_flag is red
    assert (
        checkins.red_flag_prompt(flag, "run-1", 1, at(0), from_checkin=False) is None
    ) is not red


@pytest.mark.parametrize(
    ("pain", "kind", "painful", "red"),
    [
        (0, PainKind.NONE, False, False),
        (2, PainKind.NONE, True, False),
        (0, PainKind.ACHE, True, False),
        (6, PainKind.SHARP, True, True),
        (6, PainKind.RADIATING, True, True),
        (3, PainKind.NIGHT, True, True),
    ],
)
def test_check_in_kinds(pain: int, kind: PainKind, painful: bool, red: bool) -> None:
    assert CheckinReceived(pain, kind).painful is painful
    assert kind.is_red_flag is red
    assert CheckinReceived(pain, kind).kinds == {kind}


@pytest.mark.parametrize(
    ("expires", "now", "effective"),
    [(None, 10**6, BackPain.ACHE), (100, 99, BackPain.ACHE), (100, 100, BackPain.NONE)],
)
def test_flags_expire_on_their_own(expires: int | None, now: int, effective: BackPain) -> None:
    flags = Flags(BackPain.ACHE, None if expires is None else at(expires))
    assert flags.effective(at(now)) is effective


def test_the_transition_table_is_total() -> None:
    assert len(session.TRANSITIONS) == len(session.Phase) * len(session.Signal)


@pytest.mark.parametrize(
    ("totals", "distance"),
    [
        ([1000.0, 1010.0, 1030.0], 30.0),
        ([1000.0, 10.0, 20.0], 10.0),  # the console reset its counter: no negative distance
    ],
)
def test_distance_follows_the_treadmill_odometer(totals: list[float], distance: float) -> None:
    driver = Driver(initial_state(CONFIG), [])
    driver.belt(0, 10)
    for i, total in enumerate(totals):
        driver.send(15 + i, ReadingReceived(Reading(10.0, 0.0, total, None, None)))
    assert driver.state.session.run is not None
    assert driver.state.session.run.stats.distance_m == pytest.approx(distance + 10 / 3.6 * 5)


def test_a_disconnected_treadmill_gets_no_incline_commands() -> None:
    driver = Driver(initial_state(CONFIG), [])
    driver.send(-60, TreadmillConnected(MILL))
    driver.send(-50, FlagSet(BackPain.ACHE))
    driver.send(-40, TreadmillDisconnected())
    driver.belt(0, 300)
    assert set_inclines(driver.actions) == []
    assert PromptKind.INCLINE in driver.kinds()
    assert driver.state.suggested_incline_pct == 2.5


def test_setting_a_red_flag_mid_run_says_stop_once() -> None:
    driver = Driver(initial_state(CONFIG), [])
    driver.belt(0, 100)
    driver.send(101, FlagSet(BackPain.RED))
    driver.send(102, FlagSet(BackPain.RED))
    assert driver.kinds().count(PromptKind.STOP_RUNNING) == 1
    assert driver.state.suggested_incline_pct is None
    assert driver.state.session.since is None
    assert T0 + timedelta(seconds=100) == driver.state.session.last_moving_at

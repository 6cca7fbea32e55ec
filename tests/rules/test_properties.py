"""Safety invariants of the engine over random sequences of readings, flags and check-ins."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.rules.runs import T0
from treadwell.rules.actions import PublishPrompt, RunEnded, SetIncline
from treadwell.rules.engine import evaluate, initial_state
from treadwell.rules.events import (
    CheckinReceived,
    Event,
    FlagSet,
    MachineStarted,
    MachineStopped,
    ReadingReceived,
    TimerFired,
    TreadmillConnected,
    TreadmillDisconnected,
)
from treadwell.rules.model import BackPain, PainKind, Reading, RulesConfig, Treadmill
from treadwell.rules.serialization import state_from_json, state_to_json

_inclines = st.one_of(st.none(), st.floats(-3, 15, allow_nan=False).map(lambda x: round(x, 1)))
_readings = st.builds(
    Reading,
    speed_kmh=st.one_of(st.none(), st.sampled_from([0.0, 1.0, 3.0, 8.0, 12.0])),
    incline_pct=_inclines,
    total_distance_m=st.none(),
    heart_rate_bpm=st.one_of(st.none(), st.integers(60, 200)),
    elapsed_time_s=st.none(),
    cadence_spm=st.one_of(st.none(), st.sampled_from([0.0, 120.0, 145.0, 170.0])),
    stride_length_m=st.one_of(st.none(), st.sampled_from([0.8, 1.2])),
)
_treadmills = st.builds(
    lambda low, span, step, can: Treadmill(can, low, low + span, step),
    st.sampled_from([-3.0, 0.0, 1.0, 2.2, 2.6]),
    st.sampled_from([0.0, 0.5, 1.0, 12.0]),
    st.sampled_from([0.1, 0.5, 1.0, 1.5, 3.0]),
    st.booleans(),
)
_events: st.SearchStrategy[Event] = st.one_of(
    st.builds(ReadingReceived, _readings),
    st.builds(ReadingReceived, _readings),
    st.builds(ReadingReceived, _readings),
    st.builds(MachineStopped, st.booleans()),
    st.just(MachineStarted()),
    st.builds(TreadmillConnected, _treadmills),
    st.just(TreadmillDisconnected()),
    st.builds(
        FlagSet,
        st.sampled_from(list(BackPain)),
        st.one_of(st.none(), st.integers(0, 4000).map(lambda s: T0 + timedelta(seconds=s))),
    ),
    st.builds(CheckinReceived, st.integers(0, 10), st.sampled_from(list(PainKind))),
    st.builds(
        CheckinReceived,
        st.integers(0, 10),
        st.sampled_from([PainKind.SHARP, PainKind.RADIATING]),
        st.lists(st.sampled_from([PainKind.ACHE, PainKind.SHARP, PainKind.RADIATING])).map(tuple),
    ),
    st.just(TimerFired("tick")),
)
# Run-shaped sequences: mostly moving readings a few seconds apart, so runs really start and
# incline help really acts, with the other events mixed in now and then.
_moving = st.builds(
    ReadingReceived,
    st.builds(
        Reading,
        speed_kmh=st.sampled_from([8.0, 10.0, 12.0]),
        incline_pct=st.one_of(st.sampled_from([0.0, 0.0, 1.0, 2.5, None]), _inclines),
        total_distance_m=st.none(),
        heart_rate_bpm=st.one_of(st.none(), st.integers(60, 200)),
        elapsed_time_s=st.none(),
        cadence_spm=st.one_of(st.none(), st.sampled_from([140.0, 170.0])),
    ),
)
_run_events: st.SearchStrategy[Event] = st.tuples(st.integers(0, 9), _moving, _events).map(
    lambda pick: pick[1] if pick[0] < 8 else pick[2]
)
_prefixes = st.tuples(
    st.builds(
        TreadmillConnected,
        st.builds(
            lambda low, span, step: Treadmill(True, low, low + span, step),
            st.sampled_from([0.0, 1.0, -3.0, 2.2]),
            st.sampled_from([12.0, 1.0]),
            st.sampled_from([0.5, 0.1, 1.0, 1.5]),
        ),
    ),
    st.builds(
        FlagSet,
        st.just(BackPain.ACHE),
        st.one_of(st.none(), st.integers(60, 3000).map(lambda s: T0 + timedelta(seconds=s))),
    ),
)
_configs = st.builds(
    RulesConfig,
    # Hypothesis favours the first choices: put the ones that let incline help act first.
    max_incline_pct=st.sampled_from([8.0, 3.0, 2.4, 2.0, 1.5]),
    incline_interval_s=st.sampled_from([300.0, 30.0, 0.0]),
    incline_underway_s=st.sampled_from([0.0, 60.0]),
    incline_settle_s=st.sampled_from([0.0, 30.0]),
    automation_allowed=st.booleans(),
    form_cue_distance_m=st.sampled_from([50.0, 3000.0]),
    hr_baseline_after_s=st.sampled_from([0.0, 600.0]),
)


@settings(max_examples=300, deadline=None)
@given(
    config=_configs,
    steps=st.lists(st.tuples(st.integers(0, 90), _events), min_size=1, max_size=80),
)
def test_safety_invariants_hold_for_any_event_sequence(
    config: RulesConfig, steps: list[tuple[int, Event]]
) -> None:
    _check_invariants(config, steps)


@settings(max_examples=300, deadline=None)
@given(
    config=_configs,
    prefix=_prefixes,
    steps=st.lists(st.tuples(st.integers(1, 40), _run_events), min_size=10, max_size=120),
)
def test_safety_invariants_hold_during_runs_with_an_achy_back(
    config: RulesConfig, prefix: tuple[Event, Event], steps: list[tuple[int, Event]]
) -> None:
    config = replace(config, automation_allowed=True)
    _check_invariants(config, [(0, prefix[0]), (0, prefix[1]), *steps])


def _check_invariants(config: RulesConfig, steps: list[tuple[int, Event]]) -> None:
    state = initial_state(config)
    now = T0
    last_set = None
    seen: set[str] = set()
    for gap, event in steps:
        now += timedelta(seconds=gap)
        state, actions = evaluate(state, event, now)
        for action in actions:
            # There is no speed-changing action at all: nothing the engine emits names a speed.
            assert not any("speed" in f.name for f in fields(action))
            if isinstance(action, SetIncline):
                mill = state.treadmill
                assert mill is not None
                assert mill.can_set_incline
                assert config.automation_allowed
                assert state.flags.effective(now) is BackPain.ACHE
                assert config.incline_window_min_pct <= action.incline_pct
                assert action.incline_pct <= config.incline_window_max_pct
                assert action.incline_pct <= config.max_incline_pct
                assert mill.min_incline_pct <= action.incline_pct <= mill.max_incline_pct
                assert action.run_id == state.run_id
                if last_set is not None:
                    assert now - last_set >= timedelta(seconds=config.incline_interval_s)
                last_set = now
            if isinstance(action, PublishPrompt):
                assert action.prompt.id not in seen
                seen.add(action.prompt.id)
                assert action.prompt.disclaimer
            if isinstance(action, RunEnded):
                summary = action.summary
                # One warm-up per run at most, and no run time beyond start to end.
                assert sum(i.endswith(":warmup") for i in summary.prompt_ids) <= 1
                span = (summary.ended_at - summary.started_at).total_seconds()
                assert summary.duration_s <= span + 0.05  # rounded to 0.1 s
        suggested = state.suggested_incline_pct
        if suggested is not None:
            assert state.running
            assert state.flags.effective(now) is BackPain.ACHE
            assert 2.0 <= suggested <= min(3.0, config.max_incline_pct)
    assert state_from_json(state_to_json(state), config) == state

"""Engine state survives JSON: a restart mid-run resumes the same run; bad input is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.rules.runs import MILL, Driver, at
from treadwell.rules.actions import PublishPrompt, SetIncline
from treadwell.rules.engine import initial_state
from treadwell.rules.events import CheckinReceived, FlagSet, TreadmillConnected
from treadwell.rules.form import FormState
from treadwell.rules.model import BackPain, PainKind, PromptKind, RulesConfig
from treadwell.rules.serialization import StateFormatError, state_from_json, state_to_json

CONFIG = RulesConfig()


def _mid_run() -> Driver:
    driver = Driver(initial_state(CONFIG), [])
    driver.send(-60, TreadmillConnected(MILL))
    driver.belt(0, 600, heart_rate_bpm=130)
    driver.belt(605, 800, speed_kmh=0.0)
    driver.send(900, CheckinReceived(3, PainKind.ACHE))
    driver.send(950, FlagSet(BackPain.ACHE, at(99999)))
    driver.belt(1000, 1900, heart_rate_bpm=150)
    return driver


def test_a_restart_mid_run_resumes_the_same_run() -> None:
    driver = _mid_run()
    restored = state_from_json(state_to_json(driver.state), CONFIG)
    assert restored == driver.state
    assert restored.run_id == "run-20261126T223140Z"
    assert restored.history[0].pain == 3
    resumed = Driver(restored, [])
    before = len(driver.actions)
    for copy in (resumed, driver):
        copy.belt(1905, 2000, heart_rate_bpm=150, incline_pct=0.5, follow_incline=False)
        copy.belt(2005, 2200, speed_kmh=0.0)
    assert resumed.actions == driver.actions[before:]
    assert resumed.state == driver.state
    assert any(p.id == "run-20261126T223140Z:stretch" for p in resumed.prompts())


def test_the_config_comes_from_the_caller_not_the_stored_text() -> None:
    text = state_to_json(_mid_run().state)
    other = RulesConfig(max_incline_pct=2.0)
    assert state_from_json(text, other).config is other
    assert "escalate_window_runs" not in text


def _broken(path: list[str | int], value: object) -> str:
    document = json.loads(state_to_json(_mid_run().state))
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return json.dumps(document)


def _without(path: list[str]) -> str:
    document = json.loads(state_to_json(_mid_run().state))
    node = document
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return json.dumps(document)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "version 1 or 2"),
        ('{"version": 3, "state": {}}', "version 1 or 2"),
        ('{"version": 2, "state": []}', "state: expected an object"),
        ('{"version": 1, "state": []}', "state: expected an object"),
        (_broken(["state", "surprise"], 1), "unknown fields ['surprise']"),
        (_without(["state", "flags"]), "missing fields ['flags']"),
        (_broken(["state", "flags", "back_pain"], "agony"), "state.flags.back_pain"),
        (_broken(["state", "flags", "expires_at"], 5), "expected an ISO 8601 time"),
        (_broken(["state", "flags", "expires_at"], "soon"), "not an ISO 8601 time"),
        (_broken(["state", "flags", "expires_at"], "2026-11-26T10:00:00"), "has no timezone"),
        (_broken(["state", "pending"], "x"), "state.pending: expected a list"),
        (_broken(["state", "issued", 0], 7), "state.issued[0]: expected str"),
        (_broken(["state", "physio_suggested"], 1), "expected bool"),
        (_broken(["state", "incline", "suggestions"], True), "expected int"),
        (_broken(["state", "suggested_incline_pct"], "2.5"), "expected float"),
        (
            _broken(["state", "treadmill", "min_incline_pct"], 99.0),
            "state.treadmill: treadmill incline range is inverted",
        ),
    ],
)
def test_bad_stored_state_is_refused_with_the_field_named(text: str, message: str) -> None:
    with pytest.raises(StateFormatError) as caught:
        state_from_json(text, CONFIG)
    assert message in str(caught.value)


def test_floats_stored_as_integers_load_as_floats() -> None:
    restored = state_from_json(_broken(["state", "suggested_incline_pct"], 2), CONFIG)
    assert restored.suggested_incline_pct == 2.0
    assert isinstance(restored.suggested_incline_pct, float)


V1 = Path(__file__).parent / "data" / "engine_state_v1.json"


def test_a_version_1_state_loads_with_its_red_flag_still_meaning_stop() -> None:
    # Saved by the engine before the two red-flag levels: mid-run, red flag, ache check-in.
    restored = state_from_json(V1.read_text(), CONFIG)
    assert restored.flags.back_pain is BackPain.RED
    assert restored.run_id == "run-20261126T223140Z"
    assert restored.history[0].kind is PainKind.ACHE
    assert restored.form == FormState()
    resumed = Driver(restored, [])
    resumed.belt(1905, 2500, heart_rate_bpm=150, incline_pct=0.0, follow_incline=False)
    resumed.belt(2505, 2700, speed_kmh=0.0)
    assert not any(isinstance(a, SetIncline) for a in resumed.actions)
    kinds = [a.prompt.kind for a in resumed.actions if isinstance(a, PublishPrompt)]
    assert kinds == [PromptKind.HYDRATION]  # the stop prompt went out before the restart
    again = state_from_json(state_to_json(resumed.state), CONFIG)
    assert again == resumed.state


def test_a_version_1_state_is_checked_as_strictly() -> None:
    document = json.loads(V1.read_text())
    del document["state"]["flags"]
    with pytest.raises(StateFormatError, match="missing fields"):
        state_from_json(json.dumps(document), CONFIG)


def test_a_version_1_state_between_runs_loads() -> None:
    document = json.loads(V1.read_text())
    document["state"]["session"] = {
        "phase": "idle",
        "since": None,
        "last_moving_at": None,
        "run": None,
    }
    restored = state_from_json(json.dumps(document), CONFIG)
    assert not restored.running
    assert restored.flags.back_pain is BackPain.RED


def test_a_broken_version_1_session_is_refused_with_the_field_named() -> None:
    document = json.loads(V1.read_text())
    document["state"]["session"] = "running"
    with pytest.raises(StateFormatError, match=r"state\.session: expected an object"):
        state_from_json(json.dumps(document), CONFIG)

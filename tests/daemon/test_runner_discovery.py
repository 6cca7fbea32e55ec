"""Home Assistant discovery for runners: every entity works with no YAML, templates rendered."""

from __future__ import annotations

import json
from typing import Any

import jinja2
import pytest

from treadwell.daemon.messages import CheckinCommand, FlagsSetCommand, parse_command
from treadwell.daemon.payloads import PROMPT_KINDS
from treadwell.daemon.runner_discovery import CHECKIN_ANSWERS, build_runner_discovery

BASE = "treadwell"


def components() -> dict[str, dict[str, Any]]:
    _, payload = build_runner_discovery(
        base=BASE,
        discovery_prefix="homeassistant",
        daemon_id="treadwell-gym",
        runner_slug="alice",
        runner_name="Alice",
        sw_version="0.1.0",
    )
    found: dict[str, dict[str, Any]] = payload["components"]
    return found


def render(template: str, value: str) -> bytes:
    """Render a command template as Home Assistant does (Jinja2, `value` in scope)."""
    environment = jinja2.Environment(autoescape=False)  # noqa: S701 - JSON, not HTML
    return environment.from_string(template).render(value=value).encode()


def test_each_runner_has_a_device_of_its_own() -> None:
    topic, payload = build_runner_discovery(
        base=BASE,
        discovery_prefix="ha",
        daemon_id="gym",
        runner_slug="alice",
        runner_name="Alice",
        sw_version="1",
    )
    assert topic == "ha/device/gym_runner_alice/config"
    assert payload["device"]["identifiers"] == ["gym_runner_alice"]
    assert payload["device"]["name"] == "Alice (runner)"


def test_the_runner_has_a_flag_a_checkin_prompts_totals_and_a_last_run() -> None:
    platforms = {key: c["platform"] for key, c in components().items()}
    assert {
        "back_pain": "select",
        "checkin": "select",
        "prompt": "event",
        "last_run": "sensor",
        "today_distance": "sensor",
        "all_time_runs": "sensor",
    }.items() <= platforms.items()
    assert components()["prompt"]["state_topic"] == f"{BASE}/runners/alice/prompt"
    assert components()["prompt"]["event_types"] == list(PROMPT_KINDS)
    assert components()["last_run"]["state_topic"] == f"{BASE}/runners/alice/totals"
    unique = [c["unique_id"] for c in components().values()]
    assert len(unique) == len(set(unique))


@pytest.mark.parametrize("option", ["none", "ache", "check", "red"])
def test_the_back_pain_select_sets_this_runners_flag(option: str) -> None:
    select = components()["back_pain"]
    assert select["options"] == ["none", "ache", "check", "red"]
    payload = render(select["command_template"], option)
    command = parse_command(
        select["command_topic"], payload, base=BASE, devices=["treadmill"], runners=["alice"]
    )
    assert command == FlagsSetCommand(back_pain=option, runner="alice")  # type: ignore[arg-type]


@pytest.mark.parametrize("answer", list(CHECKIN_ANSWERS))
def test_every_checkin_answer_becomes_this_runners_checkin(answer: str) -> None:
    select = components()["checkin"]
    assert answer in select["options"]
    payload = render(select["command_template"], answer)
    pain, kind = CHECKIN_ANSWERS[answer]
    assert json.loads(payload) == {"pain": pain, "kind": kind}
    command = parse_command(
        select["command_topic"], payload, base=BASE, devices=["treadmill"], runners=["alice"]
    )
    assert command == CheckinCommand(pain=pain, kind=kind, runner="alice")  # type: ignore[arg-type]


def test_a_checkin_for_another_runner_on_this_runners_topic_is_refused() -> None:
    with pytest.raises(Exception, match="differs from the runner in the topic"):
        parse_command(
            f"{BASE}/runners/alice/checkin",
            b'{"pain": 2, "kind": "ache", "runner": "bob"}',
            base=BASE,
            devices=["treadmill"],
            runners=["alice", "bob"],
        )


def test_an_unknown_runner_is_refused() -> None:
    with pytest.raises(Exception, match="unknown runner"):
        parse_command(
            f"{BASE}/runners/carol/flags/set",
            b'{"back_pain": "ache"}',
            base=BASE,
            devices=["treadmill"],
            runners=["alice", "bob"],
        )

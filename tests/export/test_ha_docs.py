"""The Home Assistant blueprint and example dashboard in docs/ match what the daemon sends."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from treadwell.daemon.discovery import build_device_discovery
from treadwell.daemon.payloads import PROMPT_KINDS
from treadwell.daemon.runner_discovery import build_runner_discovery

DOCS = Path(__file__).resolve().parents[2] / "docs"


# A safe loader that reads Home Assistant's `!input name` tags as ("!input", name).
_Loader: Any = type("_Loader", (yaml.SafeLoader,), {})
_Loader.add_constructor("!input", lambda loader, node: ("!input", loader.construct_scalar(node)))


def load(name: str) -> Any:
    return yaml.load((DOCS / name).read_text(), Loader=_Loader)  # noqa: S506 (a safe loader)


def test_the_blueprint_listens_to_the_prompt_topic_and_offers_every_prompt_kind() -> None:
    blueprint = load("blueprints/treadwell_prompts.yaml")
    inputs = blueprint["blueprint"]["input"]
    assert blueprint["blueprint"]["domain"] == "automation"
    assert blueprint["trigger_variables"]["base_topic"] == ("!input", "base_topic")
    assert blueprint["triggers"][0]["topic"] == "{{ base_topic }}/prompt"
    assert inputs["kinds"]["default"] == list(PROMPT_KINDS)
    assert inputs["kinds"]["selector"]["select"]["options"] == list(PROMPT_KINDS)
    used = set(re.findall(r"!input', '(\w+)'", repr(blueprint)))
    assert used <= set(inputs)
    text = (DOCS / "blueprints/treadwell_prompts.yaml").read_text()
    assert "prompt.disclaimer" in text  # the disclaimer always goes with the prompt


def test_the_example_dashboard_uses_the_entity_ids_discovery_suggests() -> None:
    device_topic, device = build_device_discovery(
        base="treadwell",
        discovery_prefix="homeassistant",
        daemon_id="treadwell-gym",
        device_slug="treadmill",
        device_name="Treadmill",
        sw_version="0",
        incline_min=0.0,
        incline_max=3.0,
        incline_step=0.5,
        runners=("default",),
    )
    runner_topic, runner = build_runner_discovery(
        base="treadwell",
        discovery_prefix="homeassistant",
        daemon_id="treadwell-gym",
        runner_slug="default",
        runner_name="default",
        sw_version="0",
    )
    del device_topic, runner_topic
    known = {
        c["default_entity_id"]
        for payload in (device, runner)
        for c in payload["components"].values()
    }
    dashboard = load("dashboard.yaml")
    text = json.dumps(dashboard)
    used = set(
        re.findall(r"\b(?:sensor|binary_sensor|number|select|event)\.treadwell_[a-z0-9_]+", text)
    )
    assert used
    assert used <= known, sorted(used - known)

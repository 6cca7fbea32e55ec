"""Pure. Home Assistant discovery for the household's runners: one device per runner.

Each runner gets a device with their back-pain flag (a select), a one-tap answer to "how is
your back?" (a select whose options become check-in commands, so no YAML is needed), their
own prompt event, and their totals and last run (`build_runner_totals_discovery`). The
treadmills' devices carry a "Runner" select (`daemon/discovery.py`).
"""

from __future__ import annotations

from typing import Any, Final

from treadwell.daemon import topics
from treadwell.daemon.discovery import (
    BACK_PAIN_OPTIONS,
    ORIGIN_NAME,
    discovery_object_id,
    entity_slug,
)
from treadwell.daemon.payloads import PROMPT_KINDS
from treadwell.daemon.totals_discovery import build_runner_totals_discovery

CHECKIN_ANSWERS: Final = {
    "No pain": (0, "none"),
    "Mild ache (1-3)": (2, "ache"),
    "Moderate ache (4-6)": (5, "ache"),
    "Strong ache (7-10)": (8, "ache"),
    "Sharp pain": (7, "sharp"),
    "Pain down the leg": (7, "radiating"),
    "Pain at night": (5, "night"),
}
"""The check-in select's options and the (pain, kind) each one sends."""


def _checkin_template() -> str:
    pairs = ", ".join(
        f'\'{label}\': \'{{"pain": {pain}, "kind": "{kind}"}}\''
        for label, (pain, kind) in CHECKIN_ANSWERS.items()
    )
    return "{% set answers = {" + pairs + "} %}{{ answers[value] }}"


def build_runner_discovery(
    *,
    base: str,
    discovery_prefix: str,
    daemon_id: str,
    runner_slug: str,
    runner_name: str,
    sw_version: str,
) -> tuple[str, dict[str, Any]]:
    """The retained device-discovery message for one runner: topic and payload."""
    object_id = discovery_object_id(daemon_id, f"runner_{runner_slug}")
    availability = [{"topic": topics.status(base)}]

    def root(leaf: str) -> str:
        return topics.runner(base, runner_slug, leaf)

    def entity(platform: str, key: str, name: str) -> dict[str, Any]:
        unique_id = f"{object_id}_{key}"
        return {
            "platform": platform,
            "name": name,
            "unique_id": unique_id,
            "default_entity_id": f"{platform}.{entity_slug(unique_id)}",
            "availability": availability,
        }

    payload: dict[str, Any] = {
        "device": {
            "identifiers": [object_id],
            "name": f"{runner_name} (runner)",
            "manufacturer": "Treadwell",
            "model": "Runner",
            "sw_version": sw_version,
        },
        "origin": {"name": ORIGIN_NAME, "sw_version": sw_version},
        "components": {
            "back_pain": entity("select", "back_pain", "Back-pain flag")
            | {
                "options": list(BACK_PAIN_OPTIONS),
                "command_topic": root("flags/set"),
                "command_template": '{"back_pain": "{{ value }}"}',
                "state_topic": root("flags"),
                "value_template": "{{ value_json.back_pain }}",
                "icon": "mdi:human-handsdown",
                "qos": 1,
            },
            "checkin": entity("select", "checkin", "How is your back?")
            | {
                "options": list(CHECKIN_ANSWERS),
                "command_topic": root("checkin"),
                "command_template": _checkin_template(),
                "icon": "mdi:clipboard-pulse",
                "qos": 1,
            },
            "prompt": entity("event", "prompt", "Coach prompt")
            | {
                "state_topic": root("prompt"),
                "event_types": list(PROMPT_KINDS),
                "icon": "mdi:message-alert",
                "qos": 2,
            },
        },
    }
    # Their totals (today, this week, all time) and last run, on the same device.
    _, totals = build_runner_totals_discovery(
        base=base,
        discovery_prefix=discovery_prefix,
        daemon_id=daemon_id,
        runner_slug=runner_slug,
        runner_name=runner_name,
        sw_version=sw_version,
    )
    payload["components"] |= totals["components"]
    return f"{discovery_prefix}/device/{object_id}/config", payload

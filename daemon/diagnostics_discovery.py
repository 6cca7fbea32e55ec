"""Pure. Home Assistant discovery of a treadmill's diagnostics: what `treadwell doctor` found.

A diagnostic sensor on the treadmill's device (see `treadwell.daemon.discovery`): its state
is the one-line summary of the latest probe, the full report is in its attributes.
"""

from __future__ import annotations

from typing import Any

import treadwell.daemon.topics as topic_names
from treadwell.daemon.discovery import ORIGIN_NAME, _entity, _Topics, discovery_object_id


def diagnostics_topic(base: str, device_slug: str) -> str:
    """The retained topic of a treadmill's diagnostics: `{base}/<device>/diagnostics`."""
    return topic_names.device_diagnostics(base, device_slug)


def build_diagnostics_component(
    *, base: str, daemon_id: str, device_slug: str
) -> tuple[str, dict[str, Any]]:
    """The diagnostic sensor to add to a treadmill's discovery `components`.

    Its state is the one-line summary of the latest probe; the full report (what works, what
    does not, the advice) is in its attributes. Like the link sensor it needs only the daemon
    to be available, so it still explains a treadmill that cannot connect.

    Returns:
        The component key (``"diagnostics"``) and its configuration.
    """
    object_id = discovery_object_id(daemon_id, device_slug)
    topics = _Topics(base, device_slug)
    topic = diagnostics_topic(base, device_slug)
    return "diagnostics", _entity(
        object_id, "sensor", "diagnostics", "Treadmill check", topics.daemon
    ) | {
        "state_topic": topic,
        "value_template": "{{ value_json.summary }}",
        "json_attributes_topic": topic,
        "entity_category": "diagnostic",
        "icon": "mdi:stethoscope",
    }


def build_diagnostics_payload(
    report: dict[str, Any], advice: list[tuple[str, str]]
) -> dict[str, Any]:
    """The retained diagnostics message for one treadmill.

    Args:
        report: The probe report as a dictionary (`ProbeReport.to_dict()`).
        advice: The (mark, text) lines `treadwell doctor` prints for it.

    Returns:
        A JSON-able payload: `summary` (at most 255 characters, Home Assistant's state limit),
        `works` and `does_not_work` (texts), `notes`, `checked_at` and the report itself.
    """
    works = [text for mark, text in advice if mark == "ok"]
    broken = [text for mark, text in advice if mark == "no"]
    incline = "incline control" if report.get("can_set_incline") else "no incline control"
    summary = f"{len(works)} ok, {len(broken)} not working; {incline}"
    return {
        "summary": summary[:255],
        "checked_at": report.get("checked_at"),
        "works": works,
        "does_not_work": broken,
        "notes": [text for mark, text in advice if mark == "note"],
        "report": report,
    }


def build_diagnostics_discovery(
    *,
    base: str,
    discovery_prefix: str,
    daemon_id: str,
    device_slug: str,
    device_name: str,
    sw_version: str,
) -> tuple[str, dict[str, Any]]:
    """A discovery message of its own for the diagnostics sensor, on the treadmill's device.

    It names the same device identifier as `build_device_discovery`, so Home Assistant shows
    the sensor on the treadmill's device, while the message can be published by
    `treadwell doctor` without the daemon.

    Returns:
        The discovery topic and the payload (serialize it as JSON).
    """
    object_id = discovery_object_id(daemon_id, device_slug)
    key, component = build_diagnostics_component(
        base=base, daemon_id=daemon_id, device_slug=device_slug
    )
    payload = {
        "device": {"identifiers": [object_id], "name": device_name},
        "origin": {"name": ORIGIN_NAME, "sw_version": sw_version},
        "components": {key: component},
    }
    return topic_names.discovery_config(discovery_prefix, f"{object_id}_check"), payload

"""Pure. Home Assistant MQTT discovery: one device-based message per treadmill.

The message goes to `<discovery_prefix>/device/<daemon_id>_<device_slug>/config`, retained.
It uses Home Assistant's full key names (`device`, `origin`, `components`, `platform`, ...)
rather than the abbreviations (`dev`, `o`, `cmps`, `p`): the documentation's prose and its
examples disagree on the abbreviation of `components` (`cmp` or `cmps`), and the full names
are always accepted. The payload is a few kilobytes, sent once per connect.

Availability: treadmill entities need both the daemon (`{base}/status`) and the treadmill
link (`{base}/<device>/availability`) to be online (`availability_mode: all`); the
connection sensor and the runner select only need the daemon. The runners' flags, check-ins
and prompts are on their own devices (`daemon/runner_discovery.py`). Command
entities use QoS 1 so the broker queues commands for the daemon while it is away.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

import treadwell.daemon.topics as topic_names

ORIGIN_NAME: Final = "treadwell"
BACK_PAIN_OPTIONS: Final = ("none", "ache", "check", "red")
_UNSAFE_ID = re.compile(r"[^a-zA-Z0-9_-]+")
_UNSAFE_ENTITY_ID = re.compile(r"[^a-z0-9]+")


def discovery_object_id(daemon_id: str, device_slug: str) -> str:
    """The `<object_id>` of a treadmill's discovery topic: only `[a-zA-Z0-9_-]`.

    A daemon id made only of those characters is used as it is. Any other id is cleaned and
    gets a short digest of the original, so ids that clean to the same text ("gym.a" and
    "gym_a") still give distinct topics, device identifiers and unique ids.
    """
    safe = _UNSAFE_ID.sub("_", daemon_id)
    if safe != daemon_id:
        digest = hashlib.sha256(daemon_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        safe = f"{safe}_{digest}"
    return _UNSAFE_ID.sub("_", f"{safe}_{device_slug}").strip("_")


def entity_slug(unique_id: str) -> str:
    """The object part of a default entity id: lower-case letters, digits and `_` only."""
    return _UNSAFE_ENTITY_ID.sub("_", unique_id.lower()).strip("_")


def build_device_discovery(
    *,
    base: str,
    discovery_prefix: str,
    daemon_id: str,
    device_slug: str,
    device_name: str,
    sw_version: str,
    incline_min: float,
    incline_max: float,
    incline_step: float,
    runners: tuple[str, ...] = (),
) -> tuple[str, dict[str, Any]]:
    """Build the retained device-discovery message for one treadmill.

    The runners' own entities (flag, check-in, prompts) are on their devices
    (`daemon/runner_discovery.py`); a treadmill has a "Runner" select with `runners`.

    Args:
        base: The daemon's base topic.
        discovery_prefix: Home Assistant's discovery prefix, usually `homeassistant`.
        daemon_id: Stable id of this daemon (its MQTT client id, say).
        device_slug: The treadmill's slug, as in `{base}/<device>/state`.
        device_name: The treadmill's human name.
        sw_version: Treadwell's version.
        incline_min: Lowest target incline a dashboard may ask for, in percent.
        incline_max: Highest target incline a dashboard may ask for, in percent.
        incline_step: Step of the target-incline number, in percent.
        runners: The household's runner slugs (options of the "Runner" select).

    Returns:
        The discovery topic and the payload (serialize it as JSON).

        When the range is empty (`incline_max` not above `incline_min`, e.g. a runner's
        ceiling of 0 %: never incline), there is no target-incline number at all.

    Raises:
        ValueError: If the incline step is not positive.
    """
    if incline_step <= 0:
        msg = f"bad incline range {incline_min}..{incline_max} step {incline_step}"
        raise ValueError(msg)
    object_id = discovery_object_id(daemon_id, device_slug)
    topics = _Topics(base, device_slug)
    payload: dict[str, Any] = {
        "device": {
            "identifiers": [object_id],
            "name": device_name,
            "manufacturer": "Treadwell",
            "model": "BLE treadmill bridge",
            "sw_version": sw_version,
        },
        "origin": {"name": ORIGIN_NAME, "sw_version": sw_version},
        "components": {
            **_sensors(object_id, topics),
            **_binary_sensors(object_id, topics),
            "runner": _entity(object_id, "select", "runner", "Runner", topics.daemon)
            | {
                "options": ["auto", *runners],
                "command_topic": topic_names.runner_set(base, device_slug),
                "state_topic": topics.state,
                "value_template": "{{ value_json.runner | default('auto') }}",
                "icon": "mdi:account-switch",
                "qos": 1,
            },
            "target_incline": _entity(
                object_id, "number", "target_incline", "Target incline", topics.device
            )
            | {
                "command_topic": topic_names.incline_set(base, device_slug),
                "state_topic": topics.state,
                "value_template": "{{ value_json.incline_pct }}",
                "min": incline_min,
                "max": incline_max,
                "step": incline_step,
                "mode": "box",
                "unit_of_measurement": "%",
                "icon": "mdi:slope-uphill",
                "qos": 1,
            },
        },
    }
    if not incline_min < incline_max:
        # Nothing may be set: offer no control rather than one that every value breaks.
        del payload["components"]["target_incline"]
    return topic_names.discovery_config(discovery_prefix, object_id), payload


class _Topics:
    def __init__(self, base: str, device_slug: str) -> None:
        self.state = topic_names.device_state(base, device_slug)
        status = {"topic": topic_names.status(base)}
        self.daemon = [status]
        self.device = [status, {"topic": topic_names.device_availability(base, device_slug)}]


def _entity(
    object_id: str,
    platform: str,
    key: str,
    name: str,
    availability: list[dict[str, str]],
) -> dict[str, Any]:
    unique_id = f"{object_id}_{key}"
    return {
        "platform": platform,
        "name": name,
        "unique_id": unique_id,
        "default_entity_id": f"{platform}.{entity_slug(unique_id)}",
        "availability": availability,
        "availability_mode": "all",
    }


@dataclass(frozen=True, slots=True)
class _Sensor:
    key: str
    name: str
    field: str  # in the state JSON
    unit: str
    state_class: str
    precision: int
    device_class: str | None = None
    icon: str | None = None


_SENSORS: Final = (
    _Sensor("speed", "Speed", "speed_kmh", "km/h", "measurement", 1, device_class="speed"),
    _Sensor("incline", "Incline", "incline_pct", "%", "measurement", 1, icon="mdi:slope-uphill"),
    _Sensor(
        "heart_rate",
        "Heart rate",
        "heart_rate_bpm",
        "bpm",
        "measurement",
        0,
        icon="mdi:heart-pulse",
    ),
    _Sensor(
        "distance",
        "Distance",
        "total_distance_m",
        "m",
        "total_increasing",
        0,
        device_class="distance",
    ),
    _Sensor(
        "elapsed_time",
        "Elapsed time",
        "elapsed_time_s",
        "s",
        "total_increasing",
        0,
        device_class="duration",
    ),
    _Sensor("cadence", "Cadence", "cadence_spm", "spm", "measurement", 0, icon="mdi:shoe-print"),
    _Sensor(
        "stride_length",
        "Stride length",
        "stride_length_m",
        "m",
        "measurement",
        2,
        device_class="distance",
    ),
    _Sensor(
        "suggested_incline",
        "Suggested incline",
        "suggested_incline_pct",
        "%",
        "measurement",
        1,
        icon="mdi:arrow-up-right",
    ),
)


def _sensors(object_id: str, topics: _Topics) -> dict[str, dict[str, Any]]:
    sensors: dict[str, dict[str, Any]] = {}
    for spec in _SENSORS:
        sensor = _entity(object_id, "sensor", spec.key, spec.name, topics.device) | {
            "state_topic": topics.state,
            # `default(none)` renders "None" for a missing field, which HA shows as unknown.
            "value_template": f"{{{{ value_json.{spec.field} | default(none) }}}}",
            "unit_of_measurement": spec.unit,
            "state_class": spec.state_class,
            "suggested_display_precision": spec.precision,
        }
        if spec.device_class is not None:
            sensor["device_class"] = spec.device_class
        if spec.icon is not None:
            sensor["icon"] = spec.icon
        sensors[spec.key] = sensor
    return sensors


def _binary_sensors(object_id: str, topics: _Topics) -> dict[str, dict[str, Any]]:
    running = _entity(object_id, "binary_sensor", "running", "Running", topics.device) | {
        "state_topic": topics.state,
        "value_template": "{{ 'ON' if value_json.running else 'OFF' }}",
        "device_class": "running",
    }
    # The link sensor must stay available while the link is down, or it could never say so.
    connected = _entity(object_id, "binary_sensor", "connected", "Treadmill link", topics.daemon)
    connected |= {
        "state_topic": topics.state,
        "value_template": "{{ 'ON' if value_json.connected else 'OFF' }}",
        "device_class": "connectivity",
        "entity_category": "diagnostic",
    }
    return {"running": running, "connected": connected}


# -- treadmill diagnostics (what `treadwell doctor` found) ------------------------------------


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


# -- per-runner totals (daemon/totals.py) ----------------------------------------------------

_TOTAL_METRICS: Final = (
    # key, name, field in a period's JSON, unit, device class, icon
    ("distance", "distance", "distance_km", "km", "distance", None),
    ("time", "time", "time_min", "min", "duration", None),
    ("runs", "runs", "runs", None, None, "mdi:run"),
    ("window", "minutes at 2-3 %", "window_min", "min", "duration", "mdi:slope-uphill"),
)
_TOTAL_PERIODS: Final = (("today", "Today"), ("week", "This week"), ("all_time", "All time"))


def totals_topic(base: str, runner_slug: str) -> str:
    """The retained topic of a runner's totals."""
    return topic_names.runner_totals(base, runner_slug)


def build_runner_totals_discovery(
    *,
    base: str,
    discovery_prefix: str,
    daemon_id: str,
    runner_slug: str,
    runner_name: str,
    sw_version: str,
) -> tuple[str, dict[str, Any]]:
    """Build the retained device-discovery message of one runner's totals.

    One device per runner with a sensor per period and figure (distance, time, runs, minutes
    in the 2-3 % window; today, this week, all time), all `total_increasing`: they only grow
    within a period and start again from zero with the next, which Home Assistant's long-term
    statistics read as a new meter cycle. The last run's distance is a `measurement`, with
    the whole last run (and its exported files) as attributes.

    Returns:
        The discovery topic and the payload (serialize it as JSON).
    """
    object_id = discovery_object_id(daemon_id, f"runner_{runner_slug}")
    state_topic = totals_topic(base, runner_slug)
    availability = [{"topic": topic_names.status(base)}]
    components: dict[str, dict[str, Any]] = {}
    for period, period_name in _TOTAL_PERIODS:
        for key, name, value, unit, device_class, icon in _TOTAL_METRICS:
            sensor = _entity(
                object_id, "sensor", f"{period}_{key}", f"{period_name} {name}", availability
            ) | {
                "state_topic": state_topic,
                "value_template": f"{{{{ value_json.{period}.{value} }}}}",
                "state_class": "total_increasing",
            }
            if unit is not None:
                sensor["unit_of_measurement"] = unit
            if device_class is not None:
                sensor["device_class"] = device_class
            if icon is not None:
                sensor["icon"] = icon
            components[f"{period}_{key}"] = sensor
    components["last_run"] = _entity(object_id, "sensor", "last_run", "Last run", availability) | {
        "state_topic": state_topic,
        "value_template": "{{ value_json.last_run.distance_km if value_json.last_run else none }}",
        "unit_of_measurement": "km",
        "device_class": "distance",
        "state_class": "measurement",
        "json_attributes_topic": state_topic,
        "json_attributes_template": "{{ (value_json.last_run or {}) | tojson }}",
        "icon": "mdi:run-fast",
    }
    payload: dict[str, Any] = {
        "device": {
            "identifiers": [object_id],
            "name": f"Treadwell {runner_name}",
            "manufacturer": "Treadwell",
            "model": "Runner totals",
            "sw_version": sw_version,
        },
        "origin": {"name": ORIGIN_NAME, "sw_version": sw_version},
        "components": components,
    }
    return topic_names.discovery_config(discovery_prefix, object_id), payload

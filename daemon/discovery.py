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
entities use QoS 1 so the broker queues commands for the daemon while it is away. A
treadmill's diagnostics sensor is in `daemon/diagnostics_discovery.py`, the runners' totals
in `daemon/totals_discovery.py`.
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

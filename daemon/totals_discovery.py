"""Pure. Home Assistant discovery of each runner's totals (`daemon/totals.py` computes them).

One device per runner, next to the devices of `treadwell.daemon.runner_discovery`.
"""

from __future__ import annotations

from typing import Any, Final

import treadwell.daemon.topics as topic_names
from treadwell.daemon.discovery import ORIGIN_NAME, _entity, discovery_object_id

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

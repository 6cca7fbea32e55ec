"""Pure. Every MQTT topic name Treadwell reads or writes, built in one place.

`base` is the daemon's base topic (`mqtt.base_topic`), `prefix` Home Assistant's discovery
prefix, `device` a treadmill's slug. docs/mqtt.md lists what travels on each topic.
"""

from __future__ import annotations

INCLINE_SET_SUFFIX = "/incline/set"


def status(base: str) -> str:
    """The daemon's retained `online` / `offline` (and its last will)."""
    return f"{base}/status"


def prompt(base: str) -> str:
    """Health prompts (QoS 2, not retained)."""
    return f"{base}/prompt"


def error(base: str) -> str:
    """Reports of rejected commands."""
    return f"{base}/error"


def flags(base: str) -> str:
    """The retained back-pain flag."""
    return f"{base}/flags"


def run(base: str) -> str:
    """The retained summary of the last finished run."""
    return f"{base}/run"


def flags_set(base: str) -> str:
    """Command: set the back-pain flag."""
    return f"{base}/flags/set"


def checkin(base: str) -> str:
    """Command: answer "how is your back?"."""
    return f"{base}/checkin"


def device_state(base: str, device: str) -> str:
    """A treadmill's retained, latest-wins telemetry."""
    return f"{base}/{device}/state"


def device_availability(base: str, device: str) -> str:
    """Whether a treadmill's Bluetooth link is up (retained)."""
    return f"{base}/{device}/availability"


def incline_set(base: str, device: str) -> str:
    """Command: set a treadmill's incline."""
    return f"{base}/{device}{INCLINE_SET_SUFFIX}"


def runner_set(base: str, device: str) -> str:
    """Command: choose who runs on a treadmill."""
    return f"{base}/{device}/runner/set"


def device_diagnostics(base: str, device: str) -> str:
    """A treadmill's retained diagnostics (`treadwell doctor --publish`)."""
    return f"{base}/{device}/diagnostics"


def runner(base: str, runner_slug: str, leaf: str) -> str:
    """A runner's own topic, `{base}/runners/<runner>/<leaf>`."""
    return f"{base}/runners/{runner_slug}/{leaf}"


def runner_totals(base: str, runner_slug: str) -> str:
    """A runner's retained totals."""
    return runner(base, runner_slug, "totals")


def incline_set_device(topic: str, base: str) -> str | None:
    """The device of an `incline/set` topic under `base`; None for any other topic."""
    prefix = f"{base}/"
    if not (topic.startswith(prefix) and topic.endswith(INCLINE_SET_SUFFIX)):
        return None
    device = topic[len(prefix) : -len(INCLINE_SET_SUFFIX)]
    if not device or "/" in device:
        return None
    return device


def command_filters(base: str) -> tuple[str, ...]:
    """The topic filters the daemon subscribes to for commands."""
    return (
        flags_set(base),
        checkin(base),
        incline_set(base, "+"),
        runner_set(base, "+"),
        runner(base, "+", "flags/set"),
        runner(base, "+", "checkin"),
    )


def ha_status(prefix: str) -> str:
    """Home Assistant's birth / last-will topic."""
    return f"{prefix}/status"


def discovery_config(prefix: str, object_id: str) -> str:
    """Where a device's retained discovery message goes."""
    return f"{prefix}/device/{object_id}/config"

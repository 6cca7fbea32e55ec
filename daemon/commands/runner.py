"""I/O. `treadwell runner TREADMILL RUNNER|auto`: choose who runs on a treadmill, over MQTT.

Publishes `{base}/<device>/runner/set` (QoS 1) and waits until the daemon's state for that
treadmill names the runner. The choice applies to the next run; a run in progress stays its
runner's.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import aiomqtt

from treadwell.daemon import topics
from treadwell.daemon.commands.config import (
    add_config_option,
    err,
    out,
    settings_or_exit_status,
)
from treadwell.daemon.commands.flags import add_timeout_option, mqtt_client
from treadwell.daemon.config import slugify

if TYPE_CHECKING:
    import argparse

    from treadwell.daemon.config import MqttSettings, Settings

AUTOMATIC = "auto"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the treadmill and runner arguments, `--timeout` and `--config`."""
    parser.description = (
        "Choose who runs on a treadmill (for the next run): a runner's name, or 'auto' for "
        "the runner whose strap is connected, else the default runner."
    )
    parser.add_argument("treadmill", help="the treadmill's name (as in [[treadmills]])")
    parser.add_argument("runner", help="the runner's name (as in [[runners]]) or 'auto'")
    add_timeout_option(parser)
    add_config_option(parser)


def _expected(settings: Settings, runner: str) -> str:
    """Whom the state should name once the choice is taken."""
    if runner != AUTOMATIC:
        return runner
    return settings.default_runner


async def _select(
    mqtt: MqttSettings, device: str, runner: str, expected: str, timeout_s: float
) -> bool:
    state_topic = topics.device_state(mqtt.base_topic, device)
    async with mqtt_client(mqtt, timeout_s=timeout_s) as client:
        await client.subscribe(state_topic, qos=1)
        await client.publish(topics.runner_set(mqtt.base_topic, device), runner, qos=1)
        try:
            async with asyncio.timeout(timeout_s):
                async for message in client.messages:
                    # The retained state counts too: it may name that runner already (the
                    # daemon publishes state only when it changes).
                    try:
                        state = json.loads(bytes(message.payload))
                    except (TypeError, ValueError):
                        continue
                    if isinstance(state, dict) and state.get("runner") == expected:
                        return True
        except TimeoutError:
            return False
    return False


def run(args: argparse.Namespace) -> int:
    """Send the choice and wait for the daemon's state to show it."""
    loaded = settings_or_exit_status(args)
    if isinstance(loaded, int):
        return loaded
    device = slugify(args.treadmill)
    devices = [t.slug for t in loaded.treadmills]
    if device not in devices:
        err(f"treadwell runner: no treadmill {args.treadmill!r}; known: {', '.join(devices)}")
        return 2
    runner = AUTOMATIC if args.runner == AUTOMATIC else slugify(args.runner)
    known = [r.slug for r in loaded.runners]
    if runner != AUTOMATIC and runner not in known:
        names = ", ".join(known) or "none configured"
        err(f"treadwell runner: no runner {args.runner!r}; known: {names}")
        return 2
    mqtt = loaded.mqtt
    try:
        taken = asyncio.run(_select(mqtt, device, runner, _expected(loaded, runner), args.timeout))
    except aiomqtt.MqttError as exc:
        err(f"treadwell runner: cannot reach the MQTT broker at {mqtt.host}:{mqtt.port}: {exc}")
        return 1
    if not taken:
        err(
            f"treadwell runner: sent, but the daemon did not confirm within {args.timeout:g} s "
            "(is it running? a bound strap that is connected wins over 'auto')"
        )
        return 1
    out(f"{device}: next run is {_expected(loaded, runner)}'s")
    return 0

"""I/O. `treadwell checkin`: report how the back feels, to the running daemon over MQTT.

A check-in is only sent to a daemon that is there to take it: the command first reads the
daemon's `{base}/status` (retained, `online` while it is connected; the broker sets it to
`offline` when the daemon goes away) and refuses, with exit status 1, when the daemon is
not online, rather than leave the check-in with a broker nobody reads it from. Then it
publishes at QoS 1 and returns once the broker has it for the connected daemon.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, get_args

import aiomqtt

from treadwell.daemon.commands.config import (
    add_config_option,
    err,
    out,
    settings_or_exit_status,
)
from treadwell.daemon.commands.flags import add_timeout_option, mqtt_client
from treadwell.daemon.messages import CheckinCommand

if TYPE_CHECKING:
    from treadwell.daemon.config import MqttSettings

KINDS: tuple[str, ...] = get_args(CheckinCommand.model_fields["kind"].annotation)


def _pain(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError(f"must be 0 (none) to 10 (worst), got {value}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `--pain`, `--kind`, `--timeout` and `--config`."""
    parser.description = (
        "Send a back check-in to the running daemon: pain from 0 (none) to 10 (worst) and "
        "what it is like. Sharp, radiating or night pain counts as a red flag."
    )
    parser.add_argument("--pain", type=_pain, required=True, metavar="0-10", help="pain level")
    parser.add_argument("--kind", choices=KINDS, required=True, help="what the pain is like")
    add_timeout_option(parser)
    add_config_option(parser)


class DaemonNotOnlineError(Exception):
    """The daemon's status on the broker is not `online`: nobody would take the check-in."""


async def _daemon_status(client: aiomqtt.Client, topic: str, timeout_s: float) -> str | None:
    """The daemon's status (the retained one first), or None if none came in time."""
    await client.subscribe(topic, qos=1)
    try:
        async with asyncio.timeout(timeout_s):
            async for message in client.messages:
                if isinstance(message.payload, bytes | bytearray):
                    return bytes(message.payload).decode("utf-8", "replace")
    except TimeoutError:
        return None
    return None


async def _send(mqtt: MqttSettings, command: CheckinCommand, timeout_s: float) -> None:
    async with mqtt_client(mqtt, timeout_s=timeout_s) as client:
        status = await _daemon_status(client, f"{mqtt.base_topic}/status", timeout_s)
        if status != "online":
            seen = "no status" if status is None else f"status {status!r}"
            raise DaemonNotOnlineError(
                f"the daemon is not online ({seen} on {mqtt.base_topic}/status within "
                f"{timeout_s:g} s): check-in not sent; start the daemon and try again"
            )
        # QoS 1: returns once the broker has the message for the daemon's session.
        await client.publish(f"{mqtt.base_topic}/checkin", command.model_dump_json(), qos=1)


def run(args: argparse.Namespace) -> int:
    """Publish the check-in to the online daemon; exit 1 if there is none."""
    loaded = settings_or_exit_status(args)
    if isinstance(loaded, int):
        return loaded
    mqtt = loaded.mqtt
    command = CheckinCommand(pain=args.pain, kind=args.kind)
    try:
        asyncio.run(_send(mqtt, command, args.timeout))
    except aiomqtt.MqttError as exc:
        err(f"treadwell checkin: cannot reach the MQTT broker at {mqtt.host}:{mqtt.port}: {exc}")
        return 1
    except DaemonNotOnlineError as exc:
        err(f"treadwell checkin: {exc}")
        return 1
    out(f"check-in sent: pain {command.pain}, {command.kind}")
    return 0

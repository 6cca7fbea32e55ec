"""I/O. `treadwell checkin`: report how the back feels, to the running daemon over MQTT.

A check-in is only sent to a daemon that is there to take it: the command first reads the
daemon's `{base}/status` (retained, `online` while it is connected; the broker sets it to
`offline` when the daemon goes away) and refuses, with exit status 1, when the daemon is
not online, rather than leave the check-in with a broker nobody reads it from. Then it
publishes at QoS 1 and waits for the daemon's confirmation on
`{base}/runners/<runner>/checkin/last` (a live message, not the retained one of an earlier
check-in), as `flags set` waits for the new flag: no confirmation in time is exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING, get_args

import aiomqtt

from treadwell.daemon.commands.config import (
    add_config_option,
    err,
    out,
    settings_or_exit_status,
)
from treadwell.daemon.commands.flags import add_timeout_option, mqtt_client
from treadwell.daemon.config import slugify
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
    parser.add_argument(
        "--kind",
        choices=KINDS,
        required=True,
        action="append",
        help="what the pain is like (repeat for several: --kind sharp --kind radiating)",
    )
    parser.add_argument(
        "--runner", help="whose back (a runner's name or slug; default: the default runner)"
    )
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


class NotConfirmedError(Exception):
    """The daemon did not confirm the check-in in time."""


async def _send(mqtt: MqttSettings, command: CheckinCommand, runner: str, timeout_s: float) -> None:
    async with mqtt_client(mqtt, timeout_s=timeout_s) as client:
        status = await _daemon_status(client, f"{mqtt.base_topic}/status", timeout_s)
        if status != "online":
            seen = "no status" if status is None else f"status {status!r}"
            raise DaemonNotOnlineError(
                f"the daemon is not online ({seen} on {mqtt.base_topic}/status within "
                f"{timeout_s:g} s): check-in not sent; start the daemon and try again"
            )
        confirmation = f"{mqtt.base_topic}/runners/{runner}/checkin/last"
        await client.subscribe(confirmation, qos=1)
        payload = command.model_dump_json(exclude_none=True)
        await client.publish(f"{mqtt.base_topic}/runners/{runner}/checkin", payload, qos=1)
        try:
            async with asyncio.timeout(timeout_s):
                async for message in client.messages:
                    if message.topic.matches(confirmation) and _confirms(message, command):
                        return
        except TimeoutError:
            pass
        raise NotConfirmedError(
            f"the daemon did not confirm the check-in within {timeout_s:g} s; "
            "see its log (journalctl -u treadwell) and the error topic"
        )


def _confirms(message: aiomqtt.Message, command: CheckinCommand) -> bool:
    """A live confirmation (not an earlier retained one) of this very check-in."""
    if message.retain or not isinstance(message.payload, bytes | bytearray):
        return False
    try:
        data = json.loads(message.payload)
    except ValueError:
        return False
    return (
        isinstance(data, dict)
        and data.get("pain") == command.pain
        and data.get("kinds") == list(command.kinds)
    )


def run(args: argparse.Namespace) -> int:
    """Publish the check-in to the online daemon; exit 1 if there is none."""
    loaded = settings_or_exit_status(args)
    if isinstance(loaded, int):
        return loaded
    mqtt = loaded.mqtt
    runner = slugify(args.runner) if args.runner else loaded.default_runner
    known = {r.slug for r in loaded.runners} or {loaded.default_runner}
    if runner not in known:
        err(f"treadwell checkin: no runner {args.runner!r}; known: {', '.join(sorted(known))}")
        return 2
    command = CheckinCommand.model_validate({"pain": args.pain, "kinds": args.kind})
    try:
        asyncio.run(_send(mqtt, command, runner, args.timeout))
    except aiomqtt.MqttError as exc:
        err(f"treadwell checkin: cannot reach the MQTT broker at {mqtt.host}:{mqtt.port}: {exc}")
        return 1
    except (DaemonNotOnlineError, NotConfirmedError) as exc:
        err(f"treadwell checkin: {exc}")
        return 1
    out(f"check-in taken for {runner}: pain {command.pain}, {', '.join(command.kinds)}")
    return 0

"""I/O. `treadwell flags show|set`: the back-pain flag, through the running daemon over MQTT.

`set` publishes the command (QoS 1) to the runner's `{base}/runners/<runner>/flags/set` and
waits for the daemon to publish the new state on `{base}/runners/<runner>/flags`; `show` reads
that retained topic. `--runner` names the runner (default: the default runner).
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any, get_args

import aiomqtt
from pydantic import ValidationError

from treadwell.daemon import topics
from treadwell.daemon.commands.config import (
    add_config_option,
    err,
    out,
    settings_or_exit_status,
)
from treadwell.daemon.config import BackPain, slugify
from treadwell.daemon.messages import FlagsSetCommand

if TYPE_CHECKING:
    import argparse

    from treadwell.daemon.config import MqttSettings

DEFAULT_TIMEOUT_S = 5.0


def mqtt_client(mqtt: MqttSettings, *, timeout_s: float) -> aiomqtt.Client:
    """A short-lived client for a command-line tool, with the daemon's broker settings.

    The client id is the daemon's plus `-cli-<pid>` so the tool never takes over the
    daemon's session.
    """
    tls_params = None
    if mqtt.tls:
        tls_params = aiomqtt.TLSParameters(
            ca_certs=None if mqtt.ca_file is None else str(mqtt.ca_file),
            certfile=None if mqtt.certfile is None else str(mqtt.certfile),
            keyfile=None if mqtt.keyfile is None else str(mqtt.keyfile),
        )
    return aiomqtt.Client(
        mqtt.host,
        mqtt.port,
        username=mqtt.username,
        password=None if mqtt.password is None else mqtt.password.get_secret_value(),
        identifier=f"{mqtt.client_id}-cli-{os.getpid()}",
        clean_session=True,
        keepalive=mqtt.keepalive,
        tls_params=tls_params,
        tls_insecure=mqtt.tls_insecure if mqtt.tls else None,
        timeout=timeout_s,
    )


def add_timeout_option(parser: argparse.ArgumentParser) -> None:
    """Add `--timeout SECONDS`."""
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long to wait for the broker and the daemon (default {DEFAULT_TIMEOUT_S:g})",
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `show` and `set` actions."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show",
        help="show the current back-pain flag",
        description="Print the back-pain flag the running daemon publishes (retained).",
    )
    show.add_argument("--json", action="store_true", help="print the flag state as JSON")
    set_ = actions.add_parser(
        "set",
        help="set or clear the back-pain flag",
        description="Ask the running daemon to set the back-pain flag and wait until it "
        "confirms: 'ache' for stiffness or an ache, 'red' for sharp pain, pain down the "
        "leg or night pain, 'none' to clear it.",
    )
    set_.add_argument("back_pain", choices=get_args(BackPain), help="the flag")
    set_.add_argument("--days", type=int, help="how many days the flag lasts (1-365)")
    for sub in (show, set_):
        sub.add_argument(
            "--runner", help="whose flag (a runner's name; default: the default runner)"
        )
        add_timeout_option(sub)
        add_config_option(sub)


def describe(state: dict[str, Any]) -> str:
    """One line for a `{base}/flags` state, e.g. "back pain flag: ache (until ...)"."""
    flag = state.get("back_pain", "?")
    expires = state.get("expires_at")
    if not expires:
        return f"back pain flag: {flag}"
    try:
        local = datetime.fromisoformat(str(expires)).astimezone()
        until = local.strftime("%Y-%m-%d %H:%M")
    except ValueError:
        until = str(expires)
    return f"back pain flag: {flag} (until {until})"


def _decode(payload: object) -> dict[str, Any] | None:
    if not isinstance(payload, bytes | bytearray):
        return None
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def _show(mqtt: MqttSettings, runner: str, timeout_s: float) -> dict[str, Any] | None:
    topic = topics.runner(mqtt.base_topic, runner, "flags")
    async with mqtt_client(mqtt, timeout_s=timeout_s) as client:
        await client.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(timeout_s):
                async for message in client.messages:
                    state = _decode(message.payload)
                    if state is not None:
                        return state
        except TimeoutError:
            return None
    return None


async def _set(
    mqtt: MqttSettings, command: FlagsSetCommand, runner: str, timeout_s: float
) -> dict[str, Any] | None:
    topic = topics.runner(mqtt.base_topic, runner, "flags")
    async with mqtt_client(mqtt, timeout_s=timeout_s) as client:
        await client.subscribe(topic, qos=1)
        await client.publish(
            topics.runner(mqtt.base_topic, runner, "flags/set"),
            command.model_dump_json(exclude_none=True),
            qos=1,
        )
        try:
            async with asyncio.timeout(timeout_s):
                async for message in client.messages:
                    # The retained copy is the state before our command: wait for a live one.
                    state = _decode(message.payload)
                    if (
                        not message.retain
                        and state is not None
                        and state.get("back_pain") == command.back_pain
                    ):
                        return state
        except TimeoutError:
            return None
    return None


def run(args: argparse.Namespace) -> int:
    """Run `flags show` or `flags set`."""
    loaded = settings_or_exit_status(args)
    if isinstance(loaded, int):
        return loaded
    mqtt = loaded.mqtt
    where = f"{mqtt.host}:{mqtt.port}"
    runner = slugify(args.runner) if args.runner else loaded.default_runner
    known = {r.slug for r in loaded.runners} or {loaded.default_runner}
    if runner not in known:
        err(f"treadwell flags: no runner {args.runner!r}; known: {', '.join(sorted(known))}")
        return 2
    try:
        if args.action == "show":
            state = asyncio.run(_show(mqtt, runner, args.timeout))
            if state is None:
                err(f"treadwell flags: no flag state on {where} (is the daemon running?)")
                return 1
            out(json.dumps(state, sort_keys=True) if args.json else describe(state))
            return 0
        try:
            command = FlagsSetCommand(back_pain=args.back_pain, days=args.days)
        except ValidationError as exc:
            problems = "; ".join(str(error["msg"]) for error in exc.errors())
            err(f"treadwell flags set: --days: {problems}")
            return 2
        state = asyncio.run(_set(mqtt, command, runner, args.timeout))
    except aiomqtt.MqttError as exc:
        err(f"treadwell flags: cannot reach the MQTT broker at {where}: {exc}")
        return 1
    if state is None:
        err(
            f"treadwell flags: sent, but the daemon did not confirm within {args.timeout:g} s "
            "(is it running?)"
        )
        return 1
    out(describe(state))
    return 0

"""I/O. The demo's MQTT side: the broker, reaching it, watching the daemon, leaving no trace.

The broker is an embedded one (amqtt, bound to 127.0.0.1 on a free port, so nothing off this
machine can reach it) unless `--broker` names one. On a broker of one's own the demo behaves
like a guest. It has one stable identity (client id `treadwell-demo`, topics under
`treadwell-demo/`, so it never mixes with a real Treadwell's `treadwell/`), starts clean (the
retained topics and sessions a previous demo left are cleared first) and leaves nothing
behind: on the way out, finished or interrupted, it clears its retained topics, its Home
Assistant device and its sessions. Until the broker can be reached it says so and keeps
trying; when the broker goes away mid-demo the view waits for it and carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import uuid
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

import aiomqtt

from treadwell.daemon.config import DEFAULT_RUNNER
from treadwell.daemon.discovery import discovery_object_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from treadwell.daemon.demo_view import DemoView

DEMO_BASE_TOPIC = "treadwell-demo"
DEMO_CLIENT_ID = "treadwell-demo"
DEMO_VIEW_ID = "treadwell-demo-view"
DEMO_TREADMILL = "treadmill"
_RETRY_MIN_S = 1.0
_RETRY_MAX_S = 5.0
_CLEAN_WAIT_S = 10.0
# The Home Assistant device a demo of an earlier version left, one per process id.
_OLD_DEMO_DEVICE = re.compile(r"homeassistant/device/treadwell-demo-\d+_treadmill/config")


class DemoError(Exception):
    """The demo could not run (bad broker URL, broker unreachable, story did not finish)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def embedded_broker() -> AsyncIterator[tuple[str, int]]:
    """An amqtt broker on 127.0.0.1 and a free port, for this process only."""
    try:
        from amqtt.broker import Broker  # noqa: PLC0415 - optional, heavy, demo only
    except ImportError as exc:
        raise DemoError(
            "the embedded broker needs amqtt: pip install 'treadwell[demo]', "
            "or give --broker mqtt://host:port"
        ) from exc
    port = _free_port()
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    try:
        yield "127.0.0.1", port
    finally:
        await broker.shutdown()


def parse_broker(url: str) -> tuple[str, int]:
    """`mqtt://host:port` -> (host, port)."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme != "mqtt" or not parts.hostname:
        raise DemoError(f"--broker must look like mqtt://host:port, got {url!r}")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise DemoError(f"--broker has a bad port: {url!r}") from exc
    return parts.hostname, port


def _leftover_topics() -> list[str]:
    """Every retained topic a demo may leave: its own tree and Home Assistant devices.

    All device configurations are looked at, but only the demo's own is cleared, with the
    ones earlier versions left under a per-process id (`treadwell-demo-<pid>_treadmill`).
    """
    return [f"{DEMO_BASE_TOPIC}/#", "homeassistant/device/+/config"]


def _is_demo_leftover(topic: str) -> bool:
    if topic.startswith(f"{DEMO_BASE_TOPIC}/"):
        return True
    # The treadmill's device and the demo runner's ("default").
    own = {
        discovery_object_id(DEMO_CLIENT_ID, DEMO_TREADMILL),
        discovery_object_id(DEMO_CLIENT_ID, f"runner_{DEFAULT_RUNNER}"),
    }
    return any(topic == f"homeassistant/device/{o}/config" for o in own) or bool(
        _OLD_DEMO_DEVICE.fullmatch(topic)
    )


async def reach_broker(host: str, port: int, out: TextIO) -> None:
    """Return once the broker takes a connection; until then say so and keep trying."""
    delay = _RETRY_MIN_S
    attempt = 0
    while True:
        attempt += 1
        try:
            async with aiomqtt.Client(host, port, identifier=f"{DEMO_VIEW_ID}-probe", timeout=5):
                pass
        except aiomqtt.MqttError as exc:
            if attempt == 1:
                out.write(
                    f"Cannot reach the MQTT broker at {host}:{port} ({exc}). "
                    "Trying again until it answers; Ctrl-C to stop.\n"
                )
            else:
                out.write(f"  still no broker at {host}:{port} (attempt {attempt}): {exc}\n")
            out.flush()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)
            continue
        if attempt > 1:
            out.write(f"Reached the MQTT broker at {host}:{port}.\n")
        return


async def clear_leftovers(host: str, port: int) -> list[str]:
    """Clear the demo's retained topics and drop its broker sessions.

    Returns:
        The retained topics that were cleared.
    """
    marker = f"{DEMO_BASE_TOPIC}-cleanup/{uuid.uuid4().hex}"
    found: list[str] = []
    async with aiomqtt.Client(
        host, port, identifier=f"{DEMO_VIEW_ID}-cleanup", clean_session=True, timeout=5
    ) as client:
        await client.subscribe([(topic, 1) for topic in [*_leftover_topics(), marker]])
        # Retained messages are queued for us before the broker handles this publish, so
        # the marker coming back means every retained one has arrived.
        await client.publish(marker, b"end", qos=1)
        async with asyncio.timeout(_CLEAN_WAIT_S):
            async for message in client.messages:
                topic = str(message.topic)
                if topic == marker:
                    break
                if (
                    message.retain
                    and message.payload
                    and _is_demo_leftover(topic)
                    and topic not in found
                ):
                    found.append(topic)
        for topic in found:
            await client.publish(topic, b"", qos=1, retain=True)
    # A clean connection under each stable id drops that id's stored session.
    for identifier in (DEMO_CLIENT_ID, DEMO_VIEW_ID):
        async with aiomqtt.Client(host, port, identifier=identifier, clean_session=True):
            pass
    return found


async def watch(host: str, port: int, view: DemoView, done: asyncio.Event) -> None:
    """Show the daemon's messages; ride through broker outages until cancelled."""
    delay = _RETRY_MIN_S
    lost = False
    while True:
        try:
            # A persistent session: QoS 1/2 messages sent while we reconnect are kept for us.
            async with aiomqtt.Client(
                host, port, identifier=DEMO_VIEW_ID, clean_session=False, timeout=5
            ) as client:
                await client.subscribe(f"{view.base}/#", qos=2)
                if lost:
                    view.note(f"MQTT: the broker at {host}:{port} is back\n")
                    lost, delay = False, _RETRY_MIN_S
                async for message in client.messages:
                    view.handle(str(message.topic), _payload_bytes(message.payload))
                    if any(p.get("kind") == "checkin" for p in view.prompts) and view.run:
                        done.set()
        except aiomqtt.MqttError as exc:
            if not lost:
                view.note(
                    f"MQTT: lost the broker at {host}:{port} ({exc}); waiting for it to come "
                    "back (Ctrl-C to stop)\n"
                )
                lost = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)


async def clean_up(host: str, port: int, out: TextIO) -> None:
    """Clear what the demo left on the broker; if that fails, say so (the next demo will)."""
    try:
        async with asyncio.timeout(_CLEAN_WAIT_S * 2):
            await clear_leftovers(host, port)
    except (aiomqtt.MqttError, TimeoutError) as exc:
        out.write(
            f"\nCould not clear the demo's retained topics ({DEMO_BASE_TOPIC}/#) on "
            f"{host}:{port}: {str(exc) or 'timed out'}; the next demo clears them first.\n"
        )


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload).encode()

"""I/O. `treadwell doctor`: what works on your treadmill and what does not, with advice.

    treadwell doctor                       # the configured treadmill (or the first one found)
    treadwell doctor --device "F80"
    treadwell doctor --capture f80.jsonl   # explain a capture, replayed as a virtual device
    treadwell doctor --remembered          # what earlier checks found, without connecting
    treadwell doctor --publish             # and show the result in Home Assistant

It connects Treadwell's own treadmill link, watches the data for a few seconds and tries only
harmless control (Request Control, and Set Target Inclination to the incline the deck already
shows; never a speed, never Start). The result is remembered per device in the state
directory (``devices.json``). Stop the daemon first: a treadmill takes one connection at a time.
With --publish the result also goes to MQTT, retained, on `{base}/<treadmill>/diagnostics`,
with a discovery message that adds a diagnostic "Treadmill check" sensor to the first
configured treadmill's Home Assistant device.
"""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import aiomqtt

from treadwell.daemon.commands.config import add_config_option, err, settings_or_exit_status
from treadwell.daemon.commands.flags import mqtt_client
from treadwell.daemon.device_memory import DeviceMemory
from treadwell.daemon.diagnostics_discovery import (
    build_diagnostics_discovery,
    build_diagnostics_payload,
    diagnostics_topic,
)
from treadwell.drivers.backend import BleBackend
from treadwell.drivers.capture import CaptureError, looks_like_address
from treadwell.drivers.discovery import DeviceKind, DeviceTarget
from treadwell.drivers.errors import DriverError
from treadwell.drivers.probe import ProbeReport, advice, probe

if TYPE_CHECKING:
    import argparse

    from treadwell.daemon.config import Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
_PUBLISH_TIMEOUT_S = 10.0
_MARKS = {"ok": "[ok]  ", "no": "[no]  ", "note": "[note]"}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the sub-command's arguments."""
    add_config_option(parser)
    parser.add_argument("--device", metavar="NAME|ADDRESS", help="the treadmill to check")
    parser.add_argument(
        "--capture", type=Path, metavar="FILE", help="check a capture instead, replayed"
    )
    parser.add_argument(
        "--backend",
        choices=("bleak", "virtual"),
        default="bleak",
        help="bleak: this computer's Bluetooth adapter; virtual: a simulated treadmill",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=5.0,
        metavar="N",
        help="how long to watch the treadmill's data (default: 5)",
    )
    parser.add_argument(
        "--no-control", action="store_true", help="do not touch the control point at all"
    )
    parser.add_argument(
        "--state-dir", type=Path, metavar="DIR", help="where to remember the result"
    )
    parser.add_argument(
        "--remembered", action="store_true", help="show what earlier checks found and exit"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="also show the result in Home Assistant: a retained diagnostics message and a "
        "'Treadmill check' sensor on the first configured treadmill's device",
    )


def run(args: argparse.Namespace) -> int:
    """Check the treadmill, remember the result, print it with advice."""
    if args.seconds < 0:
        err("treadwell doctor: --seconds must not be negative")
        return EXIT_USAGE
    settings = settings_or_exit_status(args)
    if isinstance(settings, int):
        return settings
    # The report prints what the link would log (quirks not applied, no incline control).
    logging.basicConfig(level=logging.ERROR, format="treadwell doctor: %(message)s")
    memory = DeviceMemory(args.state_dir or settings.state_dir)
    if args.remembered:
        reports = memory.reports()
        if not reports:
            err(f"treadwell doctor: nothing remembered yet in {memory.path}")
            return EXIT_FAILED
        for report in reports.values():
            print(render(report, as_json=args.json))  # noqa: T201
        return EXIT_OK
    try:
        report = asyncio.run(_check(args, settings))
    except CaptureError as exc:
        err(f"treadwell doctor: {exc}")
        return EXIT_USAGE
    except DriverError as exc:
        err(f"treadwell doctor: {exc}")
        return EXIT_FAILED
    try:
        memory.remember(report)
    except OSError as exc:
        err(f"treadwell doctor: could not remember the result in {memory.path}: {exc}")
    print(render(report, as_json=args.json))  # noqa: T201
    if args.publish:
        return publish_or_exit_status(settings, report)
    return EXIT_OK


def publish_or_exit_status(settings: Settings, report: ProbeReport) -> int:
    """Publish the diagnostics for Home Assistant; 1 with the reason when that fails."""
    if not settings.treadmills:
        err("treadwell doctor: --publish needs a treadmill in the configuration")
        return EXIT_FAILED
    try:
        asyncio.run(publish_diagnostics(settings, report))
    except (aiomqtt.MqttError, OSError) as exc:
        err(f"treadwell doctor: could not publish to the broker: {exc}")
        return EXIT_FAILED
    topic = diagnostics_topic(settings.mqtt.base_topic, settings.treadmills[0].slug)
    err(f"treadwell doctor: published {topic} (retained)")
    return EXIT_OK


async def publish_diagnostics(settings: Settings, report: ProbeReport) -> None:
    """Publish the retained diagnostics and their discovery message for the first treadmill."""
    mqtt = settings.mqtt
    treadmill = settings.treadmills[0]
    payload = build_diagnostics_payload(report.to_dict(), advice(report))
    messages = [(diagnostics_topic(mqtt.base_topic, treadmill.slug), payload)]
    if mqtt.discovery:
        messages.append(
            build_diagnostics_discovery(
                base=mqtt.base_topic,
                discovery_prefix=mqtt.discovery_prefix,
                daemon_id=mqtt.client_id,
                device_slug=treadmill.slug,
                device_name=treadmill.name,
                sw_version=_version(),
            )
        )
    async with mqtt_client(mqtt, timeout_s=_PUBLISH_TIMEOUT_S) as client:
        for topic, body in messages:
            data = json.dumps(body, separators=(",", ":")).encode()
            await client.publish(topic, data, qos=1, retain=True)


def _version() -> str:
    try:
        return metadata.version("treadwell")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def target_for(device: str | None, settings: Settings) -> DeviceTarget:
    """--device, else the first configured treadmill, else the first treadmill found."""
    if device:
        if looks_like_address(device):
            return DeviceTarget(DeviceKind.TREADMILL, address=device)
        return DeviceTarget(DeviceKind.TREADMILL, name=device)
    if settings.treadmills:
        first = settings.treadmills[0]
        return DeviceTarget(DeviceKind.TREADMILL, address=first.address, name=first.match_name)
    return DeviceTarget(DeviceKind.TREADMILL)


async def _check(args: argparse.Namespace, settings: Settings) -> ProbeReport:
    options = {"watch_s": args.seconds, "control": not args.no_control}
    if args.capture is None and args.backend != "virtual":
        return await probe(BleBackend(), target_for(args.device, settings), **options)
    # Imported here: Bumble is only needed for the virtual world.
    from treadwell.drivers.virtual.replay import load_any  # noqa: PLC0415
    from treadwell.drivers.virtual.world import VirtualWorld  # noqa: PLC0415

    async with VirtualWorld() as world:
        if args.capture is not None:
            capture = load_any(args.capture)
            device = await world.add_replay(capture, loop=True)
            target = DeviceTarget(DeviceKind.TREADMILL, name=device.name)
        else:
            await world.add_treadmill()
            target = DeviceTarget(DeviceKind.TREADMILL)
        return await probe(world.backend, target, **options)


def render(report: ProbeReport, *, as_json: bool = False) -> str:
    """The report as text with advice (or as JSON)."""
    if as_json:
        return json.dumps(report.to_dict(), indent=2)
    head = f'Treadmill "{report.name}" ({report.address}), checked {report.checked_at}'
    lines = [head] + [f"  {_MARKS[mark]} {text}" for mark, text in advice(report)]
    return "\n".join(lines)

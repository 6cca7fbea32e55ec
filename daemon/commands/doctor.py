"""I/O. `treadwell doctor`: what works on your treadmill and what does not, with advice.

    treadwell doctor                       # the configured treadmill (or the first one found)
    treadwell doctor --device "F80"
    treadwell doctor --capture f80.jsonl   # explain a capture, replayed as a virtual device
    treadwell doctor --remembered          # what earlier checks found, without connecting

It connects Treadwell's own treadmill link, watches the data for a few seconds and tries only
harmless control (Request Control, and Set Target Inclination to the incline the deck already
shows; never a speed, never Start). The result is remembered per device in the state
directory (``devices.json``). Stop the daemon first: a treadmill takes one connection at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from treadwell.daemon.commands.config import add_config_option, err, settings_or_exit_status
from treadwell.daemon.device_memory import DeviceMemory
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
    return EXIT_OK


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

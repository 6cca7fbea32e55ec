"""I/O. `treadwell capture`: record what a treadmill (or strap, or footpod) does, for a report.

    treadwell capture --device "F80" --seconds 60 -o f80.jsonl

The file (docs/capture-format.md) holds the GATT table, every read, notification, indication
and control-point write with its answer, each with its time, and ends with a summary of what
the device supports. Bluetooth addresses are replaced by zeros unless --no-redact is given.
Ctrl-C ends the recording early and keeps what was recorded, summary included.
`treadwell replay FILE` serves it back as a virtual device.

With ``--backend virtual`` it records a virtual treadmill running the demo profile, which shows
what a capture looks like without any Bluetooth hardware.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from treadwell.drivers.backend import BleBackend
from treadwell.drivers.capture import Progress, record
from treadwell.drivers.errors import DriverError

if TYPE_CHECKING:
    import argparse

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the sub-command's arguments."""
    parser.add_argument(
        "--device",
        metavar="NAME|ADDRESS",
        help="the advertised name or the address to capture (default: the first treadmill, "
        "strap or footpod found)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        metavar="N",
        help="how long to record after connecting (default: 60)",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="where to write the capture"
    )
    parser.add_argument(
        "--no-redact",
        action="store_true",
        help="keep the Bluetooth address in the file (it is replaced by zeros otherwise)",
    )
    parser.add_argument(
        "--no-control",
        action="store_true",
        help="do not touch the control point (by default: Request Control, then Set Target "
        "Inclination to the incline the deck already reports, so nothing moves)",
    )
    parser.add_argument(
        "--backend",
        choices=("bleak", "virtual"),
        default="bleak",
        help="bleak: this computer's Bluetooth adapter; virtual: a simulated treadmill",
    )


def _say(text: str) -> None:
    print(f"treadwell capture: {text}", file=sys.stderr)  # noqa: T201


def run(args: argparse.Namespace) -> int:
    """Record, show progress on stderr, print the summary; exit 1 with advice on failure."""
    if args.seconds <= 0:
        _say("--seconds must be more than 0")
        return EXIT_USAGE
    path = Path(args.output)
    try:
        out = path.open("w", encoding="utf-8")
    except OSError as exc:
        _say(f"cannot write {path}: {exc}")
        return EXIT_USAGE
    summary: dict[str, Any] | None = None
    with out:
        try:
            summary = asyncio.run(_capture(args, out))
        except DriverError as exc:
            _say(str(exc))
        recorded = out.tell() > 0
    if summary is None:
        if recorded:
            _say(f"what was recorded before that is kept in {path}")
        else:
            path.unlink(missing_ok=True)  # nothing was recorded: leave no empty file behind
        return EXIT_FAILED
    _say(f"wrote {path}")
    print(render_summary(summary))  # noqa: T201
    return EXIT_OK


def _progress(counts: Progress) -> None:
    end = "\r" if sys.stderr.isatty() else "\n"
    print(f"recording {counts.line()}", end=end, file=sys.stderr, flush=True)  # noqa: T201


async def _capture(args: argparse.Namespace, out: TextIO) -> dict[str, Any]:
    # Ctrl-C (or SIGTERM) ends the recording early; the file still gets its summary.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    options: dict[str, Any] = {
        "stop": stop,
        "device": args.device,
        "seconds": args.seconds,
        "redact": not args.no_redact,
        "control": not args.no_control,
        "progress": _progress,
    }
    _say(f"looking for {args.device or 'a treadmill, strap or footpod'} ...")
    if args.backend != "virtual":
        return await record(out, backend=BleBackend(), **options)
    # Imported here: Bumble is only needed for the virtual world.
    from treadwell.drivers.virtual.profile import RunProfile  # noqa: PLC0415
    from treadwell.drivers.virtual.treadmill import TreadmillConfig  # noqa: PLC0415
    from treadwell.drivers.virtual.world import VirtualWorld  # noqa: PLC0415

    async with VirtualWorld() as world:
        await world.add_treadmill(TreadmillConfig(profile=RunProfile.demo()))
        await world.add_strap()
        return await record(out, backend=world.backend, **options)


def render_summary(summary: dict[str, Any]) -> str:
    """What the device supports, as indented JSON for the terminal."""
    shown = {"supports": summary.get("supports"), "counts": summary.get("counts")}
    return json.dumps(shown, indent=2)

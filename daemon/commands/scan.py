"""I/O. `treadwell scan`: list the treadmills, heart-rate straps and footpods around.

With ``--backend virtual`` it scans a virtual world holding one treadmill, one strap and one
footpod, which shows what a scan looks like without any Bluetooth hardware.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING

from treadwell.drivers.backend import BleBackend
from treadwell.drivers.discovery import FoundDevice, scan
from treadwell.drivers.errors import DriverError

if TYPE_CHECKING:
    import argparse

EXIT_OK = 0
EXIT_FAILED = 1


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the sub-command's arguments."""
    parser.add_argument(
        "--seconds",
        type=float,
        default=5.0,
        metavar="N",
        help="how long to listen for advertisements (default: 5)",
    )
    parser.add_argument(
        "--backend",
        choices=("bleak", "virtual"),
        default="bleak",
        help="bleak: this computer's Bluetooth adapter; virtual: simulated devices",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args: argparse.Namespace) -> int:
    """Scan and print what was found; exit 1 with advice when Bluetooth is unusable."""
    if args.seconds <= 0:
        print("treadwell scan: --seconds must be more than 0", file=sys.stderr)  # noqa: T201
        return 2
    try:
        found = asyncio.run(_scan(args.seconds, virtual=args.backend == "virtual"))
    except DriverError as exc:
        print(f"treadwell scan: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    print(render_json(found) if args.json else render_table(found))  # noqa: T201
    return EXIT_OK


async def _scan(seconds: float, *, virtual: bool) -> list[FoundDevice]:
    if not virtual:
        return await scan(seconds, backend=BleBackend())
    # Imported here: Bumble is only needed for the virtual world.
    from treadwell.drivers.virtual.world import VirtualWorld  # noqa: PLC0415

    async with VirtualWorld() as world:
        await world.add_treadmill()
        await world.add_strap()
        await world.add_footpod()
        return await scan(seconds, backend=world.backend)


def render_table(found: list[FoundDevice]) -> str:
    """Format scan results as an aligned text table (or a friendly line when empty)."""
    if not found:
        return (
            "no treadmills, heart-rate straps or footpods found; wake them up (step on the "
            "belt, wear the strap) and scan again"
        )
    rows = [("KIND", "NAME", "ADDRESS", "RSSI")]
    rows += [(d.kind.value, d.name or "(no name)", d.address, f"{d.rssi} dBm") for d in found]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    )


def render_json(found: list[FoundDevice]) -> str:
    """Format scan results as a JSON list of objects."""
    return json.dumps(
        [
            {
                "name": d.name,
                "address": d.address,
                "rssi": d.rssi,
                "kind": d.kind.value,
                "ftms_available": d.ftms_available,
            }
            for d in found
        ],
        indent=2,
    )

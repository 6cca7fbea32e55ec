"""I/O. `treadwell run`'s memory with a treadmill, a strap and a footpod connected through BlueZ.

    .venv/bin/python -m bench.footprint_bluez [--json]

Boots the BlueZ VM (`bash .ci/bluez/run -k footprint`: real kernel Bluetooth, bluetoothd and
D-Bus; emulated devices behind /dev/vhci) and runs `tests/bluez/test_footprint.py` there: the
daemon is its own process on plain bleak, as on a Raspberry Pi, and its resident memory is
read from /proc once the treadmill's state carries the strap's heart rate and the footpod's
cadence and ten more seconds have passed. Needs what the VM needs (qemu, and root the first
time, to build the image: docs/bluez-vm.md). The VM is a Debian guest with its own Python,
so the figure is that interpreter's; the settings line names it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MARKER = "FOOTPRINT-BLUEZ: "
TARGET_MB = 60.0


def measure() -> dict[str, Any]:
    """Run the VM's footprint test and return its figures.

    Raises:
        RuntimeError: The VM gave no figure (its output's tail is in the message).
    """
    done = subprocess.run(
        ["bash", str(ROOT / ".ci" / "bluez" / "run"), "-k", "footprint"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    lines = done.stdout.replace("\r", "").splitlines()
    found = [line.removeprefix(MARKER) for line in lines if line.startswith(MARKER)]
    if done.returncode != 0 or not found:
        tail = "\n".join((lines + done.stderr.splitlines())[-40:])
        msg = f"the BlueZ VM gave no footprint (exit {done.returncode}):\n{tail}"
        raise RuntimeError(msg)
    figures: dict[str, Any] = json.loads(found[-1])
    figures["target_mb"] = TARGET_MB
    return figures


def main(argv: list[str] | None = None) -> int:
    """Print the figures (a line of text, or JSON with `--json`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        figures = measure()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"RSS of `treadwell run` (Python {figures['python']} in the BlueZ VM) with a"
            f" treadmill, a strap and a footpod connected through BlueZ: {figures['rss_mb']} MB"
            f" after {figures['settle_s']:g} s connected (peak {figures['peak_rss_mb']} MB;"
            f" target < {TARGET_MB:g} MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

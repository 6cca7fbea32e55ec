"""I/O. `treadwell demo`: a full run on a virtual treadmill and strap, no hardware needed."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from treadwell.daemon.config import VIRTUAL_MISSING, virtual_world_available
from treadwell.daemon.logs import setup_logging

if TYPE_CHECKING:
    import argparse

DEFAULT_SPEEDUP = 40.0
MAX_SPEEDUP = 1000.0
EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
EXIT_UNAVAILABLE = 69
"""A part the demo needs is not installed (sysexits.h EX_UNAVAILABLE)."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `--back-pain`, `--speedup`, `--broker`, `--state-dir` and `--log-level`."""
    parser.add_argument(
        "--back-pain",
        choices=["ache", "check", "none", "red"],
        default="ache",
        help="the runner's back-pain flag for the demo run (default: ache)",
    )
    parser.add_argument(
        "--speedup",
        type=float,
        default=DEFAULT_SPEEDUP,
        help=f"how much faster than real time the run plays (default: {DEFAULT_SPEEDUP:g}, "
        "about a minute for the whole story)",
    )
    parser.add_argument(
        "--broker",
        metavar="mqtt://HOST:PORT",
        help="use this MQTT broker instead of the embedded one (e.g. to watch in Home "
        "Assistant); the demo clears the retained topics it made when it ends",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="keep the demo's state here (then `treadwell history --state-dir DIR` lists its "
        "run and `treadwell export --state-dir DIR --last` exports it); default: a "
        "temporary directory",
    )
    parser.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )


def run(args: argparse.Namespace) -> int:
    """Play the demo and print its run summary."""
    if not virtual_world_available():
        sys.stderr.write(f"treadwell demo: {VIRTUAL_MISSING}\n")
        return EXIT_UNAVAILABLE
    from treadwell.daemon.demo import DemoError, run_demo  # noqa: PLC0415 - heavy imports

    if not 0 < args.speedup <= MAX_SPEEDUP:
        sys.stderr.write("treadwell demo: --speedup must be between 0 and 1000\n")
        return EXIT_USAGE
    setup_logging(args.log_level)
    logging.getLogger("amqtt").setLevel(logging.ERROR)
    try:
        return asyncio.run(
            run_demo(
                back_pain=args.back_pain,
                speedup=args.speedup,
                broker=args.broker,
                state_dir=args.state_dir,
            )
        )
    except DemoError as exc:
        sys.stderr.write(f"treadwell demo: {exc}\n")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED

"""I/O. The `treadwell` command line: one sub-command per module in `treadwell.daemon.commands`.

Sub-command modules are imported only when chosen, so `treadwell decode` does not pay for
bleak, aiomqtt or bumble.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_USAGE = 2

# name -> (module under treadwell.daemon.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "run the daemon (BLE devices -> back-care rules -> MQTT)"),
    "demo": ("demo", "a full run on a virtual treadmill and strap, with an embedded broker"),
    "decode": ("decode", "decode a captured FTMS, heart-rate or RSC packet to JSON"),
    "scan": ("scan", "list the treadmills, heart-rate straps and footpods around"),
    "config": ("config", "check the configuration or print a commented example"),
    "history": ("history", "list past runs from the state database"),
    "export": ("export", "write a run as a FIT, TCX or CSV file"),
    "flags": ("flags", "show or set the back-pain flag (through the running daemon)"),
    "checkin": ("checkin", "report how your back feels (through the running daemon)"),
    "runner": ("runner", "choose who runs on a treadmill (through the running daemon)"),
    "capture": ("capture", "record what a treadmill or strap does, to a file for a report"),
    "replay": ("replay", "serve a capture file as a virtual device (and run the daemon on it)"),
    "doctor": ("doctor", "what works on your treadmill and what does not, with advice"),
}


class Command(Protocol):
    """What a sub-command module provides."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add the sub-command's arguments."""

    def run(self, args: argparse.Namespace) -> int:
        """Run the sub-command and return the exit status."""


def _load(name: str) -> Command:
    return cast(
        "Command", importlib.import_module(f"treadwell.daemon.commands.{COMMANDS[name][0]}")
    )


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """Build the parser, configuring only the sub-command named in `argv` (if any)."""
    parser = argparse.ArgumentParser(
        prog="treadwell",
        description="Home-gym treadmill companion: BLE treadmills and straps to MQTT, "
        "with back-care prompts.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (_module, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _load(name).configure(sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `treadwell` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    return _load(args.command).run(args)


if __name__ == "__main__":
    sys.exit(main())

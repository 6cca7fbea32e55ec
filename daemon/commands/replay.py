"""I/O. `treadwell replay`: serve a capture as a virtual device, and run Treadwell against it.

    treadwell replay f80.jsonl                      # print what Treadwell reads from it
    treadwell replay f80.jsonl --config my.toml     # run the whole daemon on it

The capture (docs/capture-format.md, or an old directory of ``.hex`` packets) becomes a device
in the virtual Bluetooth world: the same GATT table, reads answered with the captured values,
notifications on their captured timeline, control-point writes answered as recorded. Without
--config, Treadwell's treadmill link connects to it and prints every reading as a JSON line
until the timeline ends. With --config, the daemon runs on it (MQTT, rules, Home Assistant)
until stopped; the first configured treadmill is pointed at the replayed device and the
timeline starts over when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from treadwell.daemon.commands.config import add_config_option, err
from treadwell.drivers.capture import CaptureError
from treadwell.drivers.errors import TreadwellError

if TYPE_CHECKING:
    import argparse

    from treadwell.daemon.config import Settings
    from treadwell.drivers.capture import Capture
    from treadwell.drivers.events import LinkEvent

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
REPLAY_NAME = "Treadwell Replay"
_DRAIN_S = 5.0  # after the timeline ended, for the last values to reach the link


def records(capture: Capture) -> int:
    """How many complete Treadmill Data records the capture's notifications make."""
    from treadwell.drivers.codec.ftms import (  # noqa: PLC0415
        TreadmillRecordAssembler,
        parse_treadmill_data,
    )
    from treadwell.drivers.errors import CodecError  # noqa: PLC0415

    assembler = TreadmillRecordAssembler()
    count = 0
    for value in capture.values:
        if value.uuid == "2acd":
            with contextlib.suppress(CodecError):
                if assembler.feed(parse_treadmill_data(value.value), value.t) is not None:
                    count += 1
    return count


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the sub-command's arguments."""
    parser.add_argument("capture", type=Path, help="a capture file, or a directory of .hex files")
    add_config_option(parser)
    parser.add_argument(
        "--seconds",
        type=float,
        metavar="N",
        help="without --config: stop after N seconds (default: when the timeline ends)",
    )


def run(args: argparse.Namespace) -> int:
    """Load the capture (exit 2 with the bad line if it is broken) and serve it."""
    from treadwell.drivers.virtual.replay import load_any  # noqa: PLC0415 - Bumble is large

    try:
        capture = load_any(args.capture)
    except CaptureError as exc:
        err(f"treadwell replay: {exc}")
        return EXIT_USAGE
    if args.config is None:
        # The link's own warnings (quirks not applied, no incline control) explain the deck.
        logging.basicConfig(level=logging.WARNING, format="treadwell replay: %(message)s")
        try:
            return asyncio.run(print_readings(capture, args.seconds))
        except TreadwellError as exc:
            err(f"treadwell replay: {exc}")
            return EXIT_FAILED
    from treadwell.daemon.commands.config import settings_or_exit_status  # noqa: PLC0415
    from treadwell.daemon.logs import setup_logging  # noqa: PLC0415

    settings = settings_or_exit_status(args)
    if isinstance(settings, int):
        return settings
    setup_logging(settings.log_level, secrets=[])
    stop = asyncio.Event()

    async def main() -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await serve_replay(settings, capture, stop)

    try:
        return asyncio.run(main())
    except TreadwellError as exc:
        err(f"treadwell replay: cannot start: {exc}")
        return EXIT_FAILED


def pointed_at_replay(settings: Settings, name: str) -> Settings:
    """The settings with the first treadmill looking for the replayed device by name."""
    if not settings.treadmills:
        return settings
    first, *rest = settings.treadmills
    first = first.model_copy(update={"match_name": name, "address": None})
    return settings.model_copy(update={"treadmills": [first, *rest]})


async def serve_replay(settings: Settings, capture: Capture, stop: asyncio.Event) -> int:
    """Run the daemon on a replayed capture until `stop` is set; returns the exit status."""
    from treadwell.daemon.app import Daemon  # noqa: PLC0415
    from treadwell.daemon.clock import Clock  # noqa: PLC0415
    from treadwell.drivers.virtual.world import VirtualWorld  # noqa: PLC0415

    name = capture.name or REPLAY_NAME
    settings = pointed_at_replay(settings, name)
    async with VirtualWorld() as world:
        await world.add_replay(capture, name=name, loop=True)
        daemon = Daemon(settings, backend=world.backend, clock=Clock())
        await daemon.run(stop)
    return EXIT_OK


async def print_readings(capture: Capture, seconds: float | None) -> int:
    """Connect Treadwell's treadmill link to the replayed capture and print what it reads."""
    from treadwell.drivers.discovery import DeviceKind, DeviceTarget  # noqa: PLC0415
    from treadwell.drivers.events import TreadmillReading  # noqa: PLC0415
    from treadwell.drivers.treadmill import TreadmillLink  # noqa: PLC0415
    from treadwell.drivers.virtual.world import VirtualWorld  # noqa: PLC0415

    if capture.characteristic("2acd") is None:
        err("treadwell replay: this capture holds no treadmill (no Treadmill Data)")
        return EXIT_FAILED
    name = capture.name or REPLAY_NAME

    shown = 0
    arrived = asyncio.Event()

    def show(event: LinkEvent) -> None:
        nonlocal shown
        if isinstance(event, TreadmillReading):
            shown += 1
            arrived.set()
            line = {k: v for k, v in event.data.to_dict().items() if v is not None and v != []}
            if event.incline_assumed:
                line["incline_assumed"] = True
            if event.distance_estimated:
                line["distance_estimated"] = True
            print(json.dumps(line), flush=True)  # noqa: T201

    async with VirtualWorld() as world:
        device = await world.add_replay(capture, name=name)
        link = TreadmillLink(
            DeviceTarget(DeviceKind.TREADMILL, name=name), backend=world.backend, on_event=show
        )
        task = asyncio.create_task(link.run())
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await device.finished.wait()
                async with asyncio.timeout(_DRAIN_S):
                    while shown < records(capture):
                        await arrived.wait()
                        arrived.clear()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    print(f"treadwell replay: played {device.played} values", file=sys.stderr)  # noqa: T201
    return EXIT_OK

"""I/O. `treadwell run`: the daemon (what the systemd unit starts)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
from typing import TYPE_CHECKING, Any

from treadwell.daemon import systemd
from treadwell.daemon.commands.config import add_config_option, err, settings_or_exit_status
from treadwell.daemon.config import EX_CONFIG
from treadwell.daemon.logs import setup_logging
from treadwell.drivers.errors import TreadwellError

if TYPE_CHECKING:
    import argparse

    from treadwell.daemon.config import Settings

_LOGGER = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `--config` and `--log-level`."""
    add_config_option(parser)
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="override the configured log level",
    )


def run(args: argparse.Namespace) -> int:
    """Load the configuration (exit 78 if it is bad) and run until SIGTERM or SIGINT."""
    settings = settings_or_exit_status(args)
    if isinstance(settings, int):
        return settings
    password = settings.mqtt.password.get_secret_value() if settings.mqtt.password else None
    setup_logging(args.log_level or settings.log_level, secrets=[password] if password else [])
    try:
        return asyncio.run(serve(settings))
    except KeyboardInterrupt:
        return 0


def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """One warning line for paho's stale socket after a broker restart; the rest as usual.

    When the broker goes away, paho may close its socket while the loop still watches it,
    and asyncio reports "Bad file descriptor" with a traceback. The bridge reconnects anyway.
    """
    exc = context.get("exception")
    if isinstance(exc, OSError) and exc.errno == errno.EBADF:
        _LOGGER.warning("MQTT: the broker connection's socket was already closed (%s)", exc)
        return
    loop.default_exception_handler(context)


async def serve(settings: Settings) -> int:
    """Run the daemon until a stop signal; returns the exit status."""
    # Imported here so `treadwell --help` and the other sub-commands start fast.
    from treadwell.daemon.app import Daemon  # noqa: PLC0415
    from treadwell.daemon.clock import Clock  # noqa: PLC0415
    from treadwell.daemon.mqtt import EXIT_BRIDGE_FAILED, BridgeFailedError  # noqa: PLC0415
    from treadwell.drivers.backend import BleBackend  # noqa: PLC0415

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_loop_exception)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        if settings.ble.backend == "virtual":
            # Bumble (the virtual world) is a large import a real Bluetooth setup never needs.
            from treadwell.daemon.virtual_env import virtual_world  # noqa: PLC0415

            world, settings = await stack.enter_async_context(virtual_world(settings))
            backend, clock = world.backend, Clock(settings.ble.speedup)
        else:
            backend, clock = BleBackend(), Clock()
        try:
            daemon = Daemon(
                settings,
                backend=backend,
                clock=clock,
                on_ready=lambda: systemd.ready(f"serving {len(settings.treadmills)} treadmill(s)"),
            )
        except TreadwellError as exc:
            err(f"treadwell: cannot start: {exc}")
            return EX_CONFIG
        watchdog = asyncio.create_task(systemd.watchdog(lambda: daemon.healthy))
        status = 0
        try:
            await daemon.run(stop)
        except* BridgeFailedError:
            status = EXIT_BRIDGE_FAILED  # the bridge logged why and published offline
        finally:
            systemd.stopping()
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
    _LOGGER.info("stopped" if status == 0 else f"stopped with exit status {status}")
    return status

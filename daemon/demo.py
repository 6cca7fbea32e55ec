"""I/O. `treadwell demo`: the whole story on a virtual treadmill and strap, in about a minute.

The demo runs the real daemon (`Daemon`) on the virtual Bluetooth world, against an MQTT
broker (see `treadwell.daemon.demo_broker`). A scripted run of about twenty minutes plays at a
speed-up, and the post-run prompts the rules schedule come at demo-sized offsets, so the
whole story (warm-up, incline, form cue, hydration, stretch, the later reminder and the
check-in) is told in about a minute. What the terminal shows is what a dashboard would see:
the view is an ordinary MQTT subscriber to the daemon's topics.

On a broker of one's own the demo is a guest that leaves nothing behind (see
`demo_broker`); the terminal view is `demo_view.DemoView`. Ctrl-C stops it at any point.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from treadwell.daemon.app import Daemon
from treadwell.daemon.clock import Clock
from treadwell.daemon.config import Settings
from treadwell.daemon.demo_broker import (
    DEMO_BASE_TOPIC,
    DEMO_CLIENT_ID,
    DEMO_TREADMILL,
    DemoError,
    clean_up,
    clear_leftovers,
    embedded_broker,
    parse_broker,
    reach_broker,
    watch,
)
from treadwell.daemon.demo_view import DemoView
from treadwell.daemon.store import StateStoreError, Store
from treadwell.daemon.virtual_env import virtual_world

if TYPE_CHECKING:
    from collections.abc import Coroutine

__all__ = ["DEMO_BASE_TOPIC", "EXIT_FAILURE", "EXIT_INTERRUPTED", "DemoError", "run_demo"]

_LOGGER = logging.getLogger(__name__)

# Demo-sized offsets (in demo time): the later hydration reminder and the check-in.
DEMO_HYDRATION_REMINDER_S = 600.0
DEMO_CHECKIN_S = 900.0
DEMO_STOP_TIMEOUT_S = 60.0
# The scripted run lasts 20 demo minutes; give the story generous slack before giving up.
DEMO_STORY_S = 1200.0 + DEMO_STOP_TIMEOUT_S + DEMO_CHECKIN_S
_TIMEOUT_FACTOR = 3.0
_MIN_TIMEOUT_S = 30.0
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
"""Ctrl-C (or SIGTERM): the shell's status for a command ended by SIGINT."""
_STOP_WAIT_S = 15.0


def demo_settings(
    *, host: str, port: int, back_pain: str, speedup: float, state_dir: Path
) -> Settings:
    """The daemon's settings for the demo: virtual world, automation on, short offsets."""
    return Settings(
        mqtt={
            "host": host,
            "port": port,
            "base_topic": DEMO_BASE_TOPIC,
            "client_id": DEMO_CLIENT_ID,
            "discovery": True,
        },
        ble={"backend": "virtual", "speedup": speedup, "virtual_profile": "demo"},
        treadmills=[{"name": DEMO_TREADMILL, "automation_allowed": True, "max_incline_pct": 3.0}],
        straps=[{"name": "strap"}],
        rules={
            "hydration_reminder_after_s": DEMO_HYDRATION_REMINDER_S,
            "checkin_after_s": DEMO_CHECKIN_S,
            "stop_timeout_s": DEMO_STOP_TIMEOUT_S,
        },
        flags={"back_pain": back_pain},
        state_dir=state_dir,
        log_level="WARNING",
    )


def _keep_flag(state_dir: Path, back_pain: str) -> None:
    """Store the chosen flag, so a state directory kept from an earlier demo cannot win."""
    try:
        with Store.in_dir(state_dir) as store:
            store.save_flags(back_pain)
    except StateStoreError as exc:
        raise DemoError(str(exc)) from exc


async def run_demo(
    *,
    back_pain: str,
    speedup: float,
    broker: str | None,
    state_dir: Path | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Play the demo; returns the exit status (130 when interrupted)."""
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    try:
        return await _play(
            back_pain=back_pain,
            speedup=speedup,
            broker=broker,
            state_dir=state_dir,
            out=out,
            interrupted=interrupted,
        )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _play(
    *,
    back_pain: str,
    speedup: float,
    broker: str | None,
    state_dir: Path | None,
    out: TextIO,
    interrupted: asyncio.Event,
) -> int:
    async with contextlib.AsyncExitStack() as stack:
        if broker is None:
            host, port = await stack.enter_async_context(embedded_broker())
        else:
            host, port = parse_broker(broker)
        out.write(
            f"Treadwell demo: back-pain flag '{back_pain}', a 20-minute run at {speedup:g}x, "
            f"MQTT at {host}:{port} (topics {DEMO_BASE_TOPIC}/#)\n"
        )
        out.flush()
        if not await _until(reach_broker(host, port, out), interrupted):
            out.write("\nDemo interrupted before it started.\n")
            return EXIT_INTERRUPTED
        if not await _until(clear_leftovers(host, port), interrupted):
            out.write("\nDemo interrupted before it started.\n")
            return EXIT_INTERRUPTED
        stack.push_async_callback(clean_up, host, port, out)
        if state_dir is None:
            state_dir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="treadwell-demo-"))
            )
        _keep_flag(state_dir, back_pain)
        settings = demo_settings(
            host=host, port=port, back_pain=back_pain, speedup=speedup, state_dir=state_dir
        )
        world, settings = await stack.enter_async_context(virtual_world(settings))
        view = DemoView(out, DEMO_BASE_TOPIC, tty=out.isatty())
        done, stop = asyncio.Event(), asyncio.Event()
        daemon = Daemon(settings, backend=world.backend, clock=Clock(speedup))
        limit = max(_MIN_TIMEOUT_S, DEMO_STORY_S / speedup * _TIMEOUT_FACTOR)
        watcher = asyncio.create_task(watch(host, port, view, done))
        runner = asyncio.create_task(daemon.run(stop))
        ended = asyncio.create_task(done.wait())
        halted = asyncio.create_task(interrupted.wait())
        try:
            finished, _ = await asyncio.wait(
                {ended, halted, runner, watcher},
                timeout=limit,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for task in (ended, halted):
                task.cancel()
            stop.set()
            await _stop_daemon(runner)
            watcher.cancel()
            await asyncio.wait({watcher})
        failure = _failure(runner) or _failure(watcher)
        if failure is not None:
            out.write(f"\nThe demo failed: {failure}\n")
            return EXIT_FAILURE
        if halted in finished and ended not in finished:
            out.write("\n\nDemo interrupted.\n")
            return EXIT_INTERRUPTED
        if ended not in finished:
            out.write(f"\nThe demo did not finish within {limit:.0f} s: something is wrong.\n")
            return EXIT_FAILURE
        out.write(view.summary())
    return 0


def _failure(task: asyncio.Task[None]) -> str | None:
    """What a finished task died of, if it died of something."""
    if not task.done() or task.cancelled() or task.exception() is None:
        return None
    return f"{type(task.exception()).__name__}: {task.exception()}"


async def _until(coro: Coroutine[Any, Any, object], interrupted: asyncio.Event) -> bool:
    """Await `coro` unless Ctrl-C comes first (then cancel it); returns whether it finished."""
    work = asyncio.ensure_future(coro)
    halted = asyncio.ensure_future(interrupted.wait())
    try:
        await asyncio.wait({work, halted}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        halted.cancel()
    if work.done():
        work.result()
        return True
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work
    return False


async def _stop_daemon(runner: asyncio.Task[None]) -> None:
    """Wait for the daemon's clean stop; cancel it if it takes too long (broker gone)."""
    try:
        async with asyncio.timeout(_STOP_WAIT_S):
            await asyncio.wait({runner})
    except TimeoutError:
        runner.cancel()
        await asyncio.wait({runner})

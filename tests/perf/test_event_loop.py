"""The daemon never blocks its event loop, and publishes state only when it changes.

The whole daemon runs in-process on the virtual world against a real mosquitto, the way
`tests/daemon/test_app.py` runs it. Blocking is caught two ways while it works through a run:
asyncio's debug mode reports every callback or task step that holds the loop longer than
`slow_callback_duration` (set far above anything non-blocking code takes, so only a real
blocking call trips it), and the usual blocking suspects (`time.sleep`, synchronous DNS and
connects) are wrapped to record any call made on the loop's own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.mqtt_client import Received, subscriber
from treadwell.daemon.app import Daemon
from treadwell.daemon.clock import Clock
from treadwell.daemon.config import Settings
from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.treadmill import TreadmillConfig
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.mqtt, pytest.mark.perf]

SPEEDUP = 60.0
TREADMILL = "Perf Treadmill"
# Two minutes of running, a minute paused, then Stop: a whole run in about 3 s.
RUN = RunProfile.of([(120.0, 9.0), (60.0, 0.0)])
# Far above what any non-blocking step takes, even on a busy machine; a blocking call
# (a sleep, a synchronous network round trip, a long fsync) shows up well above it.
SLOW_CALLBACK_S = 0.5


def settings_for(
    broker: Mosquitto, state_dir: Path, speedup: float = SPEEDUP, **mqtt: object
) -> Settings:
    return Settings(
        mqtt={"host": broker.host, "port": broker.port, "base_topic": "tw", **mqtt},
        ble={"backend": "virtual", "speedup": speedup},
        treadmills=[{"name": "treadmill", "match_name": TREADMILL}],
        rules={"run_start_s": 5.0, "stop_timeout_s": 30.0},
        flags={"back_pain": "ache"},
        state_dir=state_dir,
    )


@contextlib.asynccontextmanager
async def running(settings: Settings, world: VirtualWorld) -> AsyncIterator[Daemon]:
    daemon = Daemon(settings, backend=world.backend, clock=Clock(settings.ble.speedup))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    try:
        yield daemon
    finally:
        stop.set()
        async with asyncio.timeout(15):
            await task


class LoopGuard:
    """Records calls to blocking functions made on the thread of a running event loop."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        self._monkeypatch = monkeypatch

    def watch(self, owner: object, name: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        def guarded(*args: object, **kwargs: object) -> object:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop()
                self.calls.append(f"{name}{args!r} on {threading.current_thread().name}")
            return original(*args, **kwargs)

        self._monkeypatch.setattr(owner, name, guarded)


def hydration_prompt(messages: list[Received]) -> bool:
    return any(m.topic == "tw/prompt" and b'"hydration"' in m.payload for m in messages)


async def test_a_whole_run_never_blocks_the_event_loop(
    mosquitto: Mosquitto,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK_S
    caplog.set_level(logging.WARNING, logger="asyncio")
    guard = LoopGuard(monkeypatch)
    for owner, name in ((time, "sleep"), (socket, "getaddrinfo"), (socket, "create_connection")):
        guard.watch(owner, name)
    async with (
        subscriber(mosquitto, "tw/#") as sub,
        VirtualWorld(speedup=SPEEDUP) as world,
    ):
        await world.add_treadmill(
            TreadmillConfig(name=TREADMILL, profile=RUN, advertising_interval_ms=20)
        )
        async with running(settings_for(mosquitto, tmp_path), world):
            await sub.wait_for(hydration_prompt, "the hydration prompt after the run", 30)
    loop.set_debug(False)

    slow = [r.getMessage() for r in caplog.records if r.name == "asyncio" and "took" in r.msg]
    assert slow == []
    assert guard.calls == []
    kinds = [json.loads(m.payload)["kind"] for m in sub.on("tw/prompt")]
    assert "warmup" in kinds  # the run really ran: prompts, SQLite and the scheduler all did work


async def test_a_treadmill_repeating_the_same_reading_publishes_its_state_once(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    notifications = 0

    async with subscriber(mosquitto, "tw/#") as sub, VirtualWorld() as world:
        # No profile: the belt stands still and every record is the same.
        treadmill = await world.add_treadmill(
            TreadmillConfig(name=TREADMILL, notify_interval_s=0.1, advertising_interval_ms=20)
        )
        send = treadmill.notify

        async def counted(characteristic: Any, value: bytes, *, skip: Any = None) -> None:
            # Count what the treadmill really sends to the daemon (idle belt: data only).
            nonlocal notifications
            if treadmill.connections:
                notifications += 1
            await send(characteristic, value, skip=skip)

        treadmill.notify = counted  # type: ignore[method-assign]
        settings = settings_for(mosquitto, tmp_path, 1.0, max_state_rate_hz=50.0)
        async with running(settings, world):
            await sub.wait_for(has_reading, "the first reading's state")
            published = len(sub.on("tw/treadmill/state"))
            seen = notifications
            async with asyncio.timeout(15):
                while notifications < seen + 20:
                    await asyncio.sleep(0.05)
            assert len(sub.on("tw/treadmill/state")) == published


def has_reading(messages: list[Received]) -> bool:
    return any(
        m.topic == "tw/treadmill/state" and json.loads(m.payload)["speed_kmh"] is not None
        for m in messages
    )

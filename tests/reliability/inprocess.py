"""The real `Daemon` in-process on a virtual world the test controls, for Bluetooth faults.

A subprocess daemon builds its own virtual devices, so a test cannot switch its treadmill off
or make its control point misbehave at a chosen moment, nor read what the treadmill was sent.
These helpers run the same `Daemon` class in the test's loop instead, on devices the test
holds, against a real mosquitto, with a sped-up clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import TYPE_CHECKING

from treadwell.daemon.app import Daemon
from treadwell.daemon.clock import Clock
from treadwell.daemon.config import Settings
from treadwell.drivers.virtual.strap import StrapConfig, VirtualStrap
from treadwell.drivers.virtual.treadmill import TreadmillConfig, VirtualTreadmill
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto
    from treadwell.drivers.virtual.profile import RunProfile

TREADMILL_NAME = "Fault Treadmill"
STRAP_NAME = "Fault Strap"


def settings_for(
    broker: Mosquitto, state_dir: Path, speedup: float, *, back_pain: str = "ache", **rules: float
) -> Settings:
    """Daemon settings: the virtual devices by name, automation allowed, `rules` overrides."""
    return Settings(
        mqtt={"host": broker.host, "port": broker.port, "base_topic": "tw", "client_id": "tw-f"},
        ble={"backend": "virtual", "speedup": speedup},
        treadmills=[
            {"name": "treadmill", "match_name": TREADMILL_NAME, "automation_allowed": True}
        ],
        straps=[{"name": "strap", "match_name": STRAP_NAME}],
        rules={"stop_timeout_s": 60.0, **rules},
        flags={"back_pain": back_pain},
        state_dir=state_dir,
    )


@dataclasses.dataclass(frozen=True)
class Devices:
    """The test's virtual world and the devices in it."""

    world: VirtualWorld
    treadmill: VirtualTreadmill
    strap: VirtualStrap


@contextlib.asynccontextmanager
async def devices(
    speedup: float, profile: RunProfile | None, *, treadmill_hr: bool = True
) -> AsyncIterator[Devices]:
    """A virtual treadmill playing `profile` and a strap following it."""
    async with VirtualWorld(speedup=speedup) as world:
        treadmill = await world.add_treadmill(
            TreadmillConfig(
                name=TREADMILL_NAME,
                profile=profile,
                advertising_interval_ms=20,
                include_heart_rate=treadmill_hr,
            )
        )
        strap = await world.add_strap(
            StrapConfig(name=STRAP_NAME, follow=treadmill, advertising_interval_ms=20)
        )
        yield Devices(world, treadmill, strap)


@contextlib.asynccontextmanager
async def running(settings: Settings, world: VirtualWorld) -> AsyncIterator[Daemon]:
    """The daemon on `world` until the block ends (then stopped cleanly)."""
    daemon = Daemon(settings, backend=world.backend, clock=Clock(world.speedup))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    try:
        yield daemon
    finally:
        stop.set()
        async with asyncio.timeout(20):
            await task

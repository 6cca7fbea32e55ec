"""D-row "stops notifying instead of reporting speed 0": the daemon ends the run on silence."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from tests.support.mqtt_client import subscriber
from treadwell.daemon.app import Daemon
from treadwell.daemon.clock import Clock
from treadwell.daemon.config import Settings
from treadwell.drivers.virtual.treadmill import TreadmillConfig
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt

SPEEDUP = 120.0


async def test_a_deck_that_falls_silent_instead_of_stopping_ends_the_run(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = Settings(
        mqtt={"host": mosquitto.host, "port": mosquitto.port, "base_topic": "sd"},
        ble={"backend": "virtual", "speedup": SPEEDUP},
        treadmills=[{"name": "deck", "match_name": "Silent Deck"}],
        rules={"stop_timeout_s": 120.0},
        state_dir=tmp_path,
    )
    async with VirtualWorld(speedup=SPEEDUP) as world:
        treadmill = await world.add_treadmill(
            TreadmillConfig(
                name="Silent Deck", silent_when_stopped=True, advertising_interval_ms=20
            )
        )
        treadmill.set_belt(9.0)
        daemon = Daemon(settings, backend=world.backend, clock=Clock(SPEEDUP))
        stop = asyncio.Event()
        async with subscriber(mosquitto, "sd/deck/state") as sub:
            task = asyncio.create_task(daemon.run(stop))
            try:
                await sub.wait_for(
                    lambda _m: any(s.get("running") for s in sub.json_on("sd/deck/state")),
                    "the run to start",
                    timeout=120,
                )
                # The belt stops without a word: no status, no speed 0, just no more data.
                treadmill.running, treadmill.speed_kmh = False, 0.0
                channel = daemon.channels["deck"]
                async with asyncio.timeout(120):
                    while daemon.house.slot("deck").engine.running:
                        await asyncio.sleep(0.1)
            finally:
                stop.set()
                async with asyncio.timeout(30):
                    await task

    assert daemon.house.slot("deck").engine.run_id is None
    assert channel.connected

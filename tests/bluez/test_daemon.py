"""The whole daemon on BlueZ: the emulated treadmill behind the kernel, prompts on mosquitto."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import pytest

from tests.support.mqtt_client import subscriber
from treadwell.daemon.app import Daemon
from treadwell.daemon.clock import Clock
from treadwell.daemon.config import Settings
from treadwell.drivers.backend import BleBackend
from treadwell.drivers.codec.ftms import ControlOp
from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from pathlib import Path

    from tests.bluez.bench import BluezBench
    from tests.support.mosquitto import Mosquitto
    from tests.support.mqtt_client import Received

pytestmark = [pytest.mark.bluez, pytest.mark.mqtt]

# The rules' clock and the treadmill's run go this much faster than real time; Bluetooth does
# not (a notification every 50 ms is what BlueZ sees).
SPEEDUP = 20.0
TREADMILL_NAME = "BlueZ Treadmill"
# Long enough (in real time) for the daemon to find and connect through BlueZ mid-run.
LONG_RUN = RunProfile.of([(1800.0, 9.0), (120.0, 0.0)])
WAIT_S = 120.0


def _settings(broker: Mosquitto, state_dir: Path) -> Settings:
    return Settings(
        mqtt={"host": broker.host, "port": broker.port, "base_topic": "twb", "client_id": "twb"},
        ble={"backend": "bleak"},
        treadmills=[
            {
                "name": "treadmill",
                "match_name": TREADMILL_NAME,
                "automation_allowed": True,
                "max_incline_pct": 3.0,
            }
        ],
        flags={"back_pain": "ache"},
        state_dir=state_dir,
    )


def _prompt_kinds(messages: list[Received]) -> list[object]:
    return [json.loads(m.payload)["kind"] for m in messages if m.topic == "twb/prompt"]


async def test_daemon_over_bluez_sets_the_warmup_incline_and_publishes_the_prompts(
    bluez: BluezBench, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    treadmill = await bluez.add_treadmill(
        TreadmillConfig(name=TREADMILL_NAME, profile=LONG_RUN), speedup=SPEEDUP
    )
    daemon = Daemon(_settings(mosquitto, tmp_path), backend=BleBackend(), clock=Clock(SPEEDUP))
    stop = asyncio.Event()
    async with subscriber(mosquitto, "twb/#") as sub:
        task = asyncio.create_task(daemon.run(stop))
        try:
            await sub.wait_for(
                lambda m: "incline" in _prompt_kinds(m), "the incline prompt", WAIT_S
            )
            await sub.wait_for(
                lambda _: treadmill.incline_pct == pytest.approx(2.5), "the deck at 2.5 %", WAIT_S
            )
        finally:
            stop.set()
            async with asyncio.timeout(30):
                await task

    assert _prompt_kinds(sub.messages)[:2] == ["warmup", "incline"]
    sets = [r for r in treadmill.control_log if r.op == ControlOp.SET_TARGET_INCLINATION]
    assert [r.incline_pct for r in sets] == [2.5]
    assert not [r for r in treadmill.control_log if r.op == ControlOp.SET_TARGET_SPEED]

"""`max_incline_pct = 0` is a supported "never incline" setting, end to end.

The whole daemon runs on the virtual treadmill against a real mosquitto, with Home Assistant
discovery on, automation allowed and an aching back (the case where it would otherwise set
the incline).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.daemon.test_app import has_kind, kinds, running, settings_for, virtual_devices
from tests.support.mqtt_client import publish, subscriber
from treadwell.drivers.codec.ftms import ControlOp

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt


async def test_a_zero_ceiling_runs_with_discovery_and_never_sets_an_incline(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = settings_for(mosquitto, tmp_path)
    never = settings.treadmills[0].model_copy(update={"max_incline_pct": 0.0})
    settings = settings.model_copy(update={"treadmills": [never]})
    assert settings.mqtt.discovery
    async with (
        subscriber(mosquitto, "#") as sub,
        virtual_devices() as (world, treadmill),
        running(settings, world),
    ):
        discovery = await sub.wait_on("homeassistant/device/tw-test_treadmill/config")
        await sub.wait_for(has_kind("warmup"), "the warm-up prompt")
        await publish(mosquitto, "tw/treadmill/incline/set", b"2.5")
        await sub.wait_on("tw/error")
        await sub.wait_for(has_kind("stretch"), "the stretch prompt", timeout=30)
    assert "target_incline" not in json.loads(discovery[-1].payload)["components"]
    assert "incline" not in kinds(sub)
    assert not [r for r in treadmill.control_log if r.op == ControlOp.SET_TARGET_INCLINATION]
    assert all(s.get("suggested_incline_pct") is None for s in sub.json_on("tw/treadmill/state"))
    assert "no incline may be set" in json.loads(sub.on("tw/error")[0].payload)["error"]

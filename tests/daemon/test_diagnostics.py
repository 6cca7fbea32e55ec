"""On connecting, the daemon remembers what a treadmill can do and publishes it for HA."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.daemon.test_app import running, settings_for, virtual_devices
from tests.support.mqtt_client import subscriber
from treadwell.daemon.device_memory import DeviceMemory

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt


async def test_a_connected_treadmill_is_remembered_and_its_check_published(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = settings_for(mosquitto, tmp_path)
    async with (
        subscriber(mosquitto, "tw/treadmill/diagnostics", "homeassistant/device/#") as sub,
        virtual_devices(profile=None) as (world, treadmill),
        running(settings, world),
    ):
        await sub.wait_on("tw/treadmill/diagnostics")
        await sub.wait_for(
            lambda _: any(m.topic.endswith("_treadmill/config") for m in sub.messages),
            "the treadmill's discovery",
        )
    diagnostics = sub.json_on("tw/treadmill/diagnostics")[-1]
    assert diagnostics["summary"]
    assert diagnostics["report"]["can_set_incline"] is True
    assert diagnostics["report"]["incline_range"] is not None
    discovery = next(
        json.loads(m.payload) for m in sub.messages if m.topic.endswith("_treadmill/config")
    )
    check = discovery["components"]["diagnostics"]
    assert check["state_topic"] == "tw/treadmill/diagnostics"
    assert check["entity_category"] == "diagnostic"
    remembered = DeviceMemory(tmp_path).recall(treadmill.name, treadmill.address)
    assert remembered is not None
    assert remembered.can_set_incline

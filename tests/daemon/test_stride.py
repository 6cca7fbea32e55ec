"""A run on the virtual footpod with long, slow strides: one overstride cue, then a shoe note.

The whole daemon on the virtual world (treadmill, strap and footpod, real bleak code paths)
against a real mosquitto; the footpod's cadence stays low while the belt runs at 10 km/h,
so each step is long (about 1.2 m at 140 steps a minute).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import pytest

from tests.daemon.test_app import (
    STRAP_NAME,
    TREADMILL_NAME,
    kinds,
    running,
    settings_for,
)
from tests.support.mqtt_client import subscriber
from treadwell.daemon.config import Settings
from treadwell.drivers.virtual.footpod import FootpodConfig
from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt

FOOTPOD_NAME = "Test Footpod"
# Fifteen minutes at 10 km/h (the shoe note needs five of stride data), then the belt stops.
LONG_RUN = RunProfile.of([(900.0, 10.0), (150.0, 0.0)])


@contextlib.asynccontextmanager
async def world_with_footpod(cadence_spm: int | None) -> AsyncIterator[VirtualWorld]:
    async with VirtualWorld(speedup=120.0) as world:
        treadmill = await world.add_treadmill(
            TreadmillConfig(name=TREADMILL_NAME, profile=LONG_RUN, advertising_interval_ms=20)
        )
        await world.add_strap(
            StrapConfig(name=STRAP_NAME, follow=treadmill, advertising_interval_ms=20)
        )
        await world.add_footpod(
            FootpodConfig(
                name=FOOTPOD_NAME,
                follow=treadmill,
                cadence_spm=cadence_spm,
                advertising_interval_ms=20,
            )
        )
        yield world


@pytest.mark.parametrize(("cadence", "cues"), [(140, 1), (None, 0)])
async def test_long_slow_strides_bring_one_overstride_cue_and_a_shoe_note(
    mosquitto: Mosquitto, tmp_path: Path, cadence: int | None, cues: int
) -> None:
    settings = settings_for(mosquitto, tmp_path, back_pain="none", stop_timeout_s=60.0)
    settings = Settings.model_validate(
        {**settings.model_dump(), "footpods": [{"name": "footpod", "match_name": FOOTPOD_NAME}]}
    )
    async with (
        subscriber(mosquitto, "tw/#") as sub,
        world_with_footpod(cadence) as world,
        running(settings, world),
    ):
        await sub.wait_on("tw/run", timeout=60)
        # The run summary lists every prompt of the run, the post-run ones included.
        expected = {p for p in sub.json_on("tw/run")[-1]["prompt_ids"] if ":" in p}
        ended_ids = {i for i in expected if i.endswith((":stretch", ":shoes"))}
        await sub.wait_for(
            lambda _: ended_ids <= {p["id"] for p in sub.json_on("tw/prompt")},
            f"the post-run prompts {sorted(ended_ids)}",
        )
    seen = kinds(sub)
    assert seen.count("stride") == cues
    assert seen.count("shoes") == cues
    states = sub.json_on("tw/treadmill/state")
    cadences = {s["cadence_spm"] for s in states if s.get("running") and s.get("cadence_spm")}
    if cadence is not None:
        assert cadences == {cadence}
    assert any(s.get("stride_length_m") for s in states)

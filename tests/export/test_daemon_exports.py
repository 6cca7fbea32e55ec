"""The whole daemon on the virtual world: a run leaves samples, files and totals behind.

A real `Daemon` with a sped-up clock, a virtual treadmill and strap, a real mosquitto, and an
ordinary subscriber in Home Assistant's place.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, cast

import pytest
from garmin_fit_sdk import Decoder, Stream

from tests.support.mqtt_client import subscriber
from treadwell.daemon.app import Daemon
from treadwell.daemon.clock import Clock
from treadwell.daemon.config import Settings
from treadwell.daemon.samples_db import load_samples
from treadwell.daemon.store import Store
from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt

SPEEDUP = 120.0
# Seven minutes at 9 km/h with the deck at 2 %, then the belt stops.
RUN = RunProfile.of([(420.0, 9.0), (120.0, 0.0)])


def settings_for(broker: Mosquitto, tmp_path: Path) -> Settings:
    return Settings(
        mqtt={"host": broker.host, "port": broker.port, "base_topic": "tw", "client_id": "tw-x"},
        ble={"backend": "virtual", "speedup": SPEEDUP},
        treadmills=[{"name": "treadmill", "match_name": "Export Treadmill"}],
        straps=[{"name": "strap", "match_name": "Export Strap"}],
        rules={"stop_timeout_s": 120.0},
        export={"directory": str(tmp_path / "exports"), "formats": ["fit", "csv"]},
        state_dir=tmp_path / "state",
    )


async def test_a_run_is_sampled_exported_and_counted_in_the_runners_totals(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = settings_for(mosquitto, tmp_path)
    async with (
        subscriber(mosquitto, "tw/#", "homeassistant/#") as sub,
        VirtualWorld(speedup=SPEEDUP) as world,
    ):
        treadmill = await world.add_treadmill(
            TreadmillConfig(name="Export Treadmill", profile=RUN, advertising_interval_ms=20)
        )
        await world.add_strap(
            StrapConfig(name="Export Strap", follow=treadmill, advertising_interval_ms=20)
        )
        daemon = Daemon(settings, backend=world.backend, clock=Clock(SPEEDUP))
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        try:

            def exported(_: object) -> bool:
                totals = sub.json_on("tw/runners/default/totals")
                last = totals[-1]["last_run"] if totals else None
                return last is not None and len(last["files"]) == 2

            await sub.wait_for(exported, "the totals naming both exported files", timeout=60)
        finally:
            stop.set()
            async with asyncio.timeout(15):
                await task

    totals = sub.json_on("tw/runners/default/totals")[-1]
    assert totals["all_time"]["runs"] == totals["today"]["runs"] == 1
    with Store.in_dir(settings.state_dir, read_only=True) as store:
        (run,) = store.runs()
    assert run.summary is not None
    assert totals["all_time"]["distance_km"] == pytest.approx(
        run.summary["distance_m"] / 1000, abs=0.001
    )
    async with subscriber(mosquitto, "tw/runners/#") as later:  # retained for a newcomer
        (kept,) = await later.wait_on("tw/runners/default/totals")
    assert kept.retain
    assert json.loads(kept.payload) == totals

    config_topics = [m.topic for m in sub.messages if m.topic.startswith("homeassistant/")]
    assert "homeassistant/device/tw-x_runner_default/config" in config_topics

    samples = load_samples(settings.state_dir, run.id)
    assert len(samples) > 60
    assert any(s.heart_rate_bpm for s in samples)
    fit_path = next(p for p in totals["last_run"]["files"] if p.endswith(".fit"))
    messages, errors = Decoder(
        Stream.from_byte_array(bytearray((tmp_path / fit_path).read_bytes()))
    ).read()
    assert errors == []
    fit = cast("dict[str, list[dict[str, Any]]]", messages)
    assert len(fit["record_mesgs"]) == len(samples)
    (session,) = fit["session_mesgs"]
    assert session["sub_sport"] == "treadmill"
    assert session["total_distance"] == pytest.approx(run.summary["distance_m"], abs=15)
    assert totals["runner"] == "default"

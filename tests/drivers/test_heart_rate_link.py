from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from tests.drivers.links import FAST, Recorder, running, target
from treadwell.drivers.arbiter import HeartRateArbiter, HeartRateChoice
from treadwell.drivers.codec.heart_rate import SensorContact
from treadwell.drivers.discovery import DeviceKind
from treadwell.drivers.events import (
    HeartRateReading,
    HeartRateSource,
    LinkConnected,
    LinkDisconnected,
    LinkEvent,
    RscReading,
    TreadmillReading,
)
from treadwell.drivers.footpod import FootpodLink
from treadwell.drivers.heart_rate import HeartRateLink
from treadwell.drivers.treadmill import TreadmillLink
from treadwell.drivers.virtual.footpod import FootpodConfig
from treadwell.drivers.virtual.strap import StrapConfig

if TYPE_CHECKING:
    from treadwell.drivers.virtual.world import VirtualWorld

pytestmark = pytest.mark.looptime


async def test_strap_reports_heart_rate_contact_and_rr_intervals(world: VirtualWorld) -> None:
    strap = await world.add_strap(StrapConfig(name="Chest", heart_rate_bpm=120))
    recorder = Recorder()
    link = HeartRateLink(
        target(DeviceKind.HEART_RATE), label="strap", backend=world.backend, on_event=recorder
    )

    async with running(link):
        connected = await recorder.wait_for(LinkConnected)
        reading = await recorder.wait_for(HeartRateReading)
        strap.contact = False
        no_contact = await recorder.wait_for(
            HeartRateReading,
            lambda r: r.measurement.sensor_contact is SensorContact.NO_CONTACT,
        )

    assert (connected.kind, connected.name, connected.info) == (
        DeviceKind.HEART_RATE,
        "Chest",
        None,
    )
    measurement = reading.measurement
    assert reading.device == "strap"
    assert measurement.heart_rate_bpm == 120
    assert measurement.sensor_contact is SensorContact.CONTACT
    assert len(measurement.rr_intervals_ms) == 1
    assert measurement.rr_intervals_ms[0] == pytest.approx(500.0, abs=1.0)
    assert no_contact.measurement.rr_intervals_ms == ()


async def test_footpod_reports_speed_cadence_and_stride(world: VirtualWorld) -> None:
    await world.add_footpod(FootpodConfig(speed_kmh=10.8))
    recorder = Recorder()
    link = FootpodLink(
        target(DeviceKind.FOOTPOD), label="footpod", backend=world.backend, on_event=recorder
    )

    async with running(link):
        await recorder.wait_for(LinkConnected)
        reading = await recorder.wait_for(RscReading)

    measurement = reading.measurement
    assert measurement.speed_mps == pytest.approx(3.0, abs=0.01)
    assert measurement.cadence_spm > 0
    assert measurement.stride_length_m == pytest.approx(
        3.0 * 60 / measurement.cadence_spm, abs=0.02
    )
    assert measurement.running


async def test_strap_link_reconnects_after_the_strap_is_switched_off_and_on(
    world: VirtualWorld,
) -> None:
    strap = await world.add_strap()
    recorder = Recorder()
    link = HeartRateLink(
        target(DeviceKind.HEART_RATE),
        label="strap",
        backend=world.backend,
        on_event=recorder,
        backoff=FAST,
    )

    async with running(link):
        await recorder.wait_for(LinkConnected)
        await asyncio.sleep(15)
        mark = recorder.mark()
        await strap.power_off()
        await recorder.wait_for(LinkDisconnected, after=mark)
        await asyncio.sleep(30)
        await strap.power_on()
        await recorder.wait_for(HeartRateReading, after=recorder.mark(), timeout=2.0)


def test_a_link_refuses_a_target_of_another_kind(world: VirtualWorld) -> None:
    with pytest.raises(ValueError, match="needs a heart_rate target"):
        HeartRateLink(
            target(DeviceKind.FOOTPOD), label="strap", backend=world.backend, on_event=print
        )


async def test_strap_heart_rate_wins_over_the_treadmills(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    await world.add_strap(StrapConfig(heart_rate_bpm=150))
    loop = asyncio.get_running_loop()
    arbiter = HeartRateArbiter()
    recorder = Recorder()

    def feed(event: LinkEvent) -> None:
        recorder(event)
        if isinstance(event, HeartRateReading):
            arbiter.on_strap(event.measurement, loop.time())
        elif isinstance(event, TreadmillReading):
            arbiter.on_treadmill(event.data.heart_rate_bpm, loop.time())

    treadmill_link = TreadmillLink(
        target(DeviceKind.TREADMILL), backend=world.backend, on_event=feed
    )
    strap_link = HeartRateLink(
        target(DeviceKind.HEART_RATE), label="strap", backend=world.backend, on_event=feed
    )
    async with running(treadmill_link), running(strap_link):
        treadmill.set_belt(5.0)
        machine = await recorder.wait_for(TreadmillReading, lambda r: bool(r.data.heart_rate_bpm))
        await recorder.wait_for(HeartRateReading)
        choice = arbiter.choose(loop.time())

    assert machine.heart_rate_source is HeartRateSource.TREADMILL
    assert machine.data.heart_rate_bpm != 150
    assert choice == HeartRateChoice(150, HeartRateSource.STRAP)

"""Scripted runs on a virtual clock, with a strap and a footpod following the treadmill."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from tests.drivers.virtual.virtual_helpers import Inbox, client_for
from treadwell.drivers.codec.ftms import (
    MachineStatusOp,
    TreadmillData,
    parse_machine_status,
    parse_treadmill_data,
)
from treadwell.drivers.codec.heart_rate import SensorContact, parse_heart_rate_measurement
from treadwell.drivers.codec.rsc import parse_rsc_measurement
from treadwell.drivers.uuids import (
    HEART_RATE_MEASUREMENT_UUID,
    MACHINE_STATUS_UUID,
    RSC_MEASUREMENT_UUID,
    TREADMILL_DATA_UUID,
)
from treadwell.drivers.virtual.footpod import FootpodConfig
from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from treadwell.drivers.virtual.treadmill import VirtualTreadmill

pytestmark = pytest.mark.looptime

THIRTY_MINUTES = RunProfile.of([(600, 5.0, 1.0), (600, 9.0, 2.0), (600, 6.0, None)])


async def _records_until_stopped(
    treadmill: VirtualTreadmill, world: VirtualWorld
) -> list[TreadmillData]:
    data, status = Inbox(), Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(MACHINE_STATUS_UUID, status)
        await client.start_notify(TREADMILL_DATA_UUID, data)
        while True:
            event = parse_machine_status(await status.next(within_s=4000))
            if event.op == MachineStatusOp.STOPPED_OR_PAUSED and not event.paused:
                break
    return [parse_treadmill_data(packet) for packet in data.items]


# Few no-op cycles per clock jump: Bumble needs only a handful of loop turns to settle.
@pytest.mark.looptime(noop_cycles=3)
async def test_a_thirty_minute_scripted_run_plays_on_the_virtual_clock(world: VirtualWorld) -> None:
    loop = asyncio.get_running_loop()
    treadmill = await world.add_treadmill(TreadmillConfig(profile=THIRTY_MINUTES))
    started = loop.time()
    records = await _records_until_stopped(treadmill, world)
    assert loop.time() - started == pytest.approx(1800, abs=3)
    speeds = {record.speed_kmh for record in records}
    assert {5.0, 9.0, 6.0} <= speeds
    running = [r for r in records if r.speed_kmh]
    # 5, 9 and 6 km/h for ten minutes each: 833 + 1500 + 1000 m.
    assert running[-1].total_distance_m == pytest.approx(3333, abs=15)
    assert running[-1].elapsed_time_s == pytest.approx(1800, abs=3)
    assert max(r.incline_pct or 0 for r in records) == 2.0
    assert not treadmill.running


async def test_a_sped_up_world_plays_the_profile_faster() -> None:
    loop = asyncio.get_running_loop()
    async with VirtualWorld(speedup=10) as world:
        treadmill = await world.add_treadmill(TreadmillConfig(profile=RunProfile.steady(5, 6.0)))
        started = loop.time()
        records = await _records_until_stopped(treadmill, world)
        spent = loop.time() - started
    assert spent == pytest.approx(30, abs=1)
    assert max(r.total_distance_m or 0 for r in records) == pytest.approx(500, abs=10)


async def test_a_pause_segment_pauses_and_resumes_the_belt(world: VirtualWorld) -> None:
    profile = RunProfile.of([(30, 5.0), (10, 0.0), (30, 5.0)])
    treadmill = await world.add_treadmill(TreadmillConfig(profile=profile))
    status = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(MACHINE_STATUS_UUID, status)
        ops: list[tuple[int, bool | None]] = []
        while not ops or ops[-1] != (MachineStatusOp.STOPPED_OR_PAUSED, False):
            event = parse_machine_status(await status.next(within_s=200))
            ops.append((event.op, event.paused))
    assert (MachineStatusOp.STOPPED_OR_PAUSED, True) in ops
    pause_at = ops.index((MachineStatusOp.STOPPED_OR_PAUSED, True))
    assert (MachineStatusOp.STARTED_OR_RESUMED, None) in ops[pause_at:]


async def test_the_strap_heart_rate_follows_the_treadmill_effort(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    strap = await world.add_strap(StrapConfig(follow=treadmill))
    beats = Inbox()
    async with client_for(world, strap.address) as client:
        await client.start_notify(HEART_RATE_MEASUREMENT_UUID, beats)
        resting = parse_heart_rate_measurement(await beats.next())
        treadmill.set_belt(10.0)
        treadmill.set_incline_by_console(4.0)
        await asyncio.sleep(180)
        working = parse_heart_rate_measurement(await beats.fresh())
        strap.contact = False
        off = parse_heart_rate_measurement(await beats.fresh())
    assert resting.heart_rate_bpm == 70
    assert 150 <= working.heart_rate_bpm <= 165
    assert working.sensor_contact == SensorContact.CONTACT
    assert len(working.rr_intervals_ms) == 1
    assert working.rr_intervals_ms[0] == pytest.approx(60_000 / working.heart_rate_bpm, abs=2)
    assert off.sensor_contact == SensorContact.NO_CONTACT
    assert off.rr_intervals_ms == ()


async def test_a_strap_without_a_treadmill_keeps_its_heart_rate(world: VirtualWorld) -> None:
    strap = await world.add_strap(StrapConfig(heart_rate_bpm=88))
    beats = Inbox()
    async with client_for(world, strap.address) as client:
        await client.start_notify(HEART_RATE_MEASUREMENT_UUID, beats)
        values = [parse_heart_rate_measurement(await beats.next()).heart_rate_bpm for _ in range(5)]
    assert values == [88] * 5


@pytest.mark.parametrize(
    ("speed_kmh", "running"),
    [(0.0, False), (5.0, False), (7.5, True), (12.0, True)],
)
async def test_the_footpod_reports_the_belt_speed_cadence_and_gait(
    world: VirtualWorld, speed_kmh: float, running: bool
) -> None:
    treadmill = await world.add_treadmill()
    treadmill.set_belt(speed_kmh)
    footpod = await world.add_footpod(FootpodConfig(follow=treadmill))
    steps = Inbox()
    async with client_for(world, footpod.address) as client:
        await client.start_notify(RSC_MEASUREMENT_UUID, steps)
        first = parse_rsc_measurement(await steps.next())
        later = [parse_rsc_measurement(await steps.next()) for _ in range(10)][-1]
    assert later.speed_mps * 3.6 == pytest.approx(speed_kmh, abs=0.02)
    assert later.running is running
    assert (later.cadence_spm > 0) is (speed_kmh > 0)
    assert (later.total_distance_m or 0) - (first.total_distance_m or 0) == pytest.approx(
        speed_kmh / 3.6 * 10, abs=0.3
    )
    if speed_kmh > 0:
        assert later.stride_length_m == pytest.approx(
            later.speed_mps * 60 / later.cadence_spm, abs=0.02
        )


async def test_twenty_treadmills_and_twenty_straps_share_one_world(world: VirtualWorld) -> None:
    treadmills = [await world.add_treadmill() for _ in range(20)]
    straps = [await world.add_strap(StrapConfig(follow=t)) for t in treadmills]
    for index, treadmill in enumerate(treadmills):
        treadmill.set_belt(3.0 + index * 0.5)
    inboxes = [Inbox() for _ in treadmills]
    clients = [client_for(world, device.address) for device in [*treadmills, *straps]]
    for client in clients:
        await client.connect()
    for client, inbox in zip(clients, inboxes, strict=False):
        await client.start_notify(TREADMILL_DATA_UUID, inbox)
    speeds = [parse_treadmill_data(await inbox.next()).speed_kmh for inbox in inboxes]
    for client in clients:
        await client.disconnect()
    assert speeds == [3.0 + index * 0.5 for index in range(20)]


async def test_a_scripted_strap_plays_its_heart_rate_steps(world: VirtualWorld) -> None:
    strap = await world.add_strap(StrapConfig(script=((10.0, 90), (10.0, 130), (5.0, 110))))
    beats = Inbox()
    async with client_for(world, strap.address) as client:
        await client.start_notify(HEART_RATE_MEASUREMENT_UUID, beats)
        await asyncio.sleep(40)
    values = [parse_heart_rate_measurement(packet).heart_rate_bpm for packet in beats.items]
    steps = [value for i, value in enumerate(values) if i == 0 or value != values[i - 1]]
    assert steps == [90, 130, 110]

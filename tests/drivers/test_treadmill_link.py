from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from tests.drivers.links import FAST, Recorder, running, target
from treadwell.drivers.codec.ftms import (
    InclinationRange,
    MachineFeature,
    MachineStatusOp,
    SpeedRange,
    TargetSetting,
    TrainingStatusCode,
)
from treadwell.drivers.discovery import DeviceKind
from treadwell.drivers.errors import InclineNotSupportedError, NotConnectedError
from treadwell.drivers.events import (
    HeartRateSource,
    LinkConnected,
    MachineStatusChanged,
    TrainingStatusChanged,
    TreadmillReading,
)
from treadwell.drivers.incline import InclineLimits
from treadwell.drivers.treadmill import TreadmillLink
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from treadwell.drivers.virtual.world import VirtualWorld

pytestmark = pytest.mark.looptime

LIMITS = InclineLimits(0.0, 6.0)


def make_link(world: VirtualWorld, recorder: Recorder, name: str | None = None) -> TreadmillLink:
    return TreadmillLink(
        target(DeviceKind.TREADMILL, name=name),
        backend=world.backend,
        on_event=recorder,
        backoff=FAST,
    )


async def test_connect_reads_features_and_ranges(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    recorder = Recorder()
    link = make_link(world, recorder)

    async with running(link):
        connected = await recorder.wait_for(LinkConnected)

    info = connected.info
    assert info is not None
    assert (connected.device, connected.kind) == ("treadmill", DeviceKind.TREADMILL)
    assert (info.name, info.address) == (treadmill.name, treadmill.address)
    assert MachineFeature.INCLINATION in info.features.features
    assert info.features.target_settings == TargetSetting.SPEED | TargetSetting.INCLINATION
    assert info.speed_range == SpeedRange(0.8, 20.0, 0.1)
    assert info.incline_range == InclinationRange(0.0, 15.0, 0.5)
    assert info.can_set_incline
    assert not link.connected


async def test_readings_stream_with_the_belt_speed(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    recorder = Recorder()
    link = make_link(world, recorder)

    async with running(link):
        await recorder.wait_for(LinkConnected)
        treadmill.set_belt(9.5)
        reading = await recorder.wait_for(
            TreadmillReading, lambda r: r.data.speed_kmh == pytest.approx(9.5)
        )
        assert link.connected
        assert link.belt_running

    assert reading.device == "treadmill"
    assert reading.data.incline_pct == pytest.approx(0.0)
    assert reading.data.heart_rate_bpm is not None
    assert reading.heart_rate_source is HeartRateSource.TREADMILL


async def test_split_records_are_reassembled_into_whole_readings(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(split_records=True))
    recorder = Recorder()
    link = make_link(world, recorder)

    async with running(link):
        await recorder.wait_for(LinkConnected)
        treadmill.set_belt(8.0)
        reading = await recorder.wait_for(
            TreadmillReading, lambda r: r.data.speed_kmh == pytest.approx(8.0)
        )
        mark = recorder.mark()
        await recorder.wait_for(TreadmillReading, after=mark)

    whole = reading.data
    assert not whole.more_data
    assert None not in (
        whole.total_distance_m,
        whole.incline_pct,
        whole.total_energy_kcal,
        whole.heart_rate_bpm,
        whole.elapsed_time_s,
    )
    # One event per record, never one per notification.
    assert all(not r.data.more_data for r in recorder.of(TreadmillReading))


async def test_truncated_packets_still_give_the_fields_that_arrived(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(truncate_at=12))
    recorder = Recorder()
    link = make_link(world, recorder)

    async with running(link):
        await recorder.wait_for(LinkConnected)
        treadmill.set_belt(7.0)
        reading = await recorder.wait_for(
            TreadmillReading, lambda r: r.data.speed_kmh == pytest.approx(7.0)
        )

    assert reading.data.truncated
    assert reading.data.missing_fields


async def test_garbage_notifications_are_skipped_with_a_warning(
    world: VirtualWorld, caplog: pytest.LogCaptureFixture
) -> None:
    treadmill = await world.add_treadmill()
    recorder = Recorder()
    link = make_link(world, recorder)

    with caplog.at_level(logging.WARNING, logger="treadwell.drivers.treadmill"):
        async with running(link):
            await recorder.wait_for(LinkConnected)
            treadmill.garbage_next = 2
            treadmill.set_belt(6.0)
            await recorder.wait_for(
                TreadmillReading, lambda r: r.data.speed_kmh == pytest.approx(6.0)
            )
            assert link.connected

    assert any("treadmill: skipped a bad Treadmill Data packet" in m for m in caplog.messages)


async def test_console_actions_arrive_as_status_events(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    recorder = Recorder()
    link = make_link(world, recorder)

    async with running(link):
        await recorder.wait_for(LinkConnected)
        treadmill.press_start()
        started = await recorder.wait_for(MachineStatusChanged)
        training = await recorder.wait_for(TrainingStatusChanged)
        treadmill.press_stop(pause=True)
        paused = await recorder.wait_for(
            MachineStatusChanged, lambda e: e.status.op == MachineStatusOp.STOPPED_OR_PAUSED
        )

    assert started.status.op == MachineStatusOp.STARTED_OR_RESUMED
    assert training.status.status == TrainingStatusCode.MANUAL_MODE
    assert paused.status.paused is True
    assert not link.belt_running


async def test_missing_inclination_range_drops_the_incline_target(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(incline_range=None))
    recorder = Recorder()
    link = make_link(world, recorder)

    async with running(link):
        connected = await recorder.wait_for(LinkConnected)
        with pytest.raises(InclineNotSupportedError, match="change the incline on the console"):
            await link.set_incline(2.5, limits=LIMITS)

    assert connected.info is not None
    assert TargetSetting.INCLINATION not in connected.info.features.target_settings
    assert not connected.info.can_set_incline
    assert treadmill.control_log == []


async def test_commands_while_disconnected_say_so(world: VirtualWorld) -> None:
    link = make_link(world, Recorder())

    with pytest.raises(NotConnectedError, match="reconnects by itself"):
        await link.set_incline(2.0, limits=LIMITS)


async def test_events_are_also_available_as_an_async_iterator(world: VirtualWorld) -> None:
    await world.add_treadmill()
    link = make_link(world, Recorder())

    async with running(link):
        async for event in link.events():
            if isinstance(event, LinkConnected):
                break

    assert event.device == "treadmill"

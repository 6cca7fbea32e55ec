"""Each deviation of the quirk table against a virtual deck that misbehaves the same way."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import pytest

from tests.drivers.links import FAST, Recorder, running, target
from treadwell.drivers.codec.ftms import (
    ControlOp,
    InclinationRange,
    encode_request_control,
    encode_start_or_resume,
)
from treadwell.drivers.control import ControlPoint
from treadwell.drivers.discovery import DeviceKind
from treadwell.drivers.errors import (
    ControlPointTimeoutError,
    InclineNotSupportedError,
    OpCodeNotSupportedError,
)
from treadwell.drivers.events import LinkConnected, TreadmillReading
from treadwell.drivers.incline import InclineLimits
from treadwell.drivers.quirks import Quirks, quirks_for
from treadwell.drivers.treadmill import TreadmillLink
from treadwell.drivers.uuids import CONTROL_POINT_UUID
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from treadwell.drivers.virtual.treadmill import VirtualTreadmill
    from treadwell.drivers.virtual.world import VirtualWorld

pytestmark = pytest.mark.looptime

LIMITS = InclineLimits(-5.0, 8.0)


class Rig:
    def __init__(self, treadmill: VirtualTreadmill, link: TreadmillLink, recorder: Recorder):
        self.treadmill = treadmill
        self.link = link
        self.recorder = recorder

    def ops(self) -> list[int]:
        return [int(request.op) for request in self.treadmill.control_log]

    async def belt(self, speed_kmh: float) -> None:
        self.treadmill.set_belt(speed_kmh)
        await self.recorder.wait_for(
            TreadmillReading, lambda r: (r.data.speed_kmh or 0) > 0, after=self.recorder.mark()
        )


async def until(condition: Callable[[], bool], within_s: float = 30.0) -> None:
    async with asyncio.timeout(within_s):
        while not condition():
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def rig_for(
    world: VirtualWorld, config: TreadmillConfig, control_timeout_s: float = 2.0
) -> AsyncIterator[Rig]:
    treadmill = await world.add_treadmill(config)
    recorder = Recorder()
    tl = TreadmillLink(
        target(DeviceKind.TREADMILL),
        backend=world.backend,
        on_event=recorder,
        backoff=FAST,
        control_timeout_s=control_timeout_s,
    )
    async with running(tl):
        await recorder.wait_for(LinkConnected)
        yield Rig(treadmill, tl, recorder)


async def test_deck_granting_control_at_the_second_request_is_asked_twice(
    world: VirtualWorld,
) -> None:
    async with rig_for(world, TreadmillConfig(grant_on_second_request=True)) as rig:
        sent = await rig.link.set_incline(2.0, limits=LIMITS)

        assert sent == 2.0
        assert rig.ops() == [
            ControlOp.REQUEST_CONTROL,
            ControlOp.REQUEST_CONTROL,
            ControlOp.SET_TARGET_INCLINATION,
        ]
        assert rig.link.control_granted


async def test_listed_deck_is_asked_for_control_twice_before_it_refuses(
    world: VirtualWorld,
) -> None:
    config = TreadmillConfig(name="WELLFIT TM", grant_on_second_request=True)
    async with rig_for(world, config) as rig:
        await rig.link.set_incline(2.0, limits=LIMITS)

        assert rig.ops()[:2] == [ControlOp.REQUEST_CONTROL, ControlOp.REQUEST_CONTROL]
        assert rig.treadmill.target_incline_pct == 2.0


async def test_control_point_answers_as_notifications_are_understood(world: VirtualWorld) -> None:
    async with rig_for(world, TreadmillConfig(control_point_notifies=True)) as rig:
        sent = await rig.link.set_incline(3.0, limits=LIMITS)
        reached = await rig.link.wait_for_incline(30.0)

    assert sent == 3.0
    assert reached


async def test_start_resume_is_never_sent_to_a_deck_it_breaks(world: VirtualWorld) -> None:
    config = TreadmillConfig(name="FS-A1B2C3", start_resume_breaks=True)
    async with rig_for(world, config) as rig:
        await rig.belt(4.0)
        await rig.link.set_incline(2.0, limits=LIMITS)
        control = ControlPoint(label="t", timeout_s=2.0, on_granted=lambda _g: None)
        control.configure(rig.link.info.quirks if rig.link.info else Quirks())
        client = rig.link._require_client()
        with pytest.raises(OpCodeNotSupportedError, match="console"):
            await control.command(
                client,
                ControlOp.START_OR_RESUME,
                encode_start_or_resume(),
                what="start",
                device="d",
            )
        await rig.link.set_incline(3.0, limits=LIMITS)

        assert ControlOp.START_OR_RESUME not in rig.ops()
        assert rig.treadmill.running
        assert rig.treadmill.target_incline_pct == 3.0


async def test_the_start_resume_misbehaviour_is_real(world: VirtualWorld) -> None:
    # The virtual deck really breaks: what the table protects against.
    async with rig_for(
        world, TreadmillConfig(start_resume_breaks=True), control_timeout_s=2.0
    ) as rig:
        await rig.belt(4.0)
        client = rig.link._require_client()
        await client.write_gatt_char(CONTROL_POINT_UUID, encode_request_control(), response=True)
        await until(lambda: rig.treadmill.controller_granted)
        await until(lambda: not rig.treadmill._pending)
        await client.write_gatt_char(CONTROL_POINT_UUID, encode_start_or_resume(), response=True)
        await until(lambda: rig.treadmill.paused)

        with pytest.raises(ControlPointTimeoutError):
            await rig.link.set_incline(2.0, limits=LIMITS)


@pytest.mark.parametrize(
    ("config", "why"),
    [
        (TreadmillConfig(incline_range=InclinationRange(0.0, 0.0, 0.0)), "empty incline range"),
        (TreadmillConfig(incline_range=None), "no Supported Inclination Range"),
    ],
)
async def test_deck_without_a_usable_range_has_no_incline_control_said_plainly(
    world: VirtualWorld, config: TreadmillConfig, why: str
) -> None:
    async with rig_for(world, config) as rig:
        info = rig.link.info
        assert info is not None
        assert not info.can_set_incline
        assert any(why in note for note in info.notes)
        with pytest.raises(InclineNotSupportedError, match=why):
            await rig.link.set_incline(2.0, limits=LIMITS)

    assert rig.ops() == []


async def test_deck_refusing_targets_on_a_stopped_belt_gets_it_once_the_belt_runs(
    world: VirtualWorld,
) -> None:
    async with rig_for(world, TreadmillConfig(reject_set_while_stopped=True)) as rig:
        pending = asyncio.create_task(rig.link.set_incline(2.0, limits=LIMITS))
        await rig.recorder.wait_for(TreadmillReading, after=rig.recorder.mark())
        await rig.recorder.wait_for(TreadmillReading, after=rig.recorder.mark())
        assert not pending.done()
        await rig.belt(5.0)
        sent = await asyncio.wait_for(pending, 30.0)

        assert sent == 2.0
        assert rig.ops() == [
            ControlOp.REQUEST_CONTROL,
            ControlOp.SET_TARGET_INCLINATION,
            ControlOp.SET_TARGET_INCLINATION,
        ]
        assert rig.link.learned.set_incline_only_while_running
        assert rig.treadmill.target_incline_pct == 2.0
        assert rig.link.info is not None
        assert any("once the belt runs" in note for note in rig.link.info.notes)


async def test_deck_refusing_half_steps_gets_whole_percent_from_then_on(
    world: VirtualWorld,
) -> None:
    async with rig_for(world, TreadmillConfig(reject_half_steps=True)) as rig:
        first = await rig.link.set_incline(2.5, limits=LIMITS)
        second = await rig.link.set_incline(4.5, limits=LIMITS)

        assert (first, second) == (3.0, 5.0)
        wire = [r.incline_pct for r in rig.treadmill.control_log if r.op == 0x03]
        assert wire == [2.5, 3.0, 5.0]
        assert rig.link.learned.incline_step_pct == 1.0
        assert rig.link.info is not None
        assert rig.link.info.incline_range == InclinationRange(0.0, 15.0, 1.0)


async def test_learned_deviations_survive_a_reconnect(world: VirtualWorld) -> None:
    async with rig_for(world, TreadmillConfig(reject_half_steps=True)) as rig:
        await rig.link.set_incline(2.5, limits=LIMITS)
        mark = rig.recorder.mark()
        await rig.treadmill.drop_link()
        await rig.recorder.wait_for(LinkConnected, after=mark, timeout=30)

        assert rig.link.info is not None
        assert rig.link.info.incline_range == InclinationRange(0.0, 15.0, 1.0)
        assert await rig.link.set_incline(1.5, limits=LIMITS) == 2.0


async def test_a_negative_request_never_reaches_a_deck_without_decline(
    world: VirtualWorld,
) -> None:
    # This deck reads a negative target as unsigned and climbs to its top.
    config = TreadmillConfig(name="TM6500", negative_target_to_max=True)
    async with rig_for(world, config) as rig:
        sent = await rig.link.set_incline(-2.0, limits=LIMITS)

        assert sent == 0.0
        assert all((r.incline_pct or 0) >= 0 for r in rig.treadmill.control_log)
        assert rig.treadmill.target_incline_pct == 0.0


async def test_deck_that_never_reports_incline_shows_the_commanded_one_as_assumed(
    world: VirtualWorld,
) -> None:
    async with rig_for(world, TreadmillConfig(report_incline=False)) as rig:
        before = await rig.recorder.wait_for(TreadmillReading, after=rig.recorder.mark())
        await rig.link.set_incline(3.0, limits=LIMITS)
        after = await rig.recorder.wait_for(TreadmillReading, after=rig.recorder.mark())

    assert (before.data.incline_pct, before.incline_assumed) == (None, False)
    assert (after.data.incline_pct, after.incline_assumed) == (3.0, True)


async def test_deck_reporting_incline_is_never_marked_assumed(world: VirtualWorld) -> None:
    async with rig_for(world, TreadmillConfig(incline_rate_pct_per_s=2.0)) as rig:
        await rig.link.set_incline(3.0, limits=LIMITS)
        await rig.link.wait_for_incline(30.0)
        reading = await rig.recorder.wait_for(TreadmillReading, after=rig.recorder.mark())

    assert (reading.data.incline_pct, reading.incline_assumed) == (3.0, False)


async def test_deck_reporting_its_target_as_position_is_learned_and_marked_assumed(
    world: VirtualWorld,
) -> None:
    config = TreadmillConfig(incline_reports_target=True, incline_rate_pct_per_s=0.5)
    async with rig_for(world, config) as rig:
        before = await rig.recorder.wait_for(TreadmillReading, after=rig.recorder.mark())
        await rig.link.set_incline(6.0, limits=LIMITS)
        jumped = await rig.recorder.wait_for(
            TreadmillReading, lambda r: r.data.incline_pct == 6.0, after=rig.recorder.mark()
        )
        deck_position = rig.treadmill.incline_pct

    assert not before.incline_assumed
    assert jumped.incline_assumed
    assert deck_position < 6.0  # the deck itself is still on its way
    assert rig.link.learned.incline_reports_target
    assert rig.link.info is not None
    assert any("reports the target" in note for note in rig.link.info.notes)


@pytest.mark.parametrize("step_m", [0, 10])
async def test_stuck_or_coarse_distance_is_integrated_from_speed(
    world: VirtualWorld, step_m: int
) -> None:
    async with rig_for(world, TreadmillConfig(distance_step_m=step_m)) as rig:
        await rig.belt(12.0)  # 3.33 m/s
        readings: list[TreadmillReading] = []
        while len(readings) < 40:
            readings.append(
                await rig.recorder.wait_for(TreadmillReading, after=rig.recorder.mark())
            )
        deck_m = rig.treadmill.total_distance_m

    distances = [r.data.total_distance_m or 0 for r in readings]
    assert distances == sorted(distances)
    assert readings[-1].distance_estimated
    assert any(d % 10 for d in distances[-10:])  # finer than the deck's tens
    assert abs(distances[-1] - deck_m) <= 12.0


async def test_a_deck_with_honest_distance_keeps_its_own(world: VirtualWorld) -> None:
    async with rig_for(world, TreadmillConfig()) as rig:
        await rig.belt(12.0)
        readings = [
            await rig.recorder.wait_for(TreadmillReading, after=rig.recorder.mark())
            for _ in range(15)
        ]

    assert not any(r.distance_estimated for r in readings)


def test_listed_models_are_never_sent_start_resume() -> None:
    assert all(
        quirks_for(name).no_start_resume for name in ("FS-BT-T4", "FS-1", "SF-T8", "KS-1", "BH-x")
    )

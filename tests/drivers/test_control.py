from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import pytest

from tests.drivers.links import FAST, Recorder, running, target
from treadwell.drivers.codec.ftms import (
    ControlOp,
    InclinationRange,
    MachineStatusOp,
    ResultCode,
    TargetSetting,
)
from treadwell.drivers.discovery import DeviceKind
from treadwell.drivers.errors import (
    ControlNotPermittedError,
    ControlPointError,
    ControlPointTimeoutError,
    DriverError,
    InclineOutOfLimitsError,
    InvalidParameterError,
    NotConnectedError,
    OpCodeNotSupportedError,
    OperationFailedError,
)
from treadwell.drivers.events import (
    ControlStateChanged,
    InclineConfirmed,
    LinkConnected,
    MachineStatusChanged,
    TreadmillReading,
)
from treadwell.drivers.incline import InclineLimits
from treadwell.drivers.treadmill import TreadmillLink
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from treadwell.drivers.virtual.treadmill import VirtualTreadmill
    from treadwell.drivers.virtual.world import VirtualWorld

pytestmark = pytest.mark.looptime

LIMITS = InclineLimits(-5.0, 8.0)


class Rig:
    """A treadmill, a connected link to it and the link's events."""

    def __init__(self, treadmill: VirtualTreadmill, link: TreadmillLink, recorder: Recorder):
        self.treadmill = treadmill
        self.link = link
        self.recorder = recorder

    def ops(self) -> list[int]:
        return [int(request.op) for request in self.treadmill.control_log]


@contextlib.asynccontextmanager
async def rig_for(world: VirtualWorld, config: TreadmillConfig | None = None) -> AsyncIterator[Rig]:
    # Built inside the test, not in a fixture: looptime's virtual clock starts with the test
    # body, and timers armed before it would sit on the real clock.
    config = config or TreadmillConfig()
    treadmill = await world.add_treadmill(config)
    recorder = Recorder()
    link = TreadmillLink(
        target(DeviceKind.TREADMILL),
        backend=world.backend,
        on_event=recorder,
        backoff=FAST,
        control_timeout_s=2.0,
    )
    async with running(link):
        await recorder.wait_for(LinkConnected)
        yield Rig(treadmill, link, recorder)


@pytest.mark.parametrize(
    ("incline_range", "requested", "sent"),
    [
        (InclinationRange(0.0, 15.0, 0.5), 2.3, 2.5),
        (InclinationRange(0.0, 15.0, 0.5), 2.7, 2.5),
        (InclinationRange(0.0, 15.0, 1.0), 2.5, 3.0),
        (InclinationRange(0.0, 15.0, 1.0), 2.4, 2.0),
        (InclinationRange(-3.0, 15.0, 0.5), -2.0, -2.0),
        (InclinationRange(-3.0, 15.0, 0.5), -4.5, -3.0),
    ],
)
async def test_incline_is_snapped_sent_after_request_control_and_confirmed(
    world: VirtualWorld, incline_range: InclinationRange, requested: float, sent: float
) -> None:
    config = TreadmillConfig(incline_range=incline_range, incline_rate_pct_per_s=5.0)
    async with rig_for(world, config) as rig:
        result = await rig.link.set_incline(requested, limits=LIMITS)
        confirmed = await rig.recorder.wait_for(InclineConfirmed)
        assert rig.link.last_incline_pct == pytest.approx(sent)

    assert result == pytest.approx(sent)
    assert confirmed.incline_pct == pytest.approx(sent)
    assert rig.ops() == [ControlOp.REQUEST_CONTROL, ControlOp.SET_TARGET_INCLINATION]
    assert rig.treadmill.control_log[1].incline_pct == pytest.approx(sent)
    assert rig.recorder.of(ControlStateChanged)[0].granted


async def test_wait_for_incline_follows_the_slow_deck(world: VirtualWorld) -> None:
    async with rig_for(world) as rig:
        await rig.link.set_incline(4.0, limits=LIMITS)
        assert await rig.link.wait_for_incline(timeout_s=10.0)
        assert rig.treadmill.incline_pct == pytest.approx(4.0)


async def test_control_is_requested_only_once_for_several_changes(world: VirtualWorld) -> None:
    async with rig_for(world) as rig:
        await rig.link.set_incline(1.0, limits=LIMITS)
        await rig.link.set_incline(2.0, limits=LIMITS)

        assert rig.ops() == [
            ControlOp.REQUEST_CONTROL,
            ControlOp.SET_TARGET_INCLINATION,
            ControlOp.SET_TARGET_INCLINATION,
        ]
        assert rig.link.control_granted


async def test_incline_outside_the_runners_limits_sends_nothing(world: VirtualWorld) -> None:
    async with rig_for(world) as rig:
        with pytest.raises(InclineOutOfLimitsError, match="configured limits"):
            await rig.link.set_incline(9.0, limits=LIMITS)

        assert rig.treadmill.control_log == []


async def test_setting_incline_never_touches_speed(world: VirtualWorld) -> None:
    async with rig_for(world) as rig:
        rig.treadmill.set_belt(10.0)
        await rig.link.set_incline(3.0, limits=LIMITS)
        await rig.link.wait_for_incline(timeout_s=10.0)

        assert ControlOp.SET_TARGET_SPEED not in rig.ops()
        assert rig.treadmill.speed_kmh == pytest.approx(10.0)


async def test_speed_changes_only_on_an_explicit_call(world: VirtualWorld) -> None:
    async with rig_for(world) as rig:
        rig.treadmill.set_belt(5.0)

        sent = await rig.link.set_speed(7.25)

        assert sent == pytest.approx(7.3)
        assert rig.ops() == [ControlOp.REQUEST_CONTROL, ControlOp.SET_TARGET_SPEED]
        assert rig.treadmill.speed_kmh == pytest.approx(7.3)


async def test_speed_outside_the_range_is_refused(world: VirtualWorld) -> None:
    async with rig_for(world) as rig:
        with pytest.raises(DriverError, match="outside"):
            await rig.link.set_speed(25.0)
        assert rig.treadmill.control_log == []


@pytest.mark.parametrize(
    ("code", "error", "advice"),
    [
        (ResultCode.OP_CODE_NOT_SUPPORTED, OpCodeNotSupportedError, "does not support"),
        (ResultCode.INVALID_PARAMETER, InvalidParameterError, "outside its supported range"),
        (ResultCode.OPERATION_FAILED, OperationFailedError, "belt runs"),
        (ResultCode.CONTROL_NOT_PERMITTED, ControlNotPermittedError, "close other fitness apps"),
    ],
)
async def test_every_result_code_becomes_a_typed_error_with_advice(
    world: VirtualWorld, code: ResultCode, error: type[ControlPointError], advice: str
) -> None:
    async with rig_for(world) as rig:
        rig.treadmill.force_result = code

        with pytest.raises(error, match=advice) as caught:
            await rig.link.set_incline(2.0, limits=LIMITS)

        assert caught.value.result == code
        assert caught.value.request_op == ControlOp.REQUEST_CONTROL
        assert not rig.link.control_granted


async def test_unknown_result_code_is_still_a_control_point_error(world: VirtualWorld) -> None:
    async with rig_for(world) as rig:
        rig.treadmill.force_result = 0x09  # type: ignore[assignment]

        with pytest.raises(ControlPointError, match="unknown result code 0x09"):
            await rig.link.set_incline(2.0, limits=LIMITS)


async def test_result_of_the_set_itself_is_reported(world: VirtualWorld) -> None:
    async with rig_for(world) as rig:
        await rig.link.set_incline(1.0, limits=LIMITS)
        rig.treadmill.set_belt(5.0)
        await rig.recorder.wait_for(TreadmillReading, lambda r: (r.data.speed_kmh or 0) > 0)
        rig.treadmill.force_result = ResultCode.OPERATION_FAILED

        with pytest.raises(OperationFailedError) as caught:
            await rig.link.set_incline(2.0, limits=LIMITS)

        assert caught.value.request_op == ControlOp.SET_TARGET_INCLINATION


async def test_a_silent_treadmill_times_out(world: VirtualWorld) -> None:
    async with rig_for(world) as rig:
        rig.treadmill.ignore_control_point = True

        with pytest.raises(ControlPointTimeoutError, match="did not answer"):
            await rig.link.set_incline(2.0, limits=LIMITS)

        rig.treadmill.ignore_control_point = False
        assert await rig.link.set_incline(2.0, limits=LIMITS) == pytest.approx(2.0)


async def test_lost_control_is_reported_and_requested_again_on_the_next_change(
    world: VirtualWorld,
) -> None:
    async with rig_for(world) as rig:
        await rig.link.set_incline(1.0, limits=LIMITS)
        mark = rig.recorder.mark()

        rig.treadmill.revoke_control()
        lost = await rig.recorder.wait_for(ControlStateChanged, after=mark)
        assert not lost.granted
        assert rig.ops() == [ControlOp.REQUEST_CONTROL, ControlOp.SET_TARGET_INCLINATION]

        await rig.link.set_incline(2.0, limits=LIMITS)
        assert rig.ops()[2:] == [ControlOp.REQUEST_CONTROL, ControlOp.SET_TARGET_INCLINATION]
        assert rig.link.control_granted


async def test_control_not_permitted_on_a_set_is_retried_once_after_request_control(
    world: VirtualWorld,
) -> None:
    async with rig_for(world) as rig:
        await rig.link.set_incline(1.0, limits=LIMITS)
        # The treadmill forgets us without telling (no 0xFF status): the set comes back 0x05.
        rig.treadmill._controller_link = None

        assert await rig.link.set_incline(2.0, limits=LIMITS) == pytest.approx(2.0)
        assert rig.ops()[2:] == [
            ControlOp.SET_TARGET_INCLINATION,
            ControlOp.REQUEST_CONTROL,
            ControlOp.SET_TARGET_INCLINATION,
        ]


async def test_slow_indications_within_the_timeout_are_fine(world: VirtualWorld) -> None:
    async with rig_for(world) as rig:
        rig.treadmill.slow_indications_s = 1.5

        assert await rig.link.set_incline(2.0, limits=LIMITS) == pytest.approx(2.0)


async def test_a_link_drop_during_a_request_fails_it_at_once(world: VirtualWorld) -> None:
    async with rig_for(world) as rig:
        rig.treadmill.ignore_control_point = True
        request = asyncio.create_task(rig.link.set_incline(2.0, limits=LIMITS))
        await asyncio.sleep(0.5)
        await rig.treadmill.drop_link()
        with pytest.raises(NotConnectedError, match="disconnected before it answered"):
            await request


async def test_a_console_change_cancels_the_pending_confirmation(world: VirtualWorld) -> None:
    async with rig_for(world) as rig:
        await rig.link.set_incline(6.0, limits=LIMITS)
        rig.treadmill.set_incline_by_console(1.0)
        await rig.recorder.wait_for(
            MachineStatusChanged, lambda e: e.status.op == MachineStatusOp.TARGET_INCLINE_CHANGED
        )
        assert not await rig.link.wait_for_incline(timeout_s=10.0)
        await asyncio.sleep(10)

    assert rig.recorder.of(InclineConfirmed) == []


async def test_an_unreached_incline_is_reported_after_the_timeout(world: VirtualWorld) -> None:
    config = TreadmillConfig(incline_rate_pct_per_s=0.1)
    async with rig_for(world, config) as rig:
        await rig.link.set_incline(6.0, limits=LIMITS)
        assert not await rig.link.wait_for_incline(timeout_s=5.0)


async def test_speed_cannot_be_set_without_a_speed_target(world: VirtualWorld) -> None:
    config = TreadmillConfig(targets=TargetSetting.INCLINATION)
    async with rig_for(world, config) as rig:
        with pytest.raises(DriverError, match="cannot set its speed"):
            await rig.link.set_speed(8.0)
        assert rig.link.info is not None
        assert rig.link.info.speed_range is None

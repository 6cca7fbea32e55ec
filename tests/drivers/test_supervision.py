from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import pytest

from tests.drivers.links import FAST, Recorder, running, target
from treadwell.drivers.backend import BleBackend
from treadwell.drivers.backoff import Backoff
from treadwell.drivers.codec.ftms import ControlOp, ResultCode
from treadwell.drivers.discovery import DeviceKind
from treadwell.drivers.events import (
    ControlStateChanged,
    LinkConnected,
    LinkDisconnected,
    TreadmillReading,
)
from treadwell.drivers.incline import InclineLimits
from treadwell.drivers.treadmill import TreadmillLink
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from treadwell.drivers.events import LinkEvent
    from treadwell.drivers.virtual.world import VirtualWorld

pytestmark = pytest.mark.looptime

LIMITS = InclineLimits(0.0, 6.0)


def make_link(backend: BleBackend, recorder: Recorder) -> TreadmillLink:
    return TreadmillLink(
        target(DeviceKind.TREADMILL), backend=backend, on_event=recorder, backoff=FAST
    )


async def test_a_dropped_link_reconnects_and_data_resumes(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(advertising_interval_ms=100))
    recorder = Recorder()
    link = make_link(world.backend, recorder)
    loop = asyncio.get_running_loop()

    async with running(link):
        await recorder.wait_for(LinkConnected)
        treadmill.set_belt(9.0)
        await asyncio.sleep(15)  # well past the link's stability window
        mark = recorder.mark()
        await treadmill.drop_link()
        dropped_at = loop.time()
        lost = await recorder.wait_for(LinkDisconnected, after=mark)
        back = await recorder.wait_for(LinkConnected, after=mark)
        reading = await recorder.wait_for(TreadmillReading, after=recorder.mark())
        resumed_after = loop.time() - dropped_at

    assert lost.device == "treadmill"
    assert "disconnected" in lost.reason
    assert back.address == treadmill.address
    assert reading.data.speed_kmh == pytest.approx(9.0)
    assert resumed_after < 2.0


async def test_a_power_cycled_treadmill_is_back_within_two_seconds_of_advertising(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill()
    recorder = Recorder()
    link = make_link(world.backend, recorder)
    loop = asyncio.get_running_loop()

    async with running(link):
        await recorder.wait_for(LinkConnected)
        await asyncio.sleep(15)
        mark = recorder.mark()
        await treadmill.power_off()
        await recorder.wait_for(LinkDisconnected, after=mark)
        assert not link.connected
        await asyncio.sleep(120)  # off for two minutes: several scan windows pass
        await treadmill.power_on()
        advertising_again = loop.time()
        treadmill.set_belt(6.0)
        await recorder.wait_for(LinkConnected, after=mark)
        await recorder.wait_for(
            TreadmillReading, lambda r: r.data.speed_kmh == pytest.approx(6.0), after=mark
        )
        back_after = loop.time() - advertising_again

    assert back_after < 2.0


async def test_control_is_requested_again_after_a_reconnect(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    recorder = Recorder()
    link = make_link(world.backend, recorder)

    async with running(link):
        await recorder.wait_for(LinkConnected)
        await link.set_incline(2.0, limits=LIMITS)
        await asyncio.sleep(15)
        mark = recorder.mark()
        await treadmill.drop_link()
        await recorder.wait_for(ControlStateChanged, lambda e: not e.granted, after=mark)
        await recorder.wait_for(ControlStateChanged, lambda e: e.granted, after=mark)
        assert link.control_granted
        assert treadmill.controller_granted
        await link.set_incline(3.0, limits=LIMITS)

    assert [int(r.op) for r in treadmill.control_log] == [
        ControlOp.REQUEST_CONTROL,
        ControlOp.SET_TARGET_INCLINATION,
        ControlOp.REQUEST_CONTROL,
        ControlOp.SET_TARGET_INCLINATION,
    ]


async def test_a_link_that_drops_right_after_connecting_backs_off(
    world: VirtualWorld, caplog: pytest.LogCaptureFixture
) -> None:
    treadmill = await world.add_treadmill()
    recorder = Recorder()
    link = TreadmillLink(
        target(DeviceKind.TREADMILL),
        backend=world.backend,
        on_event=recorder,
        backoff=Backoff(initial_s=1.0, max_s=8.0, jitter=0.0),
    )

    with caplog.at_level(logging.DEBUG, logger="treadwell.drivers.link"):
        async with running(link):
            for _ in range(4):
                mark = recorder.mark()
                await recorder.wait_for(LinkConnected, after=mark, timeout=30)
                await treadmill.drop_link()
                await recorder.wait_for(LinkDisconnected, after=mark)

    waits = [m for m in caplog.messages if "next attempt in" in m]
    assert waits[:3] == [
        "treadmill: next attempt in 1.0 s",
        "treadmill: next attempt in 2.0 s",
        "treadmill: next attempt in 4.0 s",
    ]


async def test_no_bluetooth_is_logged_with_advice_and_the_link_keeps_trying(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The real BlueZ backend: this machine has no D-Bus system socket.
    recorder = Recorder()
    link = make_link(BleBackend(), recorder)

    with caplog.at_level(logging.ERROR, logger="treadwell.drivers.link"):
        async with running(link) as task:
            await asyncio.sleep(10)
            assert not task.done()

    await asyncio.sleep(0)
    assert {t for t in asyncio.all_tasks() if t is not asyncio.current_task()} == set()
    errors = [m for m in caplog.messages if "is bluetoothd running" in m]
    assert len(errors) >= 2
    assert recorder.events == []


async def test_a_failing_event_handler_does_not_break_the_link(
    world: VirtualWorld, caplog: pytest.LogCaptureFixture
) -> None:
    treadmill = await world.add_treadmill()

    def fragile(event: LinkEvent) -> None:
        if isinstance(event, TreadmillReading):
            raise TypeError("consumer bug")

    link = TreadmillLink(
        target(DeviceKind.TREADMILL), backend=world.backend, on_event=fragile, backoff=FAST
    )

    async with running(link):
        treadmill.set_belt(5.0)
        async for event in link.events():
            if isinstance(event, TreadmillReading):
                break
        assert link.connected

    assert any("the event handler failed" in m for m in caplog.messages)


async def test_a_refused_control_request_after_reconnect_leaves_the_link_up(
    world: VirtualWorld, caplog: pytest.LogCaptureFixture
) -> None:
    treadmill = await world.add_treadmill()
    recorder = Recorder()
    link = make_link(world.backend, recorder)

    async with running(link):
        await recorder.wait_for(LinkConnected)
        await link.set_incline(2.0, limits=LIMITS)
        await asyncio.sleep(15)
        treadmill.force_result = ResultCode.CONTROL_NOT_PERMITTED
        mark = recorder.mark()
        await treadmill.drop_link()
        await recorder.wait_for(LinkConnected, after=mark)
        await recorder.wait_for(TreadmillReading, after=recorder.mark())
        assert link.connected
        assert not link.control_granted

    assert any("could not take control again after reconnecting" in m for m in caplog.messages)

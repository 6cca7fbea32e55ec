"""Link faults through the public bleak API: power cycles, drops, timeouts, unknown devices."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDeviceNotFoundError, BleakError

from tests.drivers.virtual.virtual_helpers import Inbox, client_for
from treadwell.drivers.codec.ftms import encode_request_control, parse_treadmill_data
from treadwell.drivers.uuids import (
    CONTROL_POINT_UUID,
    FITNESS_MACHINE_FEATURE_UUID,
    TREADMILL_DATA_UUID,
)
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from collections.abc import Callable

    from treadwell.drivers.virtual.treadmill import VirtualTreadmill

pytestmark = pytest.mark.looptime


def _disconnect_flag() -> tuple[asyncio.Event, Callable[[BleakClient], None]]:
    event = asyncio.Event()

    def on_disconnect(_client: BleakClient) -> None:
        event.set()

    return event, on_disconnect


async def test_power_off_drops_the_link_and_power_on_lets_it_reconnect(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    treadmill.set_belt(5.0)
    gone, on_disconnect = _disconnect_flag()
    client = client_for(world, treadmill.address, disconnected_callback=on_disconnect)
    await client.connect()
    await treadmill.power_off()
    async with asyncio.timeout(5):
        await gone.wait()
    assert not client.is_connected
    with pytest.raises(BleakDeviceNotFoundError):
        await client_for(world, treadmill.address, timeout=2.0).connect()
    await treadmill.power_on()
    data = Inbox()
    async with client_for(world, treadmill.address) as again:
        await again.start_notify(TREADMILL_DATA_UUID, data)
        assert parse_treadmill_data(await data.next()).speed_kmh is not None


async def test_a_dropped_link_keeps_advertising_and_loses_control(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    gone, on_disconnect = _disconnect_flag()
    answers = Inbox()
    async with client_for(world, treadmill.address, disconnected_callback=on_disconnect) as client:
        await client.start_notify(CONTROL_POINT_UUID, answers)
        await client.write_gatt_char(CONTROL_POINT_UUID, encode_request_control(), response=True)
        await answers.next()
        granted_before_drop = treadmill.controller_granted
        await treadmill.drop_link()
        async with asyncio.timeout(5):
            await gone.wait()
    assert granted_before_drop
    assert not treadmill.controller_granted
    async with client_for(world, treadmill.address, timeout=2.0) as again:
        assert again.is_connected


async def test_our_own_disconnect_fires_the_disconnected_callback(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    gone, on_disconnect = _disconnect_flag()
    async with client_for(world, treadmill.address, disconnected_callback=on_disconnect) as client:
        assert client.is_connected
    async with asyncio.timeout(5):
        await gone.wait()
    assert treadmill.connections == []


async def test_connecting_to_an_unknown_address_scans_then_raises_not_found(
    world: VirtualWorld,
) -> None:
    await world.add_treadmill()
    with pytest.raises(BleakDeviceNotFoundError) as raised:
        await client_for(world, "C0:00:00:00:99:99", timeout=3.0).connect()
    assert raised.value.identifier == "C0:00:00:00:99:99"


async def test_connecting_to_a_device_that_never_answers_times_out_and_recovers(
    world: VirtualWorld,
) -> None:
    absent = BLEDevice("C0:00:00:00:99:98", None, None)
    with pytest.raises(asyncio.TimeoutError):
        await BleakClient(absent, backend=world.backend.client, timeout=2.0).connect()
    treadmill = await world.add_treadmill()
    async with client_for(world, treadmill.address, timeout=2.0) as client:
        assert client.is_connected


async def test_link_loss_during_a_request_is_a_bleak_error_not_a_cancellation(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill()
    treadmill.slow_indications_s = 10.0
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(CONTROL_POINT_UUID, Inbox())

        reading = asyncio.Event()

        async def read_forever() -> None:
            while True:
                reading.set()
                await client.read_gatt_char(FITNESS_MACHINE_FEATURE_UUID)

        reader = asyncio.create_task(read_forever())
        await reading.wait()
        await treadmill.drop_link()
        with pytest.raises(BleakError):
            await reader
        with pytest.raises(BleakError, match="Not connected"):
            await client.read_gatt_char(FITNESS_MACHINE_FEATURE_UUID)


async def test_several_treadmills_stream_independently(world: VirtualWorld) -> None:
    treadmills: list[VirtualTreadmill] = [await world.add_treadmill() for _ in range(4)]
    for index, treadmill in enumerate(treadmills):
        treadmill.set_belt(4.0 + index)
    inboxes = [Inbox() for _ in treadmills]
    clients = [client_for(world, t.address) for t in treadmills]
    for client, inbox in zip(clients, inboxes, strict=True):
        await client.connect()
        await client.start_notify(TREADMILL_DATA_UUID, inbox)
    speeds = [parse_treadmill_data(await inbox.next()).speed_kmh for inbox in inboxes]
    for client in clients:
        await client.disconnect()
    assert speeds == [4.0, 5.0, 6.0, 7.0]


async def test_the_world_closes_without_leaving_tasks() -> None:
    async with VirtualWorld() as world:
        treadmill = await world.add_treadmill()
        await world.add_strap()
        async with client_for(world, treadmill.address) as client:
            await client.start_notify(TREADMILL_DATA_UUID, Inbox())
            await asyncio.sleep(3)
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_descriptors_stop_notify_name_and_mtu_work_like_bluez(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    treadmill.set_belt(5.0)
    data = Inbox()
    async with client_for(world, treadmill.address) as client:
        assert client.name == "Treadwell Virtual Treadmill"
        assert client.mtu_size == 517
        await client.pair()
        await client.unpair()
        await client.start_notify(TREADMILL_DATA_UUID, data)
        await data.next()
        characteristic = client.services.get_characteristic(TREADMILL_DATA_UUID)
        assert characteristic is not None
        cccd = characteristic.get_descriptor("2902")
        assert cccd is not None
        assert await client.read_gatt_descriptor(cccd.handle) == b"\x01\x00"
        await client.stop_notify(TREADMILL_DATA_UUID)
        assert await client.read_gatt_descriptor(cccd.handle) == b"\x00\x00"
        assert await data.nothing_within(3.0)
        await client.start_notify(TREADMILL_DATA_UUID, data)
        assert parse_treadmill_data(await data.next()).speed_kmh == 5.0
        await client.connect()  # already connected: nothing happens
        assert client.is_connected

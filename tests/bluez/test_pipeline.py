"""The VM's plumbing: a Bumble peripheral behind the kernel's vhci controller, plain bleak."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from bleak import BleakClient, BleakScanner
from bumble import gatt, hci
from bumble.core import AdvertisingData
from bumble.device import Device

from tests.bluez.links import open_sockets
from tests.bluez.vhci import HostController

if TYPE_CHECKING:
    from tests.bluez.bench import BluezBench

pytestmark = pytest.mark.bluez

_SERVICE_UUID = "7e1a0001-7ead-4e11-8000-00805f9b34fb"
_VALUE_UUID = "7e1a0002-7ead-4e11-8000-00805f9b34fb"
_NAME = "Treadwell Plumbing"
_ADDRESS = "C0:7E:AD:F0:00:01"
_LONG_VALUE = bytes(range(60))


async def _plain_peripheral(
    bench: BluezBench, value: bytes
) -> tuple[Device, gatt.Characteristic[bytes]]:
    controller = HostController("plain", link=bench.link)
    device = Device.with_hci(_NAME, hci.Address(_ADDRESS), controller, controller)
    characteristic = gatt.Characteristic(
        _VALUE_UUID,
        gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.NOTIFY,
        gatt.Characteristic.READABLE,
        value,
    )
    device.add_service(gatt.Service(_SERVICE_UUID, [characteristic]))
    await device.power_on()
    advertising = AdvertisingData(
        [(AdvertisingData.COMPLETE_LOCAL_NAME, _NAME.encode()), (AdvertisingData.FLAGS, b"\x06")]
    )
    await device.start_advertising(advertising_data=bytes(advertising), auto_restart=True)
    return device, characteristic


async def test_bleak_on_bluez_scans_connects_and_reads_a_bumble_peripheral(
    bluez: BluezBench,
) -> None:
    device, characteristic = await _plain_peripheral(bluez, b"treadwell")
    try:
        found = await BleakScanner.find_device_by_name(_NAME, timeout=30)
        assert found is not None
        assert found.address == _ADDRESS
        async with BleakClient(found, timeout=30) as client:
            assert await client.read_gatt_char(_VALUE_UUID) == b"treadwell"
            received: asyncio.Queue[bytes] = asyncio.Queue()
            await client.start_notify(
                _VALUE_UUID, lambda _c, data: received.put_nowait(bytes(data))
            )
            # Longer than the default ATT MTU allows: arrives whole only after the MTU exchange.
            await device.notify_subscribers(characteristic, _LONG_VALUE)
            async with asyncio.timeout(10):
                assert await received.get() == _LONG_VALUE
        # The peripheral saw the link go (the kernel's disconnect reached the controller).
        async with asyncio.timeout(10):
            while device.connections:
                await asyncio.sleep(0.05)
    finally:
        await device.power_off()


async def test_bleak_keeps_its_dbus_connection_after_a_remote_drop_until_disconnect(
    bluez: BluezBench,
) -> None:
    # What the links must know about bleak on BlueZ: when the peripheral ends the link, the
    # client's own D-Bus connection stays open until `disconnect()` is called.
    device, _ = await _plain_peripheral(bluez, b"treadwell")
    try:
        found = await BleakScanner.find_device_by_address(_ADDRESS, timeout=30)
        assert found is not None
        before = open_sockets()
        lost = asyncio.Event()
        client = BleakClient(found, disconnected_callback=lambda _c: lost.set(), timeout=30)
        await client.connect()
        connected = open_sockets()
        for connection in list(device.connections.values()):
            await connection.disconnect()
        async with asyncio.timeout(30):
            await lost.wait()
        after_drop = open_sockets()
        await client.disconnect()
        after_disconnect = open_sockets()
    finally:
        await device.power_off()

    assert connected == before + 1
    assert after_drop == connected
    assert after_disconnect == before

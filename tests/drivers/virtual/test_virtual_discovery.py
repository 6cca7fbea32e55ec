"""Discovery through `BleakScanner` with the virtual backend."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from bleak import BleakScanner

from treadwell.drivers.uuids import (
    FTMS_SERVICE_UUID,
    HEART_RATE_SERVICE_UUID,
    RSC_SERVICE_UUID,
)
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    from treadwell.drivers.virtual.world import VirtualWorld

pytestmark = pytest.mark.looptime


async def _discover(
    world: VirtualWorld, **kwargs: object
) -> dict[str, tuple[BLEDevice, AdvertisementData]]:
    return await BleakScanner.discover(  # type: ignore[call-overload, no-any-return]
        timeout=0.5, return_adv=True, backend=world.backend.scanner, **kwargs
    )


async def test_a_treadmill_advertises_its_name_uuid_and_ftms_service_data(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill()
    found = await _discover(world)
    device, adv = found[treadmill.address]
    assert device.name == "Treadwell Virtual Treadmill"
    assert adv.local_name == "Treadwell Virtual Treadmill"
    assert adv.service_uuids == [FTMS_SERVICE_UUID]
    assert adv.service_data == {FTMS_SERVICE_UUID: bytes([0x01, 0x01, 0x00])}


async def test_a_uuid_only_treadmill_advertises_no_service_data(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(advertise_service_data=False))
    found = await _discover(world)
    _, adv = found[treadmill.address]
    assert adv.service_uuids == [FTMS_SERVICE_UUID]
    assert adv.service_data == {}


async def test_each_advertisement_reaches_the_scanner_once_without_doubled_fields(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(advertising_interval_ms=100))
    seen: list[AdvertisementData] = []

    def on_seen(device: BLEDevice, adv: AdvertisementData) -> None:
        if device.address == treadmill.address:
            seen.append(adv)

    async with BleakScanner(on_seen, backend=world.backend.scanner):
        await asyncio.sleep(1.0)
    # One advertisement per 100 ms interval, give or take the edges; the replay would double it.
    assert 9 <= len(seen) <= 11
    assert all(adv.service_uuids == [FTMS_SERVICE_UUID] for adv in seen)


async def test_a_service_filter_keeps_only_matching_devices(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    strap = await world.add_strap()
    footpod = await world.add_footpod()
    everything = await _discover(world)
    straps = await _discover(world, service_uuids=[HEART_RATE_SERVICE_UUID])
    assert set(everything) == {treadmill.address, strap.address, footpod.address}
    assert set(straps) == {strap.address}
    assert everything[footpod.address][1].service_uuids == [RSC_SERVICE_UUID]


async def test_a_powered_off_device_is_not_found_until_powered_on(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    await treadmill.power_off()
    assert treadmill.address not in await _discover(world)
    await treadmill.power_on()
    assert treadmill.address in await _discover(world)


async def test_treadmills_get_distinct_addresses_and_keep_configured_ones(
    world: VirtualWorld,
) -> None:
    first = await world.add_treadmill()
    second = await world.add_treadmill()
    fixed = await world.add_treadmill(TreadmillConfig(address="c0:11:22:33:44:55"))
    assert len({first.address, second.address, fixed.address}) == 3
    assert fixed.address == "C0:11:22:33:44:55"
    assert set(await _discover(world)) == {first.address, second.address, fixed.address}

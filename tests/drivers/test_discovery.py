from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from treadwell.drivers.discovery import DeviceKind, DeviceTarget, FoundDevice, find, scan
from treadwell.drivers.errors import DeviceNotFoundError
from treadwell.drivers.virtual.footpod import FootpodConfig
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from treadwell.drivers.virtual.world import VirtualWorld

pytestmark = pytest.mark.looptime


async def test_scan_lists_each_kind_with_name_address_and_rssi(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(name="Deck 1"))
    strap = await world.add_strap(StrapConfig(name="Chest 1"))
    footpod = await world.add_footpod(FootpodConfig(name="Pod 1"))

    found = await scan(2.0, backend=world.backend)

    assert [(d.kind, d.name, d.address) for d in found] == [
        (DeviceKind.TREADMILL, "Deck 1", treadmill.address),
        (DeviceKind.HEART_RATE, "Chest 1", strap.address),
        (DeviceKind.FOOTPOD, "Pod 1", footpod.address),
    ]
    assert all(-127 <= d.rssi <= 20 for d in found)
    assert found[0].ftms_available is True
    assert found[1].ftms_available is None


async def test_treadmill_advertising_only_the_uuid_is_still_a_treadmill(
    world: VirtualWorld,
) -> None:
    bare = await world.add_treadmill(TreadmillConfig(name="Sole F65", advertise_service_data=False))

    found = await scan(2.0, backend=world.backend)

    assert found == [
        FoundDevice(
            name="Sole F65",
            address=bare.address,
            rssi=found[0].rssi,
            kind=DeviceKind.TREADMILL,
            ftms_available=None,
        )
    ]


async def test_scan_can_be_limited_to_some_kinds(world: VirtualWorld) -> None:
    await world.add_treadmill()
    strap = await world.add_strap()

    found = await scan(2.0, backend=world.backend, kinds={DeviceKind.HEART_RATE})

    assert [d.address for d in found] == [strap.address]


@pytest.mark.parametrize("by", ["first", "name", "address"])
async def test_find_picks_the_configured_device(world: VirtualWorld, by: str) -> None:
    first = await world.add_treadmill(TreadmillConfig(name="Deck A"))
    second = await world.add_treadmill(TreadmillConfig(name="Deck B"))
    await world.add_strap()
    wanted = {
        "first": DeviceTarget(DeviceKind.TREADMILL),
        "name": DeviceTarget(DeviceKind.TREADMILL, name="Deck B"),
        "address": DeviceTarget(DeviceKind.TREADMILL, address=second.address.lower()),
    }[by]

    device = await find(wanted, backend=world.backend, timeout_s=5.0)

    expected = {first.address, second.address} if by == "first" else {second.address}
    assert device.address in expected


async def test_find_gives_up_with_advice_when_nothing_matches(world: VirtualWorld) -> None:
    await world.add_strap()

    with pytest.raises(DeviceNotFoundError, match="switched on") as caught:
        await find(
            DeviceTarget(DeviceKind.TREADMILL, name="Nope"), backend=world.backend, timeout_s=3.0
        )

    assert 'treadmill "Nope"' in str(caught.value)

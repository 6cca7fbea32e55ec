"""I/O. Finding treadmills, heart-rate straps and footpods by what they advertise.

Treadmills advertise the Fitness Machine service 0x1826, usually with Service Data that says
"treadmill, available" (docs/ftms.md §1.1); some send only the UUID (D15), which is accepted too.
Straps advertise 0x180D and footpods 0x1814. All scanning goes through bleak's public
`BleakScanner`, with the backend classes from `BleBackend`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bleak import BleakScanner

from treadwell.drivers.errors import DeviceNotFoundError
from treadwell.drivers.translation import translated
from treadwell.drivers.uuids import FTMS_SERVICE_UUID, HEART_RATE_SERVICE_UUID, RSC_SERVICE_UUID

if TYPE_CHECKING:
    from collections.abc import Collection

    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    from treadwell.drivers.backend import BleBackend

_LOGGER = logging.getLogger(__name__)

_FTMS_AVAILABLE = 0x01
_FTMS_TYPE_TREADMILL = 0x0001
_FTMS_SERVICE_DATA_LEN = 3


class DeviceKind(StrEnum):
    """What a device is to Treadwell."""

    TREADMILL = "treadmill"
    HEART_RATE = "heart_rate"
    FOOTPOD = "footpod"


ALL_KINDS: frozenset[DeviceKind] = frozenset(DeviceKind)


@dataclass(frozen=True, slots=True)
class FoundDevice:
    """One device seen while scanning.

    Attributes:
        name: The advertised local name ("" when it advertised none).
        address: The Bluetooth address.
        rssi: Signal strength of the latest advertisement, in dBm.
        kind: What it is.
        ftms_available: For treadmills with FTMS Service Data, its "available" flag; None
            when the treadmill advertises only the UUID or for other kinds.
    """

    name: str
    address: str
    rssi: int
    kind: DeviceKind
    ftms_available: bool | None = None


@dataclass(frozen=True, slots=True)
class DeviceTarget:
    """Which device a link should connect to.

    With neither `address` nor `name`, the first device of `kind` found is used.

    Attributes:
        kind: The kind of device.
        address: Connect only to this address (case-insensitive).
        name: Connect only to a device advertising exactly this name.
    """

    kind: DeviceKind
    address: str | None = None
    name: str | None = None

    def describe(self) -> str:
        """A short phrase for messages, e.g. ``treadmill "F80" (AA:BB:...)``."""
        text = self.kind.value.replace("_", "-")
        if self.name:
            text += f' "{self.name}"'
        if self.address:
            text += f" ({self.address})"
        return text

    def accepts(self, device: BLEDevice, advertisement: AdvertisementData) -> bool:
        """Whether an advertising device is the one this target means."""
        if classify(advertisement) is not self.kind:
            return False
        if self.address and device.address.lower() != self.address.lower():
            return False
        return not self.name or self.name in (advertisement.local_name, device.name)


def classify(advertisement: AdvertisementData) -> DeviceKind | None:
    """Return the kind of an advertising device, or None when it is none of ours.

    A Fitness Machine with Service Data that names another machine type (a bike, a rower) is
    not a treadmill; one without Service Data is taken for a treadmill (D15).
    """
    uuids = {u.lower() for u in advertisement.service_uuids} | set(advertisement.service_data)
    if FTMS_SERVICE_UUID in uuids:
        data = advertisement.service_data.get(FTMS_SERVICE_UUID)
        if data is None or len(data) < _FTMS_SERVICE_DATA_LEN:
            return DeviceKind.TREADMILL
        machine_type = int.from_bytes(data[1:3], "little")
        return DeviceKind.TREADMILL if machine_type & _FTMS_TYPE_TREADMILL else None
    if HEART_RATE_SERVICE_UUID in uuids:
        return DeviceKind.HEART_RATE
    if RSC_SERVICE_UUID in uuids:
        return DeviceKind.FOOTPOD
    return None


def _ftms_available(advertisement: AdvertisementData) -> bool | None:
    data = advertisement.service_data.get(FTMS_SERVICE_UUID)
    if not data:
        return None
    return bool(data[0] & _FTMS_AVAILABLE)


async def scan(
    duration_s: float,
    *,
    backend: BleBackend,
    kinds: Collection[DeviceKind] = ALL_KINDS,
) -> list[FoundDevice]:
    """Scan for `duration_s` seconds and list the treadmills, straps and footpods around.

    Args:
        duration_s: How long to listen.
        backend: The bleak backend classes.
        kinds: Which kinds to list.

    Returns:
        One entry per device, treadmills first, then by signal strength.

    Raises:
        BluetoothUnavailableError: No adapter, no D-Bus or BlueZ not running (with advice).
        DriverError: Any other scanning failure.
    """
    found: dict[str, FoundDevice] = {}

    def on_advertisement(device: BLEDevice, advertisement: AdvertisementData) -> None:
        kind = classify(advertisement)
        if kind is None or kind not in kinds:
            return
        found[device.address] = FoundDevice(
            name=advertisement.local_name or device.name or "",
            address=device.address,
            rssi=advertisement.rssi,
            kind=kind,
            ftms_available=_ftms_available(advertisement),
        )

    with translated("scanning for Bluetooth devices"):
        async with BleakScanner(on_advertisement, backend=backend.scanner):
            await asyncio.sleep(duration_s)
    order = list(DeviceKind)
    return sorted(found.values(), key=lambda d: (order.index(d.kind), -d.rssi, d.address))


async def find(target: DeviceTarget, *, backend: BleBackend, timeout_s: float) -> BLEDevice:
    """Scan until the device `target` means advertises, and return it.

    Args:
        target: What to look for.
        backend: The bleak backend classes.
        timeout_s: How long to scan before giving up.

    Returns:
        The bleak device, ready for `BleakClient`.

    Raises:
        DeviceNotFoundError: Nothing matching advertised within `timeout_s`.
        BluetoothUnavailableError: No adapter, no D-Bus or BlueZ not running (with advice).
    """
    with translated(f"looking for the {target.describe()}"):
        async with BleakScanner(backend=backend.scanner) as scanner:
            try:
                async with asyncio.timeout(timeout_s):
                    async for device, advertisement in scanner.advertisement_data():
                        if target.accepts(device, advertisement):
                            _LOGGER.debug("found %s at %s", target.describe(), device.address)
                            return device
            except TimeoutError:
                pass
    raise DeviceNotFoundError(
        f"no {target.describe()} advertised within {timeout_s:g} s; is it switched on, "
        "awake (step on the belt or wear the strap) and not connected to another app?"
    )

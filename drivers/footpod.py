"""I/O. The footpod link: Running Speed and Cadence notifications as events."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from treadwell.drivers.codec.rsc import parse_rsc_measurement
from treadwell.drivers.discovery import DeviceKind
from treadwell.drivers.errors import CodecError
from treadwell.drivers.events import LinkConnected, RscReading
from treadwell.drivers.link import BleLink
from treadwell.drivers.uuids import RSC_MEASUREMENT_UUID

if TYPE_CHECKING:
    from bleak import BleakClient
    from bleak.backends.characteristic import BleakGATTCharacteristic
    from bleak.backends.device import BLEDevice

_LOGGER = logging.getLogger(__name__)


class FootpodLink(BleLink):
    """A supervised link to one footpod (speed, cadence, stride length, distance).

    Constructed like `BleLink`, with a `DeviceKind.FOOTPOD` target.
    """

    kind: ClassVar[DeviceKind] = DeviceKind.FOOTPOD

    async def _setup(self, client: BleakClient, device: BLEDevice) -> LinkConnected:
        await client.start_notify(RSC_MEASUREMENT_UUID, self._on_measurement)
        name = device.name or self._target.name or device.address
        return LinkConnected(self._label, self.kind, name, device.address)

    def _on_measurement(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            measurement = parse_rsc_measurement(data)
        except CodecError as exc:
            _LOGGER.warning("%s: skipped a bad RSC Measurement: %s", self._label, exc)
            return
        self._emit(RscReading(self._label, measurement))

"""I/O. The heart-rate strap link: Heart Rate Measurement notifications as events."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from treadwell.drivers.codec.heart_rate import parse_heart_rate_measurement
from treadwell.drivers.discovery import DeviceKind
from treadwell.drivers.errors import CodecError
from treadwell.drivers.events import HeartRateReading, LinkConnected
from treadwell.drivers.link import BleLink
from treadwell.drivers.uuids import HEART_RATE_MEASUREMENT_UUID

if TYPE_CHECKING:
    from bleak import BleakClient
    from bleak.backends.characteristic import BleakGATTCharacteristic
    from bleak.backends.device import BLEDevice

_LOGGER = logging.getLogger(__name__)


class HeartRateLink(BleLink):
    """A supervised link to one heart-rate strap (HR, sensor contact and RR intervals).

    Constructed like `BleLink`: ``HeartRateLink(target, label=..., backend=..., on_event=...,
    backoff=...)`` with a `DeviceKind.HEART_RATE` target.
    """

    kind: ClassVar[DeviceKind] = DeviceKind.HEART_RATE

    async def _setup(self, client: BleakClient, device: BLEDevice) -> LinkConnected:
        await client.start_notify(HEART_RATE_MEASUREMENT_UUID, self._on_measurement)
        name = device.name or self._target.name or device.address
        return LinkConnected(self._label, self.kind, name, device.address)

    def _on_measurement(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            measurement = parse_heart_rate_measurement(data)
        except CodecError as exc:
            _LOGGER.warning("%s: skipped a bad Heart Rate Measurement: %s", self._label, exc)
            return
        self._emit(HeartRateReading(self._label, measurement))

"""I/O. A virtual footpod: Running Speed and Cadence (0x1814) measurements.

Linked to a treadmill it reports the belt speed, a cadence that rises with speed, the stride
length that goes with both, the distance covered and the walking/running bit (docs/ftms.md §9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bumble import gatt

from treadwell.drivers.codec.rsc import RscMeasurement, encode_rsc_measurement
from treadwell.drivers.uuids import (
    RSC_FEATURE_UUID,
    RSC_MEASUREMENT_UUID,
    RSC_SERVICE_UUID,
    short_uuid,
)
from treadwell.drivers.virtual.advertising import build_advertising_data
from treadwell.drivers.virtual.peripheral import VirtualPeripheral, notifying, read_only

if TYPE_CHECKING:
    from bumble.link import LocalLink

    from treadwell.drivers.virtual.treadmill import VirtualTreadmill

# RSC Feature: stride length, total distance and walking/running status supported.
_RSC_FEATURES = (0b0111).to_bytes(2, "little")
_RUNNING_FROM_KMH = 7.5
_WALK_CADENCE_SPM = 100.0
_CADENCE_PER_KMH = 6.0
_MAX_CADENCE_SPM = 200.0
_KMH_PER_MPS = 3.6
_SECONDS_PER_MINUTE = 60.0


@dataclass(frozen=True, slots=True)
class FootpodConfig:
    """How a virtual footpod looks and behaves.

    Attributes:
        name: Advertised local name.
        address: Random static address, or None to let the world assign one.
        follow: A treadmill whose belt speed the footpod reports, or None for `speed_kmh`.
        speed_kmh: The fixed speed without `follow`.
        cadence_spm: A fixed cadence while moving (a runner with long, slow strides, say),
            or None for one that rises with speed.
        notify_interval_s: Seconds between measurements.
        advertising_interval_ms: Advertising interval.
    """

    name: str = "Treadwell Virtual Footpod"
    address: str | None = None
    follow: VirtualTreadmill | None = None
    speed_kmh: float = 0.0
    cadence_spm: int | None = None
    notify_interval_s: float = 1.0
    advertising_interval_ms: float = 100.0


def cadence_for(speed_kmh: float) -> int:
    """Steps per minute at a speed (0 when standing)."""
    if speed_kmh <= 0:
        return 0
    return round(min(_WALK_CADENCE_SPM + _CADENCE_PER_KMH * speed_kmh, _MAX_CADENCE_SPM))


class VirtualFootpod(VirtualPeripheral):
    """A footpod on the virtual link; build it with `VirtualWorld.add_footpod`."""

    def __init__(
        self, config: FootpodConfig, *, link: LocalLink, address: str, speedup: float
    ) -> None:
        """Create the footpod (not yet powered); the world calls `start()`."""
        super().__init__(
            link=link,
            address=address,
            name=config.name,
            speedup=speedup,
            advertising_interval_ms=config.advertising_interval_ms,
        )
        self.config = config
        self.speed_kmh = config.speed_kmh
        self.total_distance_m = 0.0
        self._measurement = notifying(RSC_MEASUREMENT_UUID)

    def services(self) -> list[gatt.Service]:
        """The RSC service with measurement and feature."""
        feature = read_only(RSC_FEATURE_UUID, _RSC_FEATURES)
        return [gatt.Service(RSC_SERVICE_UUID, [self._measurement, feature])]

    def advertising_data(self) -> bytes:
        """Name and the RSC service UUID."""
        return build_advertising_data(self.name, (short_uuid(RSC_SERVICE_UUID),))

    def period_s(self) -> float:
        """The notify interval."""
        return self.config.notify_interval_s

    def measurement(self) -> RscMeasurement:
        """The measurement the footpod would send now."""
        cadence = cadence_for(self.speed_kmh)
        if cadence and self.config.cadence_spm is not None:
            cadence = self.config.cadence_spm
        speed_mps = self.speed_kmh / _KMH_PER_MPS
        stride = speed_mps * _SECONDS_PER_MINUTE / cadence if cadence else 0.0
        return RscMeasurement(
            speed_mps=speed_mps,
            cadence_spm=cadence,
            stride_length_m=round(stride, 2),
            total_distance_m=round(self.total_distance_m, 1),
            running=self.speed_kmh >= _RUNNING_FROM_KMH,
        )

    async def tick(self, dt_s: float) -> None:
        """Follow the treadmill's belt, count distance and notify a measurement."""
        if self.config.follow is not None:
            self.speed_kmh = self.config.follow.speed_kmh
        self.total_distance_m += self.speed_kmh / _KMH_PER_MPS * dt_s
        await self.notify(self._measurement, encode_rsc_measurement(self.measurement()))

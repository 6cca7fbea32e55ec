"""I/O. A virtual heart-rate strap: Heart Rate Service (0x180D) with RR intervals and contact.

The heart rate follows a treadmill's effort when the strap is linked to one (it climbs towards
a target set by speed and incline with a time constant of about half a minute, like a real
runner's), otherwise it stays at a fixed value. RR intervals are the beat period in 1/1024 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bumble import gatt

from treadwell.drivers.codec.heart_rate import (
    HeartRateMeasurement,
    SensorContact,
    encode_heart_rate_measurement,
)
from treadwell.drivers.uuids import (
    HEART_RATE_MEASUREMENT_UUID,
    HEART_RATE_SERVICE_UUID,
    short_uuid,
    uuid16,
)
from treadwell.drivers.virtual.advertising import build_advertising_data
from treadwell.drivers.virtual.peripheral import VirtualPeripheral, notifying, read_only

if TYPE_CHECKING:
    from bumble.link import LocalLink

    from treadwell.drivers.virtual.treadmill import VirtualTreadmill

BODY_SENSOR_LOCATION_UUID = uuid16(0x2A38)
_CHEST = b"\x01"
_RESTING_BPM = 65.0
_MAX_BPM = 195.0
_BPM_PER_KMH = 8.0
_BPM_PER_INCLINE_PCT = 2.5
_TIME_CONSTANT_S = 30.0


@dataclass(frozen=True, slots=True)
class StrapConfig:
    """How a virtual strap looks and behaves.

    Attributes:
        name: Advertised local name.
        address: Random static address, or None to let the world assign one.
        follow: A treadmill whose effort drives the heart rate, or None for `heart_rate_bpm`.
        heart_rate_bpm: The starting (and, without `follow` or `script`, fixed) heart rate.
        script: Scripted heart rate as `(duration_s, bpm)` steps played from power-on; the
            last value holds once the script ends. Ignored when `follow` is set.
        notify_interval_s: Seconds between measurements.
        advertising_interval_ms: Advertising interval.
    """

    name: str = "Treadwell Virtual Strap"
    address: str | None = None
    follow: VirtualTreadmill | None = None
    heart_rate_bpm: int = 70
    script: tuple[tuple[float, int], ...] = ()
    notify_interval_s: float = 1.0
    advertising_interval_ms: float = 100.0


def scripted_bpm(script: tuple[tuple[float, int], ...], elapsed_s: float) -> int | None:
    """The scripted heart rate `elapsed_s` seconds in (the last step holds), None without one."""
    start = 0.0
    for duration_s, bpm in script:
        if elapsed_s < start + duration_s:
            return bpm
        start += duration_s
    return script[-1][1] if script else None


def effort_target_bpm(speed_kmh: float, incline_pct: float) -> float:
    """The steady-state heart rate for a speed and incline (a rough linear model)."""
    target = _RESTING_BPM + _BPM_PER_KMH * speed_kmh + _BPM_PER_INCLINE_PCT * max(incline_pct, 0)
    return min(target, _MAX_BPM)


class VirtualStrap(VirtualPeripheral):
    """A heart-rate strap on the virtual link; build it with `VirtualWorld.add_strap`."""

    def __init__(
        self, config: StrapConfig, *, link: LocalLink, address: str, speedup: float
    ) -> None:
        """Create the strap (not yet powered); the world calls `start()`."""
        super().__init__(
            link=link,
            address=address,
            name=config.name,
            speedup=speedup,
            advertising_interval_ms=config.advertising_interval_ms,
        )
        self.config = config
        self.heart_rate_bpm = float(config.heart_rate_bpm)
        self.contact = True
        self.elapsed_s = 0.0
        self._measurement = notifying(HEART_RATE_MEASUREMENT_UUID)

    def services(self) -> list[gatt.Service]:
        """The Heart Rate Service with measurement and body sensor location."""
        location = read_only(BODY_SENSOR_LOCATION_UUID, _CHEST)
        return [gatt.Service(HEART_RATE_SERVICE_UUID, [self._measurement, location])]

    def advertising_data(self) -> bytes:
        """Name and the Heart Rate Service UUID."""
        return build_advertising_data(self.name, (short_uuid(HEART_RATE_SERVICE_UUID),))

    def period_s(self) -> float:
        """The notify interval."""
        return self.config.notify_interval_s

    def measurement(self) -> HeartRateMeasurement:
        """The measurement the strap would send now."""
        bpm = round(self.heart_rate_bpm)
        contact = SensorContact.CONTACT if self.contact else SensorContact.NO_CONTACT
        rr = (60_000.0 / bpm,) if self.contact and bpm > 0 else ()
        return HeartRateMeasurement(
            heart_rate_bpm=bpm if self.contact else 0,
            sensor_contact=contact,
            energy_expended_kj=None,
            rr_intervals_ms=rr,
        )

    async def tick(self, dt_s: float) -> None:
        """Move the heart rate towards the effort target and notify a measurement."""
        self.elapsed_s += dt_s
        treadmill = self.config.follow
        if treadmill is not None:
            target = effort_target_bpm(treadmill.speed_kmh, treadmill.incline_pct)
            weight = 1.0 - math.exp(-dt_s / _TIME_CONSTANT_S)
            self.heart_rate_bpm += (target - self.heart_rate_bpm) * weight
        elif (scripted := scripted_bpm(self.config.script, self.elapsed_s)) is not None:
            self.heart_rate_bpm = float(scripted)
        await self.notify(self._measurement, encode_heart_rate_measurement(self.measurement()))

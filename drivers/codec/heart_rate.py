"""Pure. Heart Rate Measurement (0x2A37) of the Heart Rate Service (docs/ftms.md §8).

Flags (uint8): bit 0 selects a uint8 or uint16 heart rate, bits 1-2 are the sensor contact
state read together, bit 3 announces Energy Expended (uint16 kJ), bit 4 RR intervals
(uint16 each, 1/1024 s, oldest first).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntFlag, StrEnum
from typing import Final

from treadwell.drivers.errors import CodecError

_U16: Final = struct.Struct("<H")
_RR_UNITS_PER_S: Final = 1024
_UINT8_MAX: Final = 0xFF


class HeartRateFlag(IntFlag):
    """Bits of the Heart Rate Measurement flags byte."""

    UINT16 = 1 << 0
    CONTACT_DETECTED = 1 << 1
    CONTACT_SUPPORTED = 1 << 2
    ENERGY_EXPENDED = 1 << 3
    RR_INTERVALS = 1 << 4


# The bits as plain ints for decoding: `int & IntFlag` runs enum arithmetic in Python.
_UINT16: Final = int(HeartRateFlag.UINT16)
_CONTACT_DETECTED: Final = int(HeartRateFlag.CONTACT_DETECTED)
_CONTACT_SUPPORTED: Final = int(HeartRateFlag.CONTACT_SUPPORTED)
_ENERGY_EXPENDED: Final = int(HeartRateFlag.ENERGY_EXPENDED)
_RR_INTERVALS: Final = int(HeartRateFlag.RR_INTERVALS)


class SensorContact(StrEnum):
    """What the strap says about skin contact (bits 2:1 read together, docs/ftms.md §8.1)."""

    NOT_SUPPORTED = "not_supported"
    NO_CONTACT = "no_contact"
    CONTACT = "contact"


_CONTACT_BITS: Final = HeartRateFlag.CONTACT_DETECTED | HeartRateFlag.CONTACT_SUPPORTED
_CONTACT_FLAGS: Final = {
    SensorContact.NOT_SUPPORTED: 0,
    SensorContact.NO_CONTACT: HeartRateFlag.CONTACT_SUPPORTED,
    SensorContact.CONTACT: _CONTACT_BITS,
}


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """One Heart Rate Measurement notification."""

    heart_rate_bpm: int
    sensor_contact: SensorContact = SensorContact.NOT_SUPPORTED
    energy_expended_kj: int | None = None
    rr_intervals_ms: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """Return the JSON object `treadwell decode 2a37` prints."""
        return {
            "heart_rate_bpm": self.heart_rate_bpm,
            "sensor_contact": str(self.sensor_contact),
            "energy_expended_kj": self.energy_expended_kj,
            "rr_intervals_ms": list(self.rr_intervals_ms),
        }


def _contact(flags: int) -> SensorContact:
    if not flags & _CONTACT_SUPPORTED:
        return SensorContact.NOT_SUPPORTED  # bit 1 alone means nothing (pycycling gets this wrong)
    if flags & _CONTACT_DETECTED:
        return SensorContact.CONTACT
    return SensorContact.NO_CONTACT


def parse_heart_rate_measurement(data: bytes | bytearray | memoryview) -> HeartRateMeasurement:
    """Decode a Heart Rate Measurement (0x2A37).

    A trailing odd byte after the RR intervals is ignored.

    Raises:
        CodecError: If the flags announce a heart rate or energy value that is not there.
    """
    raw = data if isinstance(data, bytes) else bytes(data)
    if not raw:
        raise CodecError("Heart Rate Measurement is empty", raw)
    flags = raw[0]
    offset = 1
    if flags & _UINT16:
        if len(raw) < offset + 2:
            raise CodecError("Heart Rate Measurement announces a uint16 rate it lacks", raw)
        bpm = _U16.unpack_from(raw, offset)[0]
        offset += 2
    else:
        if len(raw) < offset + 1:
            raise CodecError("Heart Rate Measurement lacks its heart rate", raw)
        bpm = raw[offset]
        offset += 1
    energy = None
    if flags & _ENERGY_EXPENDED:
        if len(raw) < offset + 2:
            raise CodecError("Heart Rate Measurement announces energy it lacks", raw)
        energy = _U16.unpack_from(raw, offset)[0]
        offset += 2
    rr: tuple[float, ...] = ()
    if flags & _RR_INTERVALS:
        count = (len(raw) - offset) // 2
        rr = tuple(
            value * 1000 / _RR_UNITS_PER_S
            for (value,) in struct.iter_unpack("<H", raw[offset : offset + 2 * count])
        )
    return HeartRateMeasurement(bpm, _contact(flags), energy, rr)


def encode_heart_rate_measurement(
    m: HeartRateMeasurement, *, uint16: bool = False, rr_raw: tuple[int, ...] | None = None
) -> bytes:
    """Encode a Heart Rate Measurement (0x2A37).

    Args:
        m: The measurement.
        uint16: Send the heart rate as uint16 even when it fits a byte (it is always
            sent as uint16 above 255 bpm).
        rr_raw: RR intervals in 1/1024 s, sent instead of converting `m.rr_intervals_ms`
            (which rounds to the nearest unit).

    Raises:
        ValueError: If a value does not fit its wire field.
    """
    wide = uint16 or m.heart_rate_bpm > _UINT8_MAX
    flags = _CONTACT_FLAGS[m.sensor_contact] | (HeartRateFlag.UINT16 if wide else 0)
    rr = rr_raw
    if rr is None:
        rr = tuple(round(ms * _RR_UNITS_PER_S / 1000) for ms in m.rr_intervals_ms)
    if m.energy_expended_kj is not None:
        flags |= HeartRateFlag.ENERGY_EXPENDED
    if rr:
        flags |= HeartRateFlag.RR_INTERVALS
    fmt = "<B" + ("H" if wide else "B") + ("H" if m.energy_expended_kj is not None else "")
    fmt += "H" * len(rr)
    values = [int(flags), m.heart_rate_bpm]
    if m.energy_expended_kj is not None:
        values.append(m.energy_expended_kj)
    try:
        return struct.pack(fmt, *values, *rr)
    except struct.error as exc:
        raise ValueError(f"heart rate measurement out of range: {m!r}") from exc

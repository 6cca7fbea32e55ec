"""Pure. RSC Measurement (0x2A53) of the Running Speed and Cadence Service (docs/ftms.md §9).

Flags (uint8): bit 0 announces the stride length, bit 1 the total distance, bit 2 means
running (0 is walking). Then speed (uint16, 1/256 m/s), cadence (uint8, steps per minute
for footpods), stride length (uint16, cm) and total distance (uint32, 0.1 m).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntFlag
from typing import Final

from treadwell.drivers.errors import CodecError

_HEAD: Final = struct.Struct("<BHB")
_U16: Final = struct.Struct("<H")
_U32: Final = struct.Struct("<I")
_SPEED_UNITS: Final = 256  # per m/s
_STRIDE_UNITS: Final = 100  # per m
_DISTANCE_UNITS: Final = 10  # per m


class RscFlag(IntFlag):
    """Bits of the RSC Measurement flags byte."""

    STRIDE_LENGTH = 1 << 0
    TOTAL_DISTANCE = 1 << 1
    RUNNING = 1 << 2


@dataclass(frozen=True, slots=True)
class RscMeasurement:
    """One RSC Measurement notification."""

    speed_mps: float
    cadence_spm: int
    stride_length_m: float | None = None
    total_distance_m: float | None = None
    running: bool = False

    def to_dict(self) -> dict[str, object]:
        """Return the JSON object `treadwell decode 2a53` prints."""
        return {
            "speed_mps": self.speed_mps,
            "cadence_spm": self.cadence_spm,
            "stride_length_m": self.stride_length_m,
            "total_distance_m": self.total_distance_m,
            "running": self.running,
        }


def parse_rsc_measurement(data: bytes | bytearray | memoryview) -> RscMeasurement:
    """Decode an RSC Measurement (0x2A53); trailing bytes are ignored.

    Raises:
        CodecError: If speed, cadence or an announced field is missing.
    """
    if len(data) < _HEAD.size:
        raise CodecError("RSC Measurement needs flags, speed and cadence (4 bytes)", data)
    flags, speed, cadence = _HEAD.unpack_from(data)
    offset = _HEAD.size
    stride = distance = None
    if flags & RscFlag.STRIDE_LENGTH:
        if len(data) < offset + _U16.size:
            raise CodecError("RSC Measurement announces a stride length it lacks", data)
        stride = _U16.unpack_from(data, offset)[0] / _STRIDE_UNITS
        offset += _U16.size
    if flags & RscFlag.TOTAL_DISTANCE:
        if len(data) < offset + _U32.size:
            raise CodecError("RSC Measurement announces a total distance it lacks", data)
        distance = _U32.unpack_from(data, offset)[0] / _DISTANCE_UNITS
    return RscMeasurement(
        speed / _SPEED_UNITS, cadence, stride, distance, bool(flags & RscFlag.RUNNING)
    )


def encode_rsc_measurement(m: RscMeasurement) -> bytes:
    """Encode an RSC Measurement (0x2A53).

    Raises:
        ValueError: If a value does not fit its wire field.
    """
    flags = RscFlag.RUNNING if m.running else RscFlag(0)
    fmt = "<BHB"
    values = [round(m.speed_mps * _SPEED_UNITS), m.cadence_spm]
    if m.stride_length_m is not None:
        flags |= RscFlag.STRIDE_LENGTH
        fmt += "H"
        values.append(round(m.stride_length_m * _STRIDE_UNITS))
    if m.total_distance_m is not None:
        flags |= RscFlag.TOTAL_DISTANCE
        fmt += "I"
        values.append(round(m.total_distance_m * _DISTANCE_UNITS))
    try:
        return struct.pack(fmt, int(flags), *values)
    except struct.error as exc:
        raise ValueError(f"RSC measurement out of range: {m!r}") from exc

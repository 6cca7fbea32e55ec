"""Pure. FTMS characteristics other than Treadmill Data: features, ranges, status, control.

Covers Fitness Machine Feature (0x2ACC), Supported Speed/Inclination Range (0x2AD4/0x2AD5),
Training Status (0x2AD3), Fitness Machine Status (0x2ADA) and the Control Point (0x2AD9),
docs/ftms.md §2 and §4-§7. Unknown or RFU op codes decode to the raw integer; only data that
cannot be the characteristic at all raises `CodecError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Final, TypeVar

from treadwell.drivers.errors import CodecError

_U16: Final = struct.Struct("<H")
_S16: Final = struct.Struct("<h")
_FEATURES: Final = struct.Struct("<II")
_SPEED_RANGE: Final = struct.Struct("<HHH")
_INCLINE_RANGE: Final = struct.Struct("<hhH")
_KMH: Final = 100  # wire units per km/h (0.01 km/h resolution)
_PCT: Final = 10  # wire units per percent (0.1 % resolution)
_STOP: Final = 0x01
_PAUSE: Final = 0x02
_RESPONSE_SIZE: Final = 3


def _bytes(data: bytes | bytearray | memoryview) -> bytes:
    return data if isinstance(data, bytes) else bytes(data)


def _pack(layout: struct.Struct, what: str, *values: int) -> bytes:
    try:
        return layout.pack(*values)
    except struct.error as exc:
        raise ValueError(f"{what} out of range for its wire field: {values!r}") from exc


_E = TypeVar("_E", bound=IntEnum)


def _enum(kind: type[_E], value: int) -> _E | int:
    try:
        return kind(value)
    except ValueError:
        return value


# --- Fitness Machine Feature (0x2ACC), docs/ftms.md §2 -------------------------------------


class MachineFeature(IntFlag):
    """Fitness Machine Features, the first uint32 of 0x2ACC (docs/ftms.md §2.1)."""

    AVERAGE_SPEED = 1 << 0
    CADENCE = 1 << 1
    TOTAL_DISTANCE = 1 << 2
    INCLINATION = 1 << 3
    ELEVATION_GAIN = 1 << 4
    PACE = 1 << 5
    STEP_COUNT = 1 << 6
    RESISTANCE_LEVEL = 1 << 7
    STRIDE_COUNT = 1 << 8
    EXPENDED_ENERGY = 1 << 9
    HEART_RATE = 1 << 10
    METABOLIC_EQUIVALENT = 1 << 11
    ELAPSED_TIME = 1 << 12
    REMAINING_TIME = 1 << 13
    POWER_MEASUREMENT = 1 << 14
    FORCE_ON_BELT_AND_POWER_OUTPUT = 1 << 15
    USER_DATA_RETENTION = 1 << 16


class TargetSetting(IntFlag):
    """Target Setting Features, the second uint32 of 0x2ACC (docs/ftms.md §2.2)."""

    SPEED = 1 << 0
    INCLINATION = 1 << 1
    RESISTANCE = 1 << 2
    POWER = 1 << 3
    HEART_RATE = 1 << 4
    EXPENDED_ENERGY = 1 << 5
    STEP_NUMBER = 1 << 6
    STRIDE_NUMBER = 1 << 7
    DISTANCE = 1 << 8
    TRAINING_TIME = 1 << 9
    TIME_IN_TWO_HEART_RATE_ZONES = 1 << 10
    TIME_IN_THREE_HEART_RATE_ZONES = 1 << 11
    TIME_IN_FIVE_HEART_RATE_ZONES = 1 << 12
    INDOOR_BIKE_SIMULATION = 1 << 13
    WHEEL_CIRCUMFERENCE = 1 << 14
    SPIN_DOWN_CONTROL = 1 << 15
    CADENCE = 1 << 16


def flag_names(value: IntFlag) -> list[str]:
    """Name every set bit of `value`, lowest first; RFU bits read ``rfu_bit_<n>``."""
    kind = type(value)
    names = []
    for bit in range(32):
        if value & (1 << bit):
            member = kind._value2member_map_.get(1 << bit)
            names.append(member.name if member is not None and member.name else f"rfu_bit_{bit}")
    return names


@dataclass(frozen=True, slots=True)
class MachineFeatures:
    """What a fitness machine says it can report and which targets it accepts."""

    features: MachineFeature
    target_settings: TargetSetting

    def to_dict(self) -> dict[str, object]:
        """Return the JSON object `treadwell decode 2acc` prints."""
        return {
            "features": flag_names(self.features),
            "target_settings": flag_names(self.target_settings),
        }


def parse_fitness_machine_feature(data: bytes | bytearray | memoryview) -> MachineFeatures:
    """Decode Fitness Machine Feature (0x2ACC); bytes after the first 8 are ignored.

    Raises:
        CodecError: If fewer than 8 bytes arrive.
    """
    if len(data) < _FEATURES.size:
        raise CodecError("Fitness Machine Feature needs 8 bytes", data)
    features, targets = _FEATURES.unpack_from(data)
    return MachineFeatures(MachineFeature(features), TargetSetting(targets))


def encode_fitness_machine_feature(value: MachineFeatures) -> bytes:
    """Encode Fitness Machine Feature (0x2ACC) as two uint32 bit fields."""
    return _pack(_FEATURES, "feature bits", int(value.features), int(value.target_settings))


# --- Supported ranges (0x2AD4, 0x2AD5), docs/ftms.md §4 ------------------------------------


@dataclass(frozen=True, slots=True)
class SpeedRange:
    """Supported Speed Range (0x2AD4): the speeds a target may be set to."""

    min_kmh: float
    max_kmh: float
    step_kmh: float

    def to_dict(self) -> dict[str, object]:
        """Return the JSON object `treadwell decode 2ad4` prints."""
        return {
            "min_speed_kmh": self.min_kmh,
            "max_speed_kmh": self.max_kmh,
            "step_kmh": self.step_kmh,
        }


@dataclass(frozen=True, slots=True)
class InclinationRange:
    """Supported Inclination Range (0x2AD5); a negative minimum means decline."""

    min_pct: float
    max_pct: float
    step_pct: float

    def to_dict(self) -> dict[str, object]:
        """Return the JSON object `treadwell decode 2ad5` prints."""
        return {
            "min_incline_pct": self.min_pct,
            "max_incline_pct": self.max_pct,
            "step_pct": self.step_pct,
        }


def parse_supported_speed_range(data: bytes | bytearray | memoryview) -> SpeedRange:
    """Decode Supported Speed Range (0x2AD4): three uint16 at 0.01 km/h.

    Raises:
        CodecError: If fewer than 6 bytes arrive.
    """
    if len(data) < _SPEED_RANGE.size:
        raise CodecError("Supported Speed Range needs 6 bytes", data)
    low, high, step = _SPEED_RANGE.unpack_from(data)
    return SpeedRange(low / _KMH, high / _KMH, step / _KMH)


def encode_supported_speed_range(value: SpeedRange) -> bytes:
    """Encode Supported Speed Range (0x2AD4).

    Raises:
        ValueError: If a value does not fit a uint16 at 0.01 km/h.
    """
    raw = (round(v * _KMH) for v in (value.min_kmh, value.max_kmh, value.step_kmh))
    return _pack(_SPEED_RANGE, "speed range", *raw)


def parse_supported_inclination_range(data: bytes | bytearray | memoryview) -> InclinationRange:
    """Decode Supported Inclination Range (0x2AD5): sint16 min/max, uint16 step, 0.1 %.

    Raises:
        CodecError: If fewer than 6 bytes arrive.
    """
    if len(data) < _INCLINE_RANGE.size:
        raise CodecError("Supported Inclination Range needs 6 bytes", data)
    low, high, step = _INCLINE_RANGE.unpack_from(data)
    return InclinationRange(low / _PCT, high / _PCT, step / _PCT)


def encode_supported_inclination_range(value: InclinationRange) -> bytes:
    """Encode Supported Inclination Range (0x2AD5).

    Raises:
        ValueError: If a value does not fit its field at 0.1 %.
    """
    raw = (round(v * _PCT) for v in (value.min_pct, value.max_pct, value.step_pct))
    return _pack(_INCLINE_RANGE, "inclination range", *raw)


# --- Training Status (0x2AD3), docs/ftms.md §5 ---------------------------------------------


class TrainingStatusCode(IntEnum):
    """Training Status values (docs/ftms.md §5); 0x10-0xFF are RFU."""

    OTHER = 0x00
    IDLE = 0x01
    WARMING_UP = 0x02
    LOW_INTENSITY_INTERVAL = 0x03
    HIGH_INTENSITY_INTERVAL = 0x04
    RECOVERY_INTERVAL = 0x05
    ISOMETRIC = 0x06
    HEART_RATE_CONTROL = 0x07
    FITNESS_TEST = 0x08
    SPEED_TOO_LOW = 0x09
    SPEED_TOO_HIGH = 0x0A
    COOL_DOWN = 0x0B
    WATT_CONTROL = 0x0C
    MANUAL_MODE = 0x0D
    PRE_WORKOUT = 0x0E
    POST_WORKOUT = 0x0F


_STATUS_STRING: Final = 0x01


@dataclass(frozen=True, slots=True)
class TrainingStatus:
    """Training Status (0x2AD3): the machine's training phase and optional text."""

    status: TrainingStatusCode | int
    text: str | None = None

    def to_dict(self) -> dict[str, object]:
        """Return the JSON object `treadwell decode 2ad3` prints."""
        name = self.status.name.lower() if isinstance(self.status, TrainingStatusCode) else None
        return {"status": int(self.status), "status_name": name, "text": self.text}


def parse_training_status(data: bytes | bytearray | memoryview) -> TrainingStatus:
    """Decode Training Status (0x2AD3).

    An announced but empty string (FS-6041F1 sends ``01 01``, D18) decodes as no text;
    invalid UTF-8 is replaced rather than rejected.

    Raises:
        CodecError: If fewer than 2 bytes arrive.
    """
    if len(data) < 2:
        raise CodecError("Training Status needs a flags byte and a status byte", data)
    raw = _bytes(data)
    text = raw[2:].decode("utf-8", errors="replace") if raw[0] & _STATUS_STRING else ""
    return TrainingStatus(_enum(TrainingStatusCode, raw[1]), text or None)


def encode_training_status(value: TrainingStatus) -> bytes:
    """Encode Training Status (0x2AD3); the string flag is set when `text` is non-empty.

    Raises:
        ValueError: If the status does not fit a byte.
    """
    text = (value.text or "").encode()
    if not 0 <= value.status <= 0xFF:
        raise ValueError(f"training status {value.status!r} does not fit a byte")
    return bytes([_STATUS_STRING if text else 0, value.status]) + text


# --- Fitness Machine Status (0x2ADA), docs/ftms.md §6 --------------------------------------


class MachineStatusOp(IntEnum):
    """Fitness Machine Status op codes (docs/ftms.md §6); 0x16-0xFE are RFU."""

    RESET = 0x01
    STOPPED_OR_PAUSED = 0x02
    STOPPED_BY_SAFETY_KEY = 0x03
    STARTED_OR_RESUMED = 0x04
    TARGET_SPEED_CHANGED = 0x05
    TARGET_INCLINE_CHANGED = 0x06
    TARGET_RESISTANCE_CHANGED = 0x07
    TARGET_POWER_CHANGED = 0x08
    TARGET_HEART_RATE_CHANGED = 0x09
    TARGETED_EXPENDED_ENERGY_CHANGED = 0x0A
    TARGETED_STEPS_CHANGED = 0x0B
    TARGETED_STRIDES_CHANGED = 0x0C
    TARGETED_DISTANCE_CHANGED = 0x0D
    TARGETED_TRAINING_TIME_CHANGED = 0x0E
    TARGETED_TIME_IN_TWO_HEART_RATE_ZONES_CHANGED = 0x0F
    TARGETED_TIME_IN_THREE_HEART_RATE_ZONES_CHANGED = 0x10
    TARGETED_TIME_IN_FIVE_HEART_RATE_ZONES_CHANGED = 0x11
    INDOOR_BIKE_SIMULATION_CHANGED = 0x12
    WHEEL_CIRCUMFERENCE_CHANGED = 0x13
    SPIN_DOWN_STATUS = 0x14
    TARGETED_CADENCE_CHANGED = 0x15
    CONTROL_PERMISSION_LOST = 0xFF


@dataclass(frozen=True, slots=True)
class MachineStatus:
    """One Fitness Machine Status notification (0x2ADA).

    The parameters Treadwell acts on are decoded into named fields. `parameter` keeps the
    raw bytes after the op code whenever they were not fully decoded (other op codes, a
    malformed or over-long parameter), so nothing is lost.
    """

    op: MachineStatusOp | int
    paused: bool | None = None
    target_speed_kmh: float | None = None
    target_incline_pct: float | None = None
    parameter: bytes = b""

    def to_dict(self) -> dict[str, object]:
        """Return the JSON object `treadwell decode 2ada` prints."""
        return {
            "op": int(self.op),
            "op_name": _name(self.op),
            "paused": self.paused,
            "target_speed_kmh": self.target_speed_kmh,
            "target_incline_pct": self.target_incline_pct,
            "parameter": self.parameter.hex(),
        }


def _name(value: int) -> str | None:
    return value.name.lower() if isinstance(value, IntEnum) else None


def _pause_flag(parameter: bytes) -> bool | None:
    if parameter == bytes([_PAUSE]):
        return True
    if parameter == bytes([_STOP]):
        return False
    return None


def parse_machine_status(data: bytes | bytearray | memoryview) -> MachineStatus:
    """Decode Fitness Machine Status (0x2ADA).

    Raises:
        CodecError: If `data` is empty.
    """
    if not data:
        raise CodecError("Fitness Machine Status needs an op code", data)
    raw = _bytes(data)
    op, parameter = _enum(MachineStatusOp, raw[0]), raw[1:]
    if op == MachineStatusOp.STOPPED_OR_PAUSED and (paused := _pause_flag(parameter)) is not None:
        return MachineStatus(op, paused=paused)
    if op == MachineStatusOp.TARGET_SPEED_CHANGED and len(parameter) == _U16.size:
        return MachineStatus(op, target_speed_kmh=_U16.unpack(parameter)[0] / _KMH)
    if op == MachineStatusOp.TARGET_INCLINE_CHANGED and len(parameter) == _S16.size:
        return MachineStatus(op, target_incline_pct=_S16.unpack(parameter)[0] / _PCT)
    return MachineStatus(op, parameter=parameter)


def encode_machine_status(value: MachineStatus) -> bytes:
    """Encode Fitness Machine Status (0x2ADA); a named field of the op wins over `parameter`.

    Raises:
        ValueError: If the op code or a value does not fit its wire field.
    """
    if not 0 <= value.op <= 0xFF:
        raise ValueError(f"status op code {value.op!r} does not fit a byte")
    parameter = value.parameter
    op = value.op
    if op == MachineStatusOp.STOPPED_OR_PAUSED and value.paused is not None:
        parameter = bytes([_PAUSE if value.paused else _STOP])
    elif op == MachineStatusOp.TARGET_SPEED_CHANGED and value.target_speed_kmh is not None:
        parameter = _pack(_U16, "target speed", round(value.target_speed_kmh * _KMH))
    elif op == MachineStatusOp.TARGET_INCLINE_CHANGED and value.target_incline_pct is not None:
        parameter = _pack(_S16, "target incline", round(value.target_incline_pct * _PCT))
    return bytes([value.op]) + parameter


# --- Fitness Machine Control Point (0x2AD9), docs/ftms.md §7 -------------------------------


class ControlOp(IntEnum):
    """Control Point op codes (docs/ftms.md §7.1); 0x15-0x7F and 0x81-0xFF are RFU."""

    REQUEST_CONTROL = 0x00
    RESET = 0x01
    SET_TARGET_SPEED = 0x02
    SET_TARGET_INCLINATION = 0x03
    SET_TARGET_RESISTANCE = 0x04
    SET_TARGET_POWER = 0x05
    SET_TARGET_HEART_RATE = 0x06
    START_OR_RESUME = 0x07
    STOP_OR_PAUSE = 0x08
    SET_TARGETED_EXPENDED_ENERGY = 0x09
    SET_TARGETED_STEPS = 0x0A
    SET_TARGETED_STRIDES = 0x0B
    SET_TARGETED_DISTANCE = 0x0C
    SET_TARGETED_TRAINING_TIME = 0x0D
    SET_TARGETED_TIME_IN_TWO_HEART_RATE_ZONES = 0x0E
    SET_TARGETED_TIME_IN_THREE_HEART_RATE_ZONES = 0x0F
    SET_TARGETED_TIME_IN_FIVE_HEART_RATE_ZONES = 0x10
    SET_INDOOR_BIKE_SIMULATION = 0x11
    SET_WHEEL_CIRCUMFERENCE = 0x12
    SPIN_DOWN_CONTROL = 0x13
    SET_TARGETED_CADENCE = 0x14
    RESPONSE = 0x80


class ResultCode(IntEnum):
    """Result codes of a Control Point response (docs/ftms.md §7.2)."""

    SUCCESS = 0x01
    OP_CODE_NOT_SUPPORTED = 0x02
    INVALID_PARAMETER = 0x03
    OPERATION_FAILED = 0x04
    CONTROL_NOT_PERMITTED = 0x05


def encode_request_control() -> bytes:
    """Encode Request Control (``00``); it must succeed before any other procedure."""
    return bytes([ControlOp.REQUEST_CONTROL])


def encode_reset() -> bytes:
    """Encode Reset (``01``); it also drops the client's control."""
    return bytes([ControlOp.RESET])


def encode_set_target_speed(speed_kmh: float) -> bytes:
    """Encode Set Target Speed: uint16 at 0.01 km/h (2.5 km/h is ``02 FA 00``).

    Raises:
        ValueError: If the speed is negative or above 655.35 km/h.
    """
    return bytes([ControlOp.SET_TARGET_SPEED]) + _pack(
        _U16, "target speed", round(speed_kmh * _KMH)
    )


def encode_set_target_inclination(incline_pct: float) -> bytes:
    """Encode Set Target Inclination: sint16 at 0.1 % (-3.0 % is ``03 E2 FF``).

    Raises:
        ValueError: If the incline is outside ±3276.7 %.
    """
    return bytes([ControlOp.SET_TARGET_INCLINATION]) + _pack(
        _S16, "target incline", round(incline_pct * _PCT)
    )


def encode_start_or_resume() -> bytes:
    """Encode Start or Resume (``07``)."""
    return bytes([ControlOp.START_OR_RESUME])


def encode_stop_or_pause(*, pause: bool) -> bytes:
    """Encode Stop or Pause: ``08 02`` pauses, ``08 01`` stops."""
    return bytes([ControlOp.STOP_OR_PAUSE, _PAUSE if pause else _STOP])


@dataclass(frozen=True, slots=True)
class ControlPointRequest:
    """A Control Point write as the server sees it.

    The parameters of Set Target Speed, Set Target Inclination and Stop or Pause are
    decoded into named fields; `parameter` keeps the raw bytes after the op code whenever
    they were not fully decoded (other op codes, a malformed parameter).
    """

    op: ControlOp | int
    speed_kmh: float | None = None
    incline_pct: float | None = None
    pause: bool | None = None
    parameter: bytes = b""

    def to_dict(self) -> dict[str, object]:
        """Return the JSON object `treadwell decode 2ad9` prints for a request."""
        return {
            "op": int(self.op),
            "op_name": _name(self.op),
            "speed_kmh": self.speed_kmh,
            "incline_pct": self.incline_pct,
            "pause": self.pause,
            "parameter": self.parameter.hex(),
        }


def parse_control_point_request(data: bytes | bytearray | memoryview) -> ControlPointRequest:
    """Decode a Control Point write (the server side, used by the virtual treadmill).

    Raises:
        CodecError: If `data` is empty.
    """
    if not data:
        raise CodecError("a Control Point request needs an op code", data)
    raw = _bytes(data)
    op, parameter = _enum(ControlOp, raw[0]), raw[1:]
    if op == ControlOp.SET_TARGET_SPEED and len(parameter) == _U16.size:
        return ControlPointRequest(op, speed_kmh=_U16.unpack(parameter)[0] / _KMH)
    if op == ControlOp.SET_TARGET_INCLINATION and len(parameter) == _S16.size:
        return ControlPointRequest(op, incline_pct=_S16.unpack(parameter)[0] / _PCT)
    if op == ControlOp.STOP_OR_PAUSE and (pause := _pause_flag(parameter)) is not None:
        return ControlPointRequest(op, pause=pause)
    return ControlPointRequest(op, parameter=parameter)


def encode_control_point_request(value: ControlPointRequest) -> bytes:
    """Encode any Control Point request; a named field of the op wins over `parameter`.

    Raises:
        ValueError: If the op code or a value does not fit its wire field.
    """
    op = value.op
    if op == ControlOp.SET_TARGET_SPEED and value.speed_kmh is not None:
        return encode_set_target_speed(value.speed_kmh)
    if op == ControlOp.SET_TARGET_INCLINATION and value.incline_pct is not None:
        return encode_set_target_inclination(value.incline_pct)
    if op == ControlOp.STOP_OR_PAUSE and value.pause is not None:
        return encode_stop_or_pause(pause=value.pause)
    if not 0 <= value.op <= 0xFF:
        raise ValueError(f"control op code {value.op!r} does not fit a byte")
    return bytes([value.op]) + value.parameter


@dataclass(frozen=True, slots=True)
class ControlPointResponse:
    """A Control Point indication: ``80 <request op> <result> [parameter]``."""

    request_op: ControlOp | int
    result: ResultCode | int
    parameter: bytes = b""

    @property
    def ok(self) -> bool:
        """Whether the procedure succeeded."""
        return self.result == ResultCode.SUCCESS

    def to_dict(self) -> dict[str, object]:
        """Return the JSON object `treadwell decode 2ad9` prints for a response."""
        return {
            "response_to": int(self.request_op),
            "response_to_name": _name(self.request_op),
            "result": int(self.result),
            "result_name": _name(self.result),
            "parameter": self.parameter.hex(),
        }


def parse_control_point_response(data: bytes | bytearray | memoryview) -> ControlPointResponse:
    """Decode a Control Point indication.

    Raises:
        CodecError: If `data` is shorter than 3 bytes or does not start with ``80``.
    """
    if len(data) < _RESPONSE_SIZE or data[0] != ControlOp.RESPONSE:
        raise CodecError("a Control Point response is 80 <request op> <result> [...]", data)
    raw = _bytes(data)
    return ControlPointResponse(_enum(ControlOp, raw[1]), _enum(ResultCode, raw[2]), raw[3:])


def encode_control_point_response(request_op: int, result: int, parameter: bytes = b"") -> bytes:
    """Encode a Control Point indication (the server side).

    Raises:
        ValueError: If the op code or result does not fit a byte.
    """
    if not (0 <= request_op <= 0xFF and 0 <= result <= 0xFF):
        raise ValueError(f"op code {request_op!r} and result {result!r} must each fit a byte")
    return bytes([ControlOp.RESPONSE, request_op, result]) + parameter

"""Pure. Treadmill Data (0x2ACD): decode, encode, split and reassemble FTMS records.

Layout (docs/ftms.md §3): a uint16 flags word, then the fields its bits announce, always in
the same order. Bit 0 ("More Data") is inverted: when it is 0 the notification carries
Instantaneous Speed and ends a record; when it is 1 speed is absent and more notifications
of the same record follow (§3.4).

Decoding is lenient, because real treadmills bend the spec (§10):

* A packet that stops before the announced fields end yields every field that arrived
  whole, `truncated=True` and the names of the missing fields (Matrix, D1).
* Trailing bytes are ignored with a diagnostic (D6).
* RFU bit 13 followed by exactly three extra bytes is a vendor step count (D5).
* The pace width (uint8 in FTMS 1.0, uint16 in the current GSS, §3.3) defaults to uint8;
  when the packet length fits only the other width, that width is used.
* The spec's "not available" values decode to `None`; an all-ones elevation gain, which the
  spec gives no sentinel for, is also `None`, with a diagnostic (D3).

For speed, the layout of every (flags, length, options) combination is worked out once as a
`_Plan` (one `struct.Struct` for all the fields and the steps per field) and compiled into one
straight-line decoding function, which is cached.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import IntEnum, IntFlag
from typing import Any, Final

from treadwell.drivers.errors import CodecError


class PaceWidth(IntEnum):
    """Width of the two pace fields in bytes (docs/ftms.md §3.3)."""

    UINT8 = 1
    """FTMS 1.0 layout: 0.1 km/min per unit. What every field-tested peer decodes."""
    UINT16 = 2
    """Current GSS layout: seconds per 500 m."""


class TreadmillDataFlag(IntFlag):
    """Bits of the Treadmill Data flags word (docs/ftms.md §3.1)."""

    MORE_DATA = 1 << 0
    AVERAGE_SPEED = 1 << 1
    TOTAL_DISTANCE = 1 << 2
    INCLINATION = 1 << 3
    ELEVATION_GAIN = 1 << 4
    INSTANTANEOUS_PACE = 1 << 5
    AVERAGE_PACE = 1 << 6
    EXPENDED_ENERGY = 1 << 7
    HEART_RATE = 1 << 8
    METABOLIC_EQUIVALENT = 1 << 9
    ELAPSED_TIME = 1 << 10
    REMAINING_TIME = 1 << 11
    FORCE_AND_POWER = 1 << 12
    VENDOR_STEP_COUNT = 1 << 13
    """RFU in the spec; some walking pads put a step count behind it (D5)."""


@dataclass(frozen=True, slots=True)
class TreadmillData:
    """One decoded Treadmill Data notification, or a record merged from several.

    Every measurement is `None` when the packet did not carry it or carried the spec's
    "not available" value. A record merged from several notifications has the union of
    their flags (bit 0 cleared when the record is complete).
    """

    flags: int = 0
    more_data: bool = False
    speed_kmh: float | None = None
    average_speed_kmh: float | None = None
    total_distance_m: int | None = None
    incline_pct: float | None = None
    ramp_angle_deg: float | None = None
    positive_elevation_gain_m: float | None = None
    negative_elevation_gain_m: float | None = None
    instantaneous_pace_kmh: float | None = None
    average_pace_kmh: float | None = None
    total_energy_kcal: int | None = None
    energy_per_hour_kcal: int | None = None
    energy_per_minute_kcal: int | None = None
    heart_rate_bpm: int | None = None
    metabolic_equivalent: float | None = None
    elapsed_time_s: int | None = None
    remaining_time_s: int | None = None
    force_on_belt_n: int | None = None
    power_w: int | None = None
    step_count: int | None = None
    truncated: bool = False
    missing_fields: tuple[str, ...] = ()
    diagnostics: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """Return the JSON object `treadwell decode 2acd` prints (absent values are `None`)."""
        result: dict[str, object] = {name: getattr(self, name) for name in JSON_KEYS}
        result["missing_fields"] = list(self.missing_fields)
        result["diagnostics"] = list(self.diagnostics)
        return result


# Measurement fields in wire order (docs/ftms.md §3.2), then the vendor step count.
MEASUREMENTS: Final = (
    "speed_kmh",
    "average_speed_kmh",
    "total_distance_m",
    "incline_pct",
    "ramp_angle_deg",
    "positive_elevation_gain_m",
    "negative_elevation_gain_m",
    "instantaneous_pace_kmh",
    "average_pace_kmh",
    "total_energy_kcal",
    "energy_per_hour_kcal",
    "energy_per_minute_kcal",
    "heart_rate_bpm",
    "metabolic_equivalent",
    "elapsed_time_s",
    "remaining_time_s",
    "force_on_belt_n",
    "power_w",
    "step_count",
)
JSON_KEYS: Final = (*MEASUREMENTS, "truncated", "missing_fields", "diagnostics")

_FLAGS_SIZE: Final = 2
_SENTINEL_SINT16: Final = 0x7FFF
_SENTINEL_UINT16: Final = 0xFFFF
_SENTINEL_UINT8: Final = 0xFF
_VENDOR_ELEVATION_NA: Final = frozenset({0x7FFF, 0xFFFF})
_ELEVATION_UNITS: Final = 10  # per metre
_KMH_PER_PACE8: Final = 6.0  # 0.1 km/min per unit, times 60 min/h
_PACE16_KMH_SECONDS: Final = 1800.0  # 0.5 km * 3600 s/h: km/h = 1800 / (s per 500 m)
_STEP_BYTES: Final = 3
_RFU_HIGH: Final = 0xC000
_PACE_BITS: Final = TreadmillDataFlag.INSTANTANEOUS_PACE | TreadmillDataFlag.AVERAGE_PACE
_MAX_PLANS: Final = 4096

# How a raw wire value becomes a measurement.
_INT: Final = 0  # the raw integer
_SCALED: Final = 1  # raw / divisor
_UINT24: Final = 2  # raw (uint16) | next raw (uint8) << 16
_ELEVATION: Final = 3  # raw / 10; all-ones is a vendor "not available" (D3)
_PACE8: Final = 4  # raw * 6 km/h
_PACE16: Final = 5  # 1800 / raw km/h


@dataclass(frozen=True, slots=True)
class _Field:
    """One wire field: which flag bit gates it, its struct format and its conversion."""

    name: str
    bit: int
    fmt: str
    kind: int
    divisor: float = 1.0
    sentinel: int | None = None

    @property
    def size(self) -> int:
        return struct.calcsize("<" + self.fmt)


def _pace_field(name: str, bit: int, width: PaceWidth) -> _Field:
    if width is PaceWidth.UINT8:
        return _Field(name, bit, "B", _PACE8)
    return _Field(name, bit, "H", _PACE16)


def _fields(width: PaceWidth) -> tuple[_Field, ...]:
    flag = TreadmillDataFlag
    return (
        _Field("speed_kmh", flag.MORE_DATA, "H", _SCALED, 100),
        _Field("average_speed_kmh", flag.AVERAGE_SPEED, "H", _SCALED, 100),
        _Field("total_distance_m", flag.TOTAL_DISTANCE, "HB", _UINT24),
        _Field("incline_pct", flag.INCLINATION, "h", _SCALED, 10, _SENTINEL_SINT16),
        _Field("ramp_angle_deg", flag.INCLINATION, "h", _SCALED, 10, _SENTINEL_SINT16),
        _Field("positive_elevation_gain_m", flag.ELEVATION_GAIN, "H", _ELEVATION, 10),
        _Field("negative_elevation_gain_m", flag.ELEVATION_GAIN, "H", _ELEVATION, 10),
        _pace_field("instantaneous_pace_kmh", flag.INSTANTANEOUS_PACE, width),
        _pace_field("average_pace_kmh", flag.AVERAGE_PACE, width),
        _Field("total_energy_kcal", flag.EXPENDED_ENERGY, "H", _INT, 1, _SENTINEL_UINT16),
        _Field("energy_per_hour_kcal", flag.EXPENDED_ENERGY, "H", _INT, 1, _SENTINEL_UINT16),
        _Field("energy_per_minute_kcal", flag.EXPENDED_ENERGY, "B", _INT, 1, _SENTINEL_UINT8),
        _Field("heart_rate_bpm", flag.HEART_RATE, "B", _INT),
        _Field("metabolic_equivalent", flag.METABOLIC_EQUIVALENT, "B", _SCALED, 10),
        _Field("elapsed_time_s", flag.ELAPSED_TIME, "H", _INT),
        _Field("remaining_time_s", flag.REMAINING_TIME, "H", _INT),
        _Field("force_on_belt_n", flag.FORCE_AND_POWER, "h", _INT, 1, _SENTINEL_SINT16),
        _Field("power_w", flag.FORCE_AND_POWER, "h", _INT, 1, _SENTINEL_SINT16),
        _Field("step_count", flag.VENDOR_STEP_COUNT, "HB", _UINT24),
    )


_FIELDS: Final = {width: _fields(width) for width in PaceWidth}
# Field position in TreadmillData's field order (the decoder's argument list).
_SLOTS: Final = {name: index for index, name in enumerate(TreadmillData.__dataclass_fields__)}
_DIAGNOSTICS_SLOT: Final = _SLOTS["diagnostics"]

# Speed matters here (every notification of every treadmill comes through): a frozen
# dataclass's generated __init__ sets each of the 24 slots through object.__setattr__, which
# costs more than all the decoding. The decoder fills a new TreadmillData's slots through
# their own descriptors instead (what object.__setattr__ ends up calling, without the frozen
# check on the way): the record is an ordinary, immutable TreadmillData from the start.
_SLOT_SETTERS: Final = {f"_set_{name}": getattr(TreadmillData, name).__set__ for name in _SLOTS}


def _announced(spec: _Field, flags: int, with_steps: bool) -> bool:
    if spec.bit == TreadmillDataFlag.MORE_DATA:
        return not flags & TreadmillDataFlag.MORE_DATA
    if spec.bit == TreadmillDataFlag.VENDOR_STEP_COUNT:
        return with_steps
    return bool(flags & spec.bit)


def _layout_size(flags: int, width: PaceWidth, with_steps: bool) -> int:
    return _FLAGS_SIZE + sum(
        spec.size for spec in _FIELDS[width] if _announced(spec, flags, with_steps)
    )


def _choose_layout(
    flags: int, length: int, pace_width: PaceWidth, vendor_step_count: bool | None
) -> tuple[PaceWidth, bool]:
    """Pick the pace width and whether a vendor step count follows (docs/ftms.md §3.3, D5).

    The requested width wins unless only the other width explains the packet length
    exactly; in auto mode a bit-13 step count is decoded only when exactly its three bytes
    follow the standard fields.
    """
    has_bit13 = bool(flags & TreadmillDataFlag.VENDOR_STEP_COUNT)
    if not has_bit13 or vendor_step_count is False:
        step_options: tuple[bool, ...] = (False,)
    elif vendor_step_count is True:
        step_options = (True,)
    else:
        step_options = (False, True)
    widths = [pace_width]
    if flags & _PACE_BITS:
        widths.append(PaceWidth.UINT16 if pace_width is PaceWidth.UINT8 else PaceWidth.UINT8)
    for width in widths:
        for with_steps in step_options:
            if _layout_size(flags, width, with_steps) == length:
                return width, with_steps
    return pace_width, vendor_step_count is True and has_bit13


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything about decoding one (flags, length, options) combination but the values."""

    layout: struct.Struct
    template: tuple[object, ...]  # the field values of a packet with every value absent
    ints: tuple[tuple[int, int, int | None], ...]  # (slot, raw index, sentinel): raw value
    scaled: tuple[tuple[int, int, float, int | None], ...]  # (..., divisor, sentinel)
    uint24: tuple[tuple[int, int], ...]  # (slot, raw index of the low 16 bits)
    elevation: tuple[tuple[int, int, str], ...]  # (slot, raw index, name)
    pace: tuple[tuple[int, int, int, str], ...]  # (slot, raw index, kind, name)


def _plan(flags: int, length: int, pace_width: PaceWidth, vendor_step_count: bool | None) -> _Plan:
    width, with_steps = _choose_layout(flags, length, pace_width, vendor_step_count)
    fmt = "<"
    ints: list[tuple[int, int, int | None]] = []
    scaled: list[tuple[int, int, float, int | None]] = []
    uint24: list[tuple[int, int]] = []
    elevation: list[tuple[int, int, str]] = []
    pace: list[tuple[int, int, int, str]] = []
    missing: list[str] = []
    offset, raw_index = _FLAGS_SIZE, 0
    for spec in _FIELDS[width]:
        if not _announced(spec, flags, with_steps):
            continue
        if missing or offset + spec.size > length:
            missing.append(spec.name)
            continue
        slot = _SLOTS[spec.name]
        if spec.kind == _INT:
            ints.append((slot, raw_index, spec.sentinel))
        elif spec.kind == _SCALED:
            scaled.append((slot, raw_index, spec.divisor, spec.sentinel))
        elif spec.kind == _UINT24:
            uint24.append((slot, raw_index))
        elif spec.kind == _ELEVATION:
            elevation.append((slot, raw_index, spec.name))
        else:
            pace.append((slot, raw_index, spec.kind, spec.name))
        fmt += spec.fmt
        offset += spec.size
        raw_index += len(spec.fmt)
    diagnostics = _plan_diagnostics(flags, length, offset, missing, with_steps)
    if width is not pace_width:
        diagnostics.append(f"pace decoded as {width.name}: only that width fits the length")
    template: list[object] = [None] * len(_SLOTS)
    template[_SLOTS["flags"]] = flags
    template[_SLOTS["more_data"]] = bool(flags & TreadmillDataFlag.MORE_DATA)
    template[_SLOTS["truncated"]] = bool(missing)
    template[_SLOTS["missing_fields"]] = tuple(missing)
    template[_DIAGNOSTICS_SLOT] = tuple(diagnostics)
    return _Plan(
        struct.Struct(fmt),
        tuple(template),
        tuple(ints),
        tuple(scaled),
        tuple(uint24),
        tuple(elevation),
        tuple(pace),
    )


def _plan_diagnostics(
    flags: int, length: int, end: int, missing: list[str], with_steps: bool
) -> list[str]:
    diagnostics = []
    if missing:
        diagnostics.append(
            f"flags 0x{flags:04x} announce fields the {length}-byte packet lacks: "
            + ", ".join(missing)
        )
    elif length > end:
        diagnostics.append(f"{length - end} trailing byte(s) after the announced fields ignored")
    if flags & TreadmillDataFlag.VENDOR_STEP_COUNT and not with_steps:
        diagnostics.append("RFU flag bit 13 set; no vendor step count decoded")
    if flags & _RFU_HIGH:
        diagnostics.append(f"RFU flag bits 0x{flags & _RFU_HIGH:04x} set")
    return diagnostics


_Decoder = Callable[[bytes | bytearray | memoryview], TreadmillData]


def _compile(plan: _Plan) -> _Decoder:
    """The plan as one straight-line function: unpack, convert each value, build the record.

    Generated source (as `dataclasses` generates `__init__`), from the plan's own numbers and
    slot indices only: no loops, no list of values, no per-field tuple unpacking, which
    made up a quarter of a decode. `_decode_source` is what it compiles.
    """
    scope: dict[str, object] = {
        "_unpack": plan.layout.unpack_from,
        "_template": plan.template,
        "_new": object.__new__,
        "_TreadmillData": TreadmillData,
        "_NA": _VENDOR_ELEVATION_NA,
        "_NOTES": _VALUE_NOTES,
        **_SLOT_SETTERS,
    }
    exec(_decode_source(plan), scope)  # noqa: S102 - built from the plan's numbers only
    decode: _Decoder = scope["_decode"]  # type: ignore[assignment]
    return decode


def _decode_source(plan: _Plan) -> str:
    args = [f"_template[{slot}]" for slot in range(len(plan.template))]
    body: list[str] = []
    for slot, index, sentinel in plan.ints:
        value = f"r[{index}]"
        args[slot] = value if sentinel is None else f"(None if {value} == {sentinel} else {value})"
    for slot, index, divisor, sentinel in plan.scaled:
        value = f"r[{index}]"
        scaled = f"{value} / {divisor!r}"
        args[slot] = (
            scaled if sentinel is None else f"(None if {value} == {sentinel} else {scaled})"
        )
    for slot, index in plan.uint24:
        args[slot] = f"(r[{index}] | r[{index + 1}] << 16)"
    for slot, index, name in plan.elevation:
        body += [
            f"v = r[{index}]",
            "if v in _NA:",
            f"    v{slot} = None",
            f"    notes.append(_NOTES[{name!r}, v])",
            "else:",
            f"    v{slot} = v / {_ELEVATION_UNITS!r}",
        ]
        args[slot] = f"v{slot}"
    for slot, index, kind, name in plan.pace:
        if kind == _PACE8:
            args[slot] = f"r[{index}] * {_KMH_PER_PACE8!r}"
            continue
        body += [
            f"v = r[{index}]",
            "if v:",
            f"    v{slot} = {_PACE16_KMH_SECONDS!r} / v",
            "else:",
            f"    v{slot} = None",
            f"    notes.append(_NOTES[{name!r}, v])",
        ]
        args[slot] = f"v{slot}"
    if body:
        body.insert(0, "notes = []")
        given = f"_template[{_DIAGNOSTICS_SLOT}]"
        args[_DIAGNOSTICS_SLOT] = f"(({given} + tuple(notes)) if notes else {given})"
    lines = [
        "def _decode(data):",
        f"    r = _unpack(data, {_FLAGS_SIZE})",
        *(f"    {line}" for line in body),
        "    record = _new(_TreadmillData)",
        *(f"    _set_{name}(record, {arg})" for name, arg in zip(_SLOTS, args, strict=True)),
        "    return record",
    ]
    return "\n".join(lines) + "\n"


# A compiled decoder per (flags, length, pace width, step-count option).
_PLANS: dict[tuple[int, int, PaceWidth, bool | None], _Decoder] = {}


def parse_treadmill_data(
    data: bytes | bytearray | memoryview,
    *,
    pace_width: PaceWidth = PaceWidth.UINT8,
    vendor_step_count: bool | None = None,
) -> TreadmillData:
    """Decode one Treadmill Data (0x2ACD) notification.

    Args:
        data: The notification value.
        pace_width: The pace field width to assume (docs/ftms.md §3.3); the other width is used
            instead when only it matches the packet length.
        vendor_step_count: Decode a step count behind RFU flag bit 13 (D5): `True` always,
            `False` never, `None` when exactly three bytes follow the standard fields.

    Returns:
        The decoded packet. Fields that were announced but did not arrive are listed in
        `missing_fields` with `truncated=True`.

    Raises:
        CodecError: If `data` is shorter than the flags word.
    """
    length = len(data)
    if length < _FLAGS_SIZE:
        raise CodecError("Treadmill Data needs at least its 2-byte flags word", data)
    flags = data[0] | data[1] << 8
    key = (flags, length, pace_width, vendor_step_count)
    decode = _PLANS.get(key)
    if decode is None:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        plan = _plan(flags, length, pace_width, vendor_step_count)
        decode = _PLANS[key] = _compile(plan)
    return decode(data)


# The diagnostics a value can raise, written once: formatting them per packet is slow.
_VALUE_NOTES: Final = {
    **{
        (name, value): f"{name}: 0x{value:04x} is a vendor 'not available' marker (the spec "
        "defines none for elevation gain); decoded as not available"
        for name in ("positive_elevation_gain_m", "negative_elevation_gain_m")
        for value in sorted(_VENDOR_ELEVATION_NA)
    },
    **{
        (name, 0): f"{name}: 0 s per 500 m is not a pace; decoded as not available"
        for name in ("instantaneous_pace_kmh", "average_pace_kmh")
    },
}


# Encoding: fields grouped by the flag bit that announces them, in wire order.
def _to_raw(spec: _Field, value: float) -> int:
    if spec.kind == _PACE8:
        return round(value / _KMH_PER_PACE8)
    if spec.kind == _PACE16:
        if value <= 0:
            raise ValueError(f"{spec.name} must be > 0 km/h to encode as s per 500 m")
        return round(_PACE16_KMH_SECONDS / value)
    return round(value * spec.divisor)


def _not_available(spec: _Field) -> int:
    # Only fields that share a flag bit get here. Among those only the elevation gains
    # have no spec sentinel: send the all-ones vendor marker our decoder knows (D3).
    return _SENTINEL_UINT16 if spec.sentinel is None else spec.sentinel


def _reads_as_missing(spec: _Field, raw: int) -> bool:
    if spec.kind == _ELEVATION:
        return raw in _VENDOR_ELEVATION_NA
    return raw == spec.sentinel or (spec.kind == _PACE16 and raw == 0)


def _encode_group(record: TreadmillData, specs: list[_Field]) -> bytes:
    out = bytearray()
    for spec in specs:
        value = getattr(record, spec.name)
        raw = _not_available(spec) if value is None else _to_raw(spec, value)
        if value is not None and _reads_as_missing(spec, raw):
            raise ValueError(f"{spec.name}={value!r} would be read as 'not available'")
        try:
            if spec.kind == _UINT24:
                out += raw.to_bytes(3, "little")
            else:
                out += struct.pack("<" + spec.fmt, raw)
        except (struct.error, OverflowError) as exc:
            raise ValueError(f"{spec.name}={value!r} does not fit its wire field") from exc
    return bytes(out)


def _groups(
    record: TreadmillData, pace_width: PaceWidth
) -> tuple[list[tuple[int, bytes]], bytes | None]:
    """Encode every announced group; return (bit, bytes) pairs and the speed bytes apart."""
    by_bit: dict[int, list[_Field]] = {}
    for spec in _FIELDS[pace_width]:
        by_bit.setdefault(spec.bit, []).append(spec)
    speed = None
    groups = []
    for bit, specs in by_bit.items():
        if bit == TreadmillDataFlag.MORE_DATA:
            if record.speed_kmh is not None:
                speed = _encode_group(record, specs)
        elif any(getattr(record, spec.name) is not None for spec in specs):
            groups.append((bit, _encode_group(record, specs)))
    return groups, speed


def _packet(flags: int, speed: bytes | None, groups: list[tuple[int, bytes]]) -> bytes:
    for bit, _payload in groups:
        flags |= bit
    body = b"".join(payload for _bit, payload in groups)
    return flags.to_bytes(2, "little") + (speed or b"") + body


def encode_treadmill_data(
    record: TreadmillData, *, pace_width: PaceWidth = PaceWidth.UINT8
) -> bytes:
    """Encode `record` as one Treadmill Data notification.

    The flags are derived from which fields are not `None` (the record's own `flags` is
    ignored). With `more_data` set, bit 0 is 1 and speed is left out; otherwise speed is
    required. A `None` partner of a present field (e.g. ramp angle beside incline) is sent
    as that field's "not available" value.

    Raises:
        ValueError: If a value does not fit its wire field, or speed is missing from a
            record that ends (`more_data=False`).
    """
    groups, speed = _groups(record, pace_width)
    if record.more_data:
        return _packet(TreadmillDataFlag.MORE_DATA, None, groups)
    if speed is None:
        raise ValueError("a record with more_data=False must carry speed_kmh")
    return _packet(0, speed, groups)


def split_treadmill_data(record: TreadmillData, max_payload: int = 20) -> list[bytes]:
    """Encode a complete record as spec-correct More-Data notifications (docs/ftms.md §3.4).

    Field groups are packed in wire order into notifications of at most `max_payload`
    bytes; every notification but the last has bit 0 set, and the last carries speed.

    Raises:
        ValueError: If the record has no speed, a value does not fit, or `max_payload` is
            too small for the largest field group.
    """
    groups, speed = _groups(record, PaceWidth.UINT8)
    if speed is None:
        raise ValueError("a complete record needs speed_kmh")
    room = max_payload - _FLAGS_SIZE
    if any(len(payload) > room for _bit, payload in groups) or len(speed) > room:
        raise ValueError(f"max_payload={max_payload} is too small for a field group")
    packets: list[list[tuple[int, bytes]]] = [[]]
    used = 0
    for bit, payload in groups:
        if used + len(payload) > room:
            packets.append([])
            used = 0
        packets[-1].append((bit, payload))
        used += len(payload)
    if used + len(speed) > room:
        packets.append([])
    *heads, last = packets
    return [_packet(TreadmillDataFlag.MORE_DATA, None, g) for g in heads] + [
        _packet(0, speed, last)
    ]


class TreadmillRecordAssembler:
    """Merge More-Data notifications into whole records (docs/ftms.md §3.4).

    Feed every decoded 0x2ACD packet with the time it arrived. A packet with More Data = 0
    completes the record. A half-built record goes stale when one of its fields arrives
    again (the previous record's last packet was lost) or when more than `timeout_s`
    passed since its last packet: a stale half record is emitted with `more_data=True` and
    no speed, unless the packet that made it stale completes a record by itself; then the
    complete record is emitted and carries a diagnostic about the dropped half.
    """

    def __init__(self, timeout_s: float = 1.5) -> None:
        """Create an empty assembler.

        Args:
            timeout_s: Seconds after which a half-built record is stale.
        """
        self.timeout_s = timeout_s
        self._parts: list[TreadmillData] = []
        self._seen = 0
        self._last = 0.0

    def feed(self, packet: TreadmillData, now: float) -> TreadmillData | None:
        """Add one decoded packet received at `now` (seconds, any monotonic clock).

        Returns:
            A complete record, a stale half record, or `None` while a record is building.
        """
        fields = packet.flags & _FIELD_BITS
        stale = None
        if self._parts and (fields & self._seen or now - self._last > self.timeout_s):
            stale = self.flush()
        if not packet.more_data:
            if not self._parts:
                return packet if stale is None else _with_dropped(packet, stale)
            self._parts.append(packet)
            record = _merge(self._parts, more_data=False)
            self._parts, self._seen = [], 0
            return record
        self._parts.append(packet)
        self._seen |= fields
        self._last = now
        return stale

    def flush(self) -> TreadmillData | None:
        """Emit the half-built record, if any (e.g. on link loss), and start afresh."""
        if not self._parts:
            return None
        record = _merge(self._parts, more_data=True)
        self._parts, self._seen = [], 0
        return record


_EMPTY: Final = TreadmillData()
_FIELD_BITS: Final = ~int(TreadmillDataFlag.MORE_DATA)
"""Every flag bit but More Data, as a plain int: enum arithmetic runs in Python, per packet."""


def _merge(parts: list[TreadmillData], *, more_data: bool) -> TreadmillData:
    if len(parts) == 1 and parts[0].more_data == more_data:
        return parts[0]
    values: dict[str, Any] = dict.fromkeys(MEASUREMENTS)
    flags = 0
    for part in parts:
        flags |= part.flags
        for name in MEASUREMENTS:
            value = getattr(part, name)
            if value is not None:
                values[name] = value
    flags = (
        flags | TreadmillDataFlag.MORE_DATA if more_data else flags & ~TreadmillDataFlag.MORE_DATA
    )
    return replace(
        _EMPTY,
        flags=flags,
        more_data=more_data,
        truncated=any(part.truncated for part in parts),
        missing_fields=tuple(name for part in parts for name in part.missing_fields),
        diagnostics=tuple(note for part in parts for note in part.diagnostics),
        **values,
    )


def _with_dropped(record: TreadmillData, stale: TreadmillData) -> TreadmillData:
    kept = [name for name in MEASUREMENTS if getattr(stale, name) is not None]
    note = "dropped an incomplete earlier record with " + (", ".join(kept) or "no values")
    return replace(record, diagnostics=(*record.diagnostics, note))

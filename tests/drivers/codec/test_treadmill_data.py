from __future__ import annotations

from dataclasses import FrozenInstanceError, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadwell.drivers.codec import treadmill_data
from treadwell.drivers.codec.treadmill_data import (
    MEASUREMENTS,
    PaceWidth,
    TreadmillData,
    TreadmillDataFlag,
    TreadmillRecordAssembler,
    encode_treadmill_data,
    parse_treadmill_data,
    split_treadmill_data,
)
from treadwell.drivers.errors import CodecError

LIFE_FITNESS = bytes.fromhex("9E0517059202FB00000000FF7F7C00FF7F1B00FFFFFF698A00")
TECHNOGYM_1 = bytes.fromhex("1F0084012A0000000000000100 0000")
TECHNOGYM_2 = bytes.fromhex("80064E020200FFFFFF372700")


def values(record: TreadmillData) -> dict[str, object]:
    return {name: getattr(record, name) for name in MEASUREMENTS}


# --- decoding: table of byte vectors ----------------------------------------------------

DECODE_CASES = [
    pytest.param(
        "0800 F401 E2FF FF7F",
        {"speed_kmh": 5.0, "incline_pct": -3.0},
        (),
        id="negative incline is a decline, ramp 0x7FFF is not available",
    ),
    pytest.param(
        "0800 F401 FF7F 1E00",
        {"speed_kmh": 5.0, "ramp_angle_deg": 3.0},
        (),
        id="incline 0x7FFF is not available",
    ),
    pytest.param(
        "8000 0000 FFFF FFFF FF",
        {"speed_kmh": 0.0},
        (),
        id="expended energy triplet all not available",
    ),
    pytest.param(
        "8000 0000 1000 2C01 05",
        {
            "speed_kmh": 0.0,
            "total_energy_kcal": 16,
            "energy_per_hour_kcal": 300,
            "energy_per_minute_kcal": 5,
        },
        (),
        id="expended energy triplet",
    ),
    pytest.param(
        "0010 6400 FBFF FF7F",
        {"speed_kmh": 1.0, "force_on_belt_n": -5},
        (),
        id="signed force on belt, power not available",
    ),
    pytest.param(
        "0403 6400 FFFFFF 8A 64",
        {
            "speed_kmh": 1.0,
            "total_distance_m": 0xFFFFFF,
            "heart_rate_bpm": 138,
            "metabolic_equivalent": 10.0,
        },
        (),
        id="uint24 distance has no sentinel, MET at 0.1",
    ),
    pytest.param(
        "000C 6400 1027 0A00",
        {"speed_kmh": 1.0, "elapsed_time_s": 10000, "remaining_time_s": 10},
        (),
        id="elapsed and remaining time",
    ),
    pytest.param(
        "6000 B004 02 03",
        {"speed_kmh": 12.0, "instantaneous_pace_kmh": 12.0, "average_pace_kmh": 18.0},
        (),
        id="pace defaults to uint8 km/min",
    ),
    pytest.param(
        "2000 B004 9600",
        {"speed_kmh": 12.0, "instantaneous_pace_kmh": 12.0},
        ("pace decoded as UINT16: only that width fits the length",),
        id="pace width follows the length when only uint16 fits",
    ),
    pytest.param(
        "1000 6400 FFFF 0A00",
        {"speed_kmh": 1.0, "negative_elevation_gain_m": 1.0},
        (
            "positive_elevation_gain_m: 0xffff is a vendor 'not available' marker (the spec "
            "defines none for elevation gain); decoded as not available",
        ),
        id="all-ones elevation gain is a flagged vendor marker",
    ),
    pytest.param(
        "0000 6400 AA BB",
        {"speed_kmh": 1.0},
        ("2 trailing byte(s) after the announced fields ignored",),
        id="trailing bytes are ignored and reported",
    ),
    pytest.param(
        "0040 6400",
        {"speed_kmh": 1.0},
        ("RFU flag bits 0x4000 set",),
        id="RFU bit 14 is reported",
    ),
    pytest.param(
        "0424 6400 0A0000 2C01 E80300",
        {"speed_kmh": 1.0, "total_distance_m": 10, "elapsed_time_s": 300, "step_count": 1000},
        (),
        id="step count behind bit 13 when exactly three bytes follow",
    ),
    pytest.param(
        "0424 6400 0A0000 2C01 0000",
        {"speed_kmh": 1.0, "total_distance_m": 10, "elapsed_time_s": 300},
        (
            "2 trailing byte(s) after the announced fields ignored",
            "RFU flag bit 13 set; no vendor step count decoded",
        ),
        id="bit 13 without exactly three extra bytes decodes no step count",
    ),
]


@pytest.mark.parametrize(("hex_data", "expected", "diagnostics"), DECODE_CASES)
def test_decodes_vector(
    hex_data: str, expected: dict[str, object], diagnostics: tuple[str, ...]
) -> None:
    record = parse_treadmill_data(bytes.fromhex(hex_data))
    assert values(record) == {**dict.fromkeys(MEASUREMENTS), **expected}
    assert record.diagnostics == diagnostics
    assert not record.truncated


def test_worked_life_fitness_example_decodes_every_field() -> None:
    record = parse_treadmill_data(LIFE_FITNESS)
    assert record.flags == 0x059E
    assert not record.more_data
    assert values(record) == {
        **dict.fromkeys(MEASUREMENTS),
        "speed_kmh": 13.03,
        "average_speed_kmh": 6.58,
        "total_distance_m": 251,
        "incline_pct": 0.0,
        "positive_elevation_gain_m": 12.4,
        "total_energy_kcal": 27,
        "heart_rate_bpm": 105,
        "elapsed_time_s": 138,
    }


@pytest.mark.parametrize("data", [b"", b"\x00"])
def test_less_than_a_flags_word_is_a_codec_error(data: bytes) -> None:
    with pytest.raises(CodecError, match="2-byte flags word") as exc:
        parse_treadmill_data(data)
    assert exc.value.data == data


def test_flags_without_speed_bytes_is_truncated_not_an_error() -> None:
    record = parse_treadmill_data(b"\x00\x00")
    assert record.truncated
    assert record.missing_fields == ("speed_kmh",)
    assert record.speed_kmh is None


def test_truncation_inside_a_flag_group_keeps_the_whole_fields() -> None:
    record = parse_treadmill_data(bytes.fromhex("0800 F401 1E00 FF"))
    assert record.incline_pct == 3.0
    assert record.ramp_angle_deg is None
    assert record.truncated
    assert record.missing_fields == ("ramp_angle_deg",)
    assert record.diagnostics == (
        "flags 0x0008 announce fields the 7-byte packet lacks: ramp_angle_deg",
    )


def test_more_data_bit_means_no_speed_field() -> None:
    record = parse_treadmill_data(bytes.fromhex("0301 F401 50"))
    assert record.more_data
    assert record.speed_kmh is None
    assert record.average_speed_kmh == 5.0
    assert record.heart_rate_bpm == 80


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_accepts_any_bytes_like(kind: type[bytes | bytearray | memoryview]) -> None:
    assert parse_treadmill_data(kind(LIFE_FITNESS)) == parse_treadmill_data(LIFE_FITNESS)


def test_uint16_pace_when_asked_converts_seconds_per_500m() -> None:
    data = bytes.fromhex("2000 B004 9600")
    record = parse_treadmill_data(data, pace_width=PaceWidth.UINT16)
    assert record.instantaneous_pace_kmh == 12.0
    assert record.diagnostics == ()


def test_uint16_pace_of_zero_seconds_is_not_available() -> None:
    record = parse_treadmill_data(bytes.fromhex("2000 B004 0000"), pace_width=PaceWidth.UINT16)
    assert record.instantaneous_pace_kmh is None
    assert record.diagnostics == (
        "instantaneous_pace_kmh: 0 s per 500 m is not a pace; decoded as not available",
    )


def test_uint8_wins_when_both_widths_could_be_truncations() -> None:
    record = parse_treadmill_data(bytes.fromhex("6000 B004 02"))
    assert record.instantaneous_pace_kmh == 12.0
    assert record.missing_fields == ("average_pace_kmh",)


def test_uint16_request_falls_back_to_uint8_when_only_it_fits() -> None:
    record = parse_treadmill_data(bytes.fromhex("6000 B004 02 03"), pace_width=PaceWidth.UINT16)
    assert (record.instantaneous_pace_kmh, record.average_pace_kmh) == (12.0, 18.0)
    assert record.diagnostics == ("pace decoded as UINT8: only that width fits the length",)


def test_vendor_step_count_forced_on_reports_its_absence() -> None:
    record = parse_treadmill_data(bytes.fromhex("0020 6400"), vendor_step_count=True)
    assert record.step_count is None
    assert record.missing_fields == ("step_count",)


def test_vendor_step_count_forced_off_leaves_the_bytes_alone() -> None:
    record = parse_treadmill_data(bytes.fromhex("0020 6400 E80300"), vendor_step_count=False)
    assert record.step_count is None
    assert record.diagnostics == (
        "3 trailing byte(s) after the announced fields ignored",
        "RFU flag bit 13 set; no vendor step count decoded",
    )


def test_to_dict_has_the_decode_keys() -> None:
    result = parse_treadmill_data(LIFE_FITNESS).to_dict()
    assert result["speed_kmh"] == 13.03
    assert result["ramp_angle_deg"] is None
    assert result["truncated"] is False
    assert result["missing_fields"] == []
    assert len(result["diagnostics"]) == 1  # type: ignore[arg-type]
    for key in ("step_count", "power_w", "metabolic_equivalent", "energy_per_minute_kcal"):
        assert key in result


def test_plan_cache_stays_bounded() -> None:
    treadmill_data._PLANS.clear()
    for flags in range(treadmill_data._MAX_PLANS + 10):
        parse_treadmill_data(flags.to_bytes(2, "little"))
    assert len(treadmill_data._PLANS) <= treadmill_data._MAX_PLANS


# --- property tests ---------------------------------------------------------------------


@given(st.binary(max_size=64), st.sampled_from(PaceWidth), st.sampled_from([None, True, False]))
@settings(max_examples=400)
def test_arbitrary_bytes_decode_or_raise_codec_error(
    data: bytes, width: PaceWidth, steps: bool | None
) -> None:
    try:
        record = parse_treadmill_data(data, pace_width=width, vendor_step_count=steps)
    except CodecError:
        assert len(data) < 2
        return
    assert record.flags == int.from_bytes(data[:2], "little")
    assert record.truncated == bool(record.missing_fields)
    for name in record.missing_fields:
        assert getattr(record, name) is None


def _maybe(strategy: st.SearchStrategy[float]) -> st.SearchStrategy[float | None]:
    return st.none() | strategy


def _scaled(low: int, high: int, divisor: int, *, skip: set[int] | None = None):  # type: ignore[no-untyped-def]
    raw = st.integers(low, high)
    if skip:
        raw = raw.filter(lambda v: v not in skip)
    return raw.map(lambda v: v / divisor)


def records(width: PaceWidth = PaceWidth.UINT8) -> st.SearchStrategy[TreadmillData]:
    if width is PaceWidth.UINT8:
        pace = st.integers(0, 0xFF).map(lambda v: v * 6.0)
    else:
        pace = st.integers(1, 0xFFFF).map(lambda v: 1800 / v)
    u16 = st.integers(0, 0xFFFF)
    return st.builds(
        TreadmillData,
        more_data=st.booleans(),
        speed_kmh=_scaled(0, 0xFFFF, 100),
        average_speed_kmh=_maybe(_scaled(0, 0xFFFF, 100)),
        total_distance_m=_maybe(st.integers(0, 0xFFFFFF)),
        incline_pct=_maybe(_scaled(-0x8000, 0x7FFE, 10)),
        ramp_angle_deg=_maybe(_scaled(-0x8000, 0x7FFE, 10)),
        positive_elevation_gain_m=_maybe(_scaled(0, 0xFFFE, 10, skip={0x7FFF})),
        negative_elevation_gain_m=_maybe(_scaled(0, 0xFFFE, 10, skip={0x7FFF})),
        instantaneous_pace_kmh=_maybe(pace),
        average_pace_kmh=_maybe(pace),
        total_energy_kcal=_maybe(st.integers(0, 0xFFFE)),
        energy_per_hour_kcal=_maybe(st.integers(0, 0xFFFE)),
        energy_per_minute_kcal=_maybe(st.integers(0, 0xFE)),
        heart_rate_bpm=_maybe(st.integers(0, 0xFF)),
        metabolic_equivalent=_maybe(_scaled(0, 0xFF, 10)),
        elapsed_time_s=_maybe(u16),
        remaining_time_s=_maybe(u16),
        force_on_belt_n=_maybe(st.integers(-0x8000, 0x7FFE)),
        power_w=_maybe(st.integers(-0x8000, 0x7FFE)),
        step_count=_maybe(st.integers(0, 0xFFFFFF)),
    ).map(lambda r: replace(r, speed_kmh=None) if r.more_data else r)


def _final(record: TreadmillData) -> TreadmillData:
    speed = 0.5 if record.speed_kmh is None else record.speed_kmh
    return replace(record, more_data=False, speed_kmh=speed)


@given(records())
@settings(max_examples=300)
def test_encode_then_decode_gives_the_record_back(record: TreadmillData) -> None:
    decoded = parse_treadmill_data(encode_treadmill_data(record))
    assert values(decoded) == values(record)
    assert decoded.more_data == record.more_data
    assert not decoded.truncated


@given(records(PaceWidth.UINT16))
@settings(max_examples=200)
def test_encode_then_decode_round_trips_uint16_pace(record: TreadmillData) -> None:
    data = encode_treadmill_data(record, pace_width=PaceWidth.UINT16)
    decoded = parse_treadmill_data(data, pace_width=PaceWidth.UINT16)
    assert values(decoded) == values(record)


@given(records().map(_final), st.integers(7, 40))
@settings(max_examples=300)
def test_split_record_reassembles_to_the_record(record: TreadmillData, max_payload: int) -> None:
    packets = split_treadmill_data(record, max_payload)
    assembler = TreadmillRecordAssembler()
    results = [assembler.feed(parse_treadmill_data(p), now=0.0) for p in packets]
    assert all(len(packet) <= max_payload for packet in packets)
    assert results[:-1] == [None] * (len(packets) - 1)
    merged = results[-1]
    assert merged is not None
    assert values(merged) == values(record)
    assert not merged.more_data
    assert assembler.flush() is None


def _plain(record: TreadmillData) -> TreadmillData:
    """The record as a final packet without the length-dependent pace and step fields."""
    return replace(
        _final(record), instantaneous_pace_kmh=None, average_pace_kmh=None, step_count=None
    )


@given(records().map(_plain), st.data())
@settings(max_examples=200)
def test_a_cut_packet_keeps_every_whole_field(record: TreadmillData, data: st.DataObject) -> None:
    full = encode_treadmill_data(record)
    cut = data.draw(st.integers(2, len(full)))
    prefix = parse_treadmill_data(full[:cut])
    for name in MEASUREMENTS:
        expected = None if name in prefix.missing_fields else getattr(record, name)
        assert getattr(prefix, name) == expected
    assert prefix.truncated == (cut < len(full))


# --- encoding -----------------------------------------------------------------------------


def test_encodes_the_expected_bytes() -> None:
    record = TreadmillData(speed_kmh=13.03, incline_pct=-3.0, heart_rate_bpm=105)
    assert encode_treadmill_data(record) == bytes.fromhex("0801 1705 E2FF FF7F 69")


def test_more_data_record_sets_bit_0_and_omits_speed() -> None:
    record = TreadmillData(more_data=True, speed_kmh=9.0, average_speed_kmh=5.0)
    assert encode_treadmill_data(record) == bytes.fromhex("0300 F401")


def test_missing_elevation_partner_is_sent_as_the_vendor_marker() -> None:
    data = encode_treadmill_data(TreadmillData(speed_kmh=1.0, positive_elevation_gain_m=2.0))
    assert data == bytes.fromhex("1000 6400 1400 FFFF")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (TreadmillData(), "must carry speed_kmh"),
        (TreadmillData(speed_kmh=700.0), "does not fit"),
        (TreadmillData(speed_kmh=1.0, total_distance_m=-1), "does not fit"),
        (TreadmillData(speed_kmh=1.0, step_count=1 << 24), "does not fit"),
        (TreadmillData(speed_kmh=1.0, incline_pct=3276.7), "not available"),
        (TreadmillData(speed_kmh=1.0, total_energy_kcal=0xFFFF), "not available"),
        (TreadmillData(speed_kmh=1.0, positive_elevation_gain_m=3276.7), "not available"),
    ],
)
def test_encoding_refuses_what_the_wire_cannot_carry(record: TreadmillData, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_treadmill_data(record)


@pytest.mark.parametrize("pace", [0.0, -1.0, 1e6])
def test_uint16_pace_needs_a_positive_encodable_speed(pace: float) -> None:
    with pytest.raises(ValueError, match="pace"):
        encode_treadmill_data(
            TreadmillData(speed_kmh=1.0, instantaneous_pace_kmh=pace), pace_width=PaceWidth.UINT16
        )


def test_split_of_a_full_record_matches_the_matrix_layout() -> None:
    record = replace(
        parse_treadmill_data(LIFE_FITNESS),
        metabolic_equivalent=6.0,
        remaining_time_s=60,
        force_on_belt_n=3,
        power_w=90,
    )
    first, second = split_treadmill_data(record)
    assert first[:2] == bytes.fromhex("9F00")
    assert len(first) == 20
    assert second[:2] == bytes.fromhex("001F")
    assert len(second) == 14


def test_split_of_a_small_record_is_one_packet() -> None:
    record = TreadmillData(speed_kmh=4.0, heart_rate_bpm=90)
    assert split_treadmill_data(record) == [encode_treadmill_data(record)]


def test_split_puts_speed_alone_when_the_last_packet_is_full() -> None:
    record = TreadmillData(speed_kmh=4.0, average_speed_kmh=3.0)
    assert split_treadmill_data(record, max_payload=4) == [
        bytes.fromhex("0300 2C01"),
        bytes.fromhex("0000 9001"),
    ]


@pytest.mark.parametrize(
    ("record", "max_payload"),
    [
        (TreadmillData(more_data=True, average_speed_kmh=1.0), 20),
        (TreadmillData(speed_kmh=1.0, total_energy_kcal=5), 6),
    ],
)
def test_split_refuses_incomplete_records_and_tiny_payloads(
    record: TreadmillData, max_payload: int
) -> None:
    with pytest.raises(ValueError, match=r"speed_kmh|too small"):
        split_treadmill_data(record, max_payload)


# --- reassembly -----------------------------------------------------------------------------

TG_1 = parse_treadmill_data(TECHNOGYM_1)
TG_2 = parse_treadmill_data(TECHNOGYM_2)
TG_RECORD = TreadmillData(
    flags=0x069E,
    speed_kmh=5.9,
    average_speed_kmh=3.88,
    total_distance_m=42,
    incline_pct=0.0,
    ramp_angle_deg=0.0,
    positive_elevation_gain_m=0.1,
    negative_elevation_gain_m=0.0,
    total_energy_kcal=2,
    metabolic_equivalent=5.5,
    elapsed_time_s=39,
)
TG_HALF = replace(TG_1, flags=0x001F, more_data=True)


def test_single_packet_record_passes_straight_through() -> None:
    packet = parse_treadmill_data(LIFE_FITNESS)
    assert TreadmillRecordAssembler().feed(packet, now=0.0) is packet


def test_split_technogym_record_is_merged() -> None:
    assembler = TreadmillRecordAssembler()
    assert assembler.feed(TG_1, now=10.0) is None
    assert assembler.feed(TG_2, now=10.2) == TG_RECORD


def test_repeated_field_flushes_the_stale_half_record() -> None:
    assembler = TreadmillRecordAssembler()
    assert assembler.feed(TG_1, now=0.0) is None
    assert assembler.feed(TG_1, now=1.0) == TG_HALF
    assert assembler.feed(TG_2, now=1.1) == TG_RECORD


def test_timeout_flushes_the_stale_half_record() -> None:
    assembler = TreadmillRecordAssembler(timeout_s=0.5)
    assert assembler.feed(TG_1, now=0.0) is None
    assert assembler.feed(TG_1, now=0.6) == TG_HALF
    assert assembler.feed(TG_2, now=0.7) == TG_RECORD


def test_complete_packet_after_a_timeout_is_emitted_and_says_what_was_dropped() -> None:
    assembler = TreadmillRecordAssembler()
    assert assembler.feed(TG_1, now=0.0) is None
    record = assembler.feed(TG_2, now=5.0)
    assert record == replace(
        TG_2,
        diagnostics=(
            "dropped an incomplete earlier record with average_speed_kmh, total_distance_m, "
            "incline_pct, ramp_angle_deg, positive_elevation_gain_m, negative_elevation_gain_m",
        ),
    )
    assert assembler.flush() is None


def test_dropped_record_without_values_says_so() -> None:
    assembler = TreadmillRecordAssembler()
    empty_half = parse_treadmill_data(bytes.fromhex("0100"))
    assert assembler.feed(empty_half, now=0.0) is None
    record = assembler.feed(TG_2, now=5.0)
    assert record is not None
    assert record.diagnostics == ("dropped an incomplete earlier record with no values",)


def test_flush_on_link_loss_returns_the_half_record_once() -> None:
    assembler = TreadmillRecordAssembler()
    assert assembler.flush() is None
    assert assembler.feed(TG_1, now=0.0) is None
    assert assembler.flush() == TG_HALF
    assert assembler.flush() is None


def test_merged_record_carries_every_part_s_diagnostics() -> None:
    cut = parse_treadmill_data(TECHNOGYM_1[:-1])
    assembler = TreadmillRecordAssembler()
    assert assembler.feed(cut, now=0.0) is None
    record = assembler.feed(TG_2, now=0.1)
    assert record is not None
    assert record.truncated
    assert record.missing_fields == ("negative_elevation_gain_m",)
    assert record.diagnostics == cut.diagnostics


def test_flag_enum_names_the_wire_bits() -> None:
    assert TreadmillDataFlag(0x059E) & TreadmillDataFlag.HEART_RATE
    assert not TreadmillDataFlag(0x059E) & TreadmillDataFlag.MORE_DATA


def test_decoded_record_is_an_ordinary_frozen_treadmill_data() -> None:
    record = parse_treadmill_data(TECHNOGYM_2)
    built = TreadmillData(
        flags=0x0680,
        speed_kmh=5.9,
        total_energy_kcal=2,
        metabolic_equivalent=5.5,
        elapsed_time_s=39,
    )
    assert type(record) is TreadmillData
    assert record == built
    assert hash(record) == hash(built)
    assert repr(record) == repr(built)
    with pytest.raises(FrozenInstanceError):
        record.speed_kmh = 1.0  # type: ignore[misc]

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadwell.drivers.codec.heart_rate import (
    HeartRateMeasurement,
    SensorContact,
    encode_heart_rate_measurement,
    parse_heart_rate_measurement,
)
from treadwell.drivers.errors import CodecError


@pytest.mark.parametrize(
    ("hex_data", "expected"),
    [
        ("00 48", HeartRateMeasurement(72, SensorContact.NOT_SUPPORTED, None, ())),
        ("02 48", HeartRateMeasurement(72, SensorContact.NOT_SUPPORTED, None, ())),
        ("04 54", HeartRateMeasurement(84, SensorContact.NO_CONTACT, None, ())),
        ("06 54", HeartRateMeasurement(84, SensorContact.CONTACT, None, ())),
        ("01 2C 01", HeartRateMeasurement(300, SensorContact.NOT_SUPPORTED, None, ())),
        ("08 60 10 27", HeartRateMeasurement(96, SensorContact.NOT_SUPPORTED, 10000, ())),
        ("10 60 00 04 01", HeartRateMeasurement(96, SensorContact.NOT_SUPPORTED, None, (1000.0,))),
        ("10 60", HeartRateMeasurement(96, SensorContact.NOT_SUPPORTED, None, ())),
        (
            "1F 60 00 0A 00 00 02 00 04",
            HeartRateMeasurement(0x0060, SensorContact.CONTACT, 10, (500.0, 1000.0)),
        ),
    ],
)
def test_heart_rate_measurement_decodes(hex_data: str, expected: HeartRateMeasurement) -> None:
    assert parse_heart_rate_measurement(bytes.fromhex(hex_data)) == expected


def test_polar_h7_example_decodes_rr_in_milliseconds() -> None:
    value = parse_heart_rate_measurement(bytearray.fromhex("16 73 10 02 0D 02"))
    assert value.heart_rate_bpm == 115
    assert value.rr_intervals_ms == pytest.approx((515.6, 512.7), abs=0.05)
    assert value.to_dict() == {
        "heart_rate_bpm": 115,
        "sensor_contact": "contact",
        "energy_expended_kj": None,
        "rr_intervals_ms": [515.625, 512.6953125],
    }


@pytest.mark.parametrize(
    ("hex_data", "message"),
    [
        ("", "empty"),
        ("00", "lacks its heart rate"),
        ("01 48", "uint16"),
        ("08 48 10", "energy"),
    ],
)
def test_missing_announced_values_are_codec_errors(hex_data: str, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        parse_heart_rate_measurement(bytes.fromhex(hex_data))


def test_odd_trailing_rr_byte_is_ignored() -> None:
    value = parse_heart_rate_measurement(bytes.fromhex("10 60 00 04 01"))
    assert value.rr_intervals_ms == (1000.0,)


measurements = st.builds(
    HeartRateMeasurement,
    heart_rate_bpm=st.integers(0, 0xFFFF),
    sensor_contact=st.sampled_from(SensorContact),
    energy_expended_kj=st.none() | st.integers(0, 0xFFFF),
    rr_intervals_ms=st.lists(st.integers(0, 0xFFFF).map(lambda v: v * 1000 / 1024), max_size=8).map(
        tuple
    ),
)


@given(measurements, st.booleans())
@settings(max_examples=300)
def test_heart_rate_round_trips(value: HeartRateMeasurement, uint16: bool) -> None:
    assert (
        parse_heart_rate_measurement(encode_heart_rate_measurement(value, uint16=uint16)) == value
    )


@given(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=8).map(tuple))
@settings(max_examples=200)
def test_raw_rr_intervals_are_sent_unchanged(rr_raw: tuple[int, ...]) -> None:
    value = HeartRateMeasurement(60, SensorContact.CONTACT, None, ())
    decoded = parse_heart_rate_measurement(encode_heart_rate_measurement(value, rr_raw=rr_raw))
    assert decoded.rr_intervals_ms == tuple(v * 1000 / 1024 for v in rr_raw)


def test_polar_h7_example_encodes_back() -> None:
    value = HeartRateMeasurement(115, SensorContact.CONTACT, None, ())
    data = encode_heart_rate_measurement(value, rr_raw=(0x0210, 0x020D))
    assert data == bytes.fromhex("16 73 10 02 0D 02")


def test_heart_rate_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_heart_rate_measurement(HeartRateMeasurement(70000, SensorContact.CONTACT, None, ()))


@given(st.binary(max_size=24))
@settings(max_examples=300)
def test_arbitrary_bytes_raise_nothing_but_codec_error(data: bytes) -> None:
    try:
        parse_heart_rate_measurement(data)
    except CodecError as exc:
        error = exc
    else:
        return
    assert error.data == data

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadwell.drivers.codec.rsc import (
    RscMeasurement,
    encode_rsc_measurement,
    parse_rsc_measurement,
)
from treadwell.drivers.errors import CodecError


@pytest.mark.parametrize(
    ("hex_data", "expected"),
    [
        ("00 0002 A0", RscMeasurement(2.0, 160, None, None, running=False)),
        ("04 0003 B4", RscMeasurement(3.0, 180, None, None, running=True)),
        ("01 0002 A0 7D00", RscMeasurement(2.0, 160, 1.25, None, running=False)),
        ("02 0002 A0 10270000", RscMeasurement(2.0, 160, None, 1000.0, running=False)),
        ("07 0003 B4 8200 F6090000 FF", RscMeasurement(3.0, 180, 1.3, 255.0, running=True)),
    ],
)
def test_rsc_measurement_decodes(hex_data: str, expected: RscMeasurement) -> None:
    assert parse_rsc_measurement(bytes.fromhex(hex_data)) == expected


def test_technogym_example_is_12_km_per_hour() -> None:
    value = parse_rsc_measurement(memoryview(bytes.fromhex("03 5C 03 A1 82 00 F6 09 00 00")))
    assert value.speed_mps * 3.6 == pytest.approx(12.09, abs=0.01)
    assert value.to_dict() == {
        "speed_mps": 3.359375,
        "cadence_spm": 161,
        "stride_length_m": 1.3,
        "total_distance_m": 255.0,
        "running": False,
    }


@pytest.mark.parametrize(
    ("hex_data", "message"),
    [
        ("", "4 bytes"),
        ("00 0002", "4 bytes"),
        ("01 0002 A0 7D", "stride"),
        ("03 0002 A0 7D00 1027", "distance"),
    ],
)
def test_missing_values_are_codec_errors(hex_data: str, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        parse_rsc_measurement(bytes.fromhex(hex_data))


measurements = st.builds(
    RscMeasurement,
    speed_mps=st.integers(0, 0xFFFF).map(lambda v: v / 256),
    cadence_spm=st.integers(0, 0xFF),
    stride_length_m=st.none() | st.integers(0, 0xFFFF).map(lambda v: v / 100),
    total_distance_m=st.none() | st.integers(0, 0xFFFFFFFF).map(lambda v: v / 10),
    running=st.booleans(),
)


@given(measurements)
@settings(max_examples=300)
def test_rsc_round_trips(value: RscMeasurement) -> None:
    assert parse_rsc_measurement(encode_rsc_measurement(value)) == value


def test_rsc_value_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_rsc_measurement(RscMeasurement(3.0, 300))


@given(st.binary(max_size=24))
@settings(max_examples=300)
def test_arbitrary_bytes_raise_nothing_but_codec_error(data: bytes) -> None:
    try:
        parse_rsc_measurement(data)
    except CodecError as exc:
        error = exc
    else:
        return
    assert error.data == data

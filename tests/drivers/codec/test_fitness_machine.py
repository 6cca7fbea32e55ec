from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadwell.drivers.codec.fitness_machine import (
    ControlOp,
    ControlPointRequest,
    ControlPointResponse,
    InclinationRange,
    MachineFeature,
    MachineFeatures,
    MachineStatus,
    MachineStatusOp,
    ResultCode,
    SpeedRange,
    TargetSetting,
    TrainingStatus,
    TrainingStatusCode,
    encode_control_point_request,
    encode_control_point_response,
    encode_fitness_machine_feature,
    encode_machine_status,
    encode_request_control,
    encode_reset,
    encode_set_target_inclination,
    encode_set_target_speed,
    encode_start_or_resume,
    encode_stop_or_pause,
    encode_supported_inclination_range,
    encode_supported_speed_range,
    encode_training_status,
    flag_names,
    parse_control_point_request,
    parse_control_point_response,
    parse_fitness_machine_feature,
    parse_machine_status,
    parse_supported_inclination_range,
    parse_supported_speed_range,
    parse_training_status,
)
from treadwell.drivers.errors import CodecError

if TYPE_CHECKING:
    from collections.abc import Callable

# --- control point requests: the docs/ftms.md §7.1 examples -------------------------------------


@pytest.mark.parametrize(
    ("encoded", "hex_data"),
    [
        (encode_request_control(), "00"),
        (encode_reset(), "01"),
        (encode_set_target_speed(2.5), "02 FA 00"),
        (encode_set_target_inclination(4.5), "03 2D 00"),
        (encode_set_target_inclination(-3.0), "03 E2 FF"),
        (encode_start_or_resume(), "07"),
        (encode_stop_or_pause(pause=True), "08 02"),
        (encode_stop_or_pause(pause=False), "08 01"),
        (encode_control_point_response(ControlOp.REQUEST_CONTROL, ResultCode.SUCCESS), "80 00 01"),
    ],
)
def test_control_point_encodings_match_the_spec_examples(encoded: bytes, hex_data: str) -> None:
    assert encoded == bytes.fromhex(hex_data)


@pytest.mark.parametrize(
    ("hex_data", "expected"),
    [
        ("00", ControlPointRequest(ControlOp.REQUEST_CONTROL)),
        ("02 FA 00", ControlPointRequest(ControlOp.SET_TARGET_SPEED, speed_kmh=2.5)),
        ("03 E2 FF", ControlPointRequest(ControlOp.SET_TARGET_INCLINATION, incline_pct=-3.0)),
        ("08 01", ControlPointRequest(ControlOp.STOP_OR_PAUSE, pause=False)),
        ("08 07", ControlPointRequest(ControlOp.STOP_OR_PAUSE, parameter=b"\x07")),
        ("02 FA", ControlPointRequest(ControlOp.SET_TARGET_SPEED, parameter=b"\xfa")),
        ("03 00 00 00", ControlPointRequest(ControlOp.SET_TARGET_INCLINATION, parameter=b"\0\0\0")),
        ("05 C8 00", ControlPointRequest(ControlOp.SET_TARGET_POWER, parameter=b"\xc8\x00")),
        ("42 01", ControlPointRequest(0x42, parameter=b"\x01")),
    ],
)
def test_control_point_requests_decode_on_the_server_side(
    hex_data: str, expected: ControlPointRequest
) -> None:
    assert parse_control_point_request(bytes.fromhex(hex_data)) == expected


def test_rfu_request_op_code_stays_a_raw_int() -> None:
    request = parse_control_point_request(b"\x42")
    assert request.op == 0x42
    assert not isinstance(request.op, ControlOp)
    assert request.to_dict()["op_name"] is None


@pytest.mark.parametrize(
    ("hex_data", "expected"),
    [
        ("80 00 01", ControlPointResponse(ControlOp.REQUEST_CONTROL, ResultCode.SUCCESS)),
        ("80 03 05", ControlPointResponse(ControlOp.SET_TARGET_INCLINATION, 5)),
        ("80 03 03", ControlPointResponse(3, ResultCode.INVALID_PARAMETER)),
        ("80 13 01 E8 03 D0 07", ControlPointResponse(0x13, 1, bytes.fromhex("E803D007"))),
        ("80 42 09", ControlPointResponse(0x42, 9)),
    ],
)
def test_control_point_responses_decode_with_their_result(
    hex_data: str, expected: ControlPointResponse
) -> None:
    assert parse_control_point_response(bytes.fromhex(hex_data)) == expected


def test_response_knows_success() -> None:
    assert parse_control_point_response(bytes.fromhex("800001")).ok
    assert not parse_control_point_response(bytes.fromhex("800305")).ok


@pytest.mark.parametrize("hex_data", ["", "80", "80 00", "00 00 01"])
def test_what_cannot_be_a_response_is_a_codec_error(hex_data: str) -> None:
    with pytest.raises(CodecError, match="80 <request op>"):
        parse_control_point_response(bytes.fromhex(hex_data))


@pytest.mark.parametrize(
    ("encode", "argument"),
    [
        (encode_set_target_speed, -1.0),
        (encode_set_target_speed, 700.0),
        (encode_set_target_inclination, 4000.0),
    ],
)
def test_targets_outside_the_wire_field_are_refused(
    encode: Callable[[float], bytes], argument: float
) -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode(argument)


@pytest.mark.parametrize(
    "call",
    [
        lambda: encode_control_point_request(ControlPointRequest(0x100)),
        lambda: encode_control_point_response(0x100, 1),
        lambda: encode_control_point_response(0, -1),
        lambda: encode_machine_status(MachineStatus(-1)),
        lambda: encode_training_status(TrainingStatus(0x100)),
    ],
)
def test_op_codes_that_do_not_fit_a_byte_are_refused(call: Callable[[], bytes]) -> None:
    with pytest.raises(ValueError, match="fit a byte"):
        call()


requests = st.one_of(
    st.builds(
        ControlPointRequest,
        op=st.just(ControlOp.SET_TARGET_SPEED),
        speed_kmh=st.integers(0, 0xFFFF).map(lambda v: v / 100),
    ),
    st.builds(
        ControlPointRequest,
        op=st.just(ControlOp.SET_TARGET_INCLINATION),
        incline_pct=st.integers(-0x8000, 0x7FFF).map(lambda v: v / 10),
    ),
    st.builds(ControlPointRequest, op=st.just(ControlOp.STOP_OR_PAUSE), pause=st.booleans()),
    st.builds(
        ControlPointRequest,
        op=st.sampled_from([ControlOp.REQUEST_CONTROL, ControlOp.RESET, ControlOp.START_OR_RESUME]),
    ),
)


@given(requests)
@settings(max_examples=300)
def test_control_point_request_round_trips(request: ControlPointRequest) -> None:
    assert parse_control_point_request(encode_control_point_request(request)) == request


@given(st.integers(0, 0xFF), st.integers(0, 0xFF), st.binary(max_size=8))
@settings(max_examples=300)
def test_control_point_response_round_trips(op: int, result: int, parameter: bytes) -> None:
    response = parse_control_point_response(encode_control_point_response(op, result, parameter))
    assert (response.request_op, response.result, response.parameter) == (op, result, parameter)


@given(st.binary(max_size=24))
@settings(max_examples=300)
def test_control_point_bytes_round_trip_through_the_request_value(data: bytes) -> None:
    try:
        request = parse_control_point_request(data)
    except CodecError:
        assert not data
        return
    assert encode_control_point_request(request) == data


# --- machine status ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hex_data", "expected"),
    [
        ("01", MachineStatus(MachineStatusOp.RESET)),
        ("02 02", MachineStatus(MachineStatusOp.STOPPED_OR_PAUSED, paused=True)),
        ("02 01", MachineStatus(MachineStatusOp.STOPPED_OR_PAUSED, paused=False)),
        ("02", MachineStatus(MachineStatusOp.STOPPED_OR_PAUSED)),
        ("04", MachineStatus(MachineStatusOp.STARTED_OR_RESUMED)),
        ("05 F4 01", MachineStatus(MachineStatusOp.TARGET_SPEED_CHANGED, target_speed_kmh=5.0)),
        (
            "06 E2 FF",
            MachineStatus(MachineStatusOp.TARGET_INCLINE_CHANGED, target_incline_pct=-3.0),
        ),
        ("06 E2", MachineStatus(MachineStatusOp.TARGET_INCLINE_CHANGED, parameter=b"\xe2")),
        ("05 F4 01 00", MachineStatus(5, parameter=bytes.fromhex("F40100"))),
        ("FF", MachineStatus(MachineStatusOp.CONTROL_PERMISSION_LOST)),
        ("14 02", MachineStatus(MachineStatusOp.SPIN_DOWN_STATUS, parameter=b"\x02")),
        ("20 01 02", MachineStatus(0x20, parameter=b"\x01\x02")),
    ],
)
def test_machine_status_decodes(hex_data: str, expected: MachineStatus) -> None:
    assert parse_machine_status(bytes.fromhex(hex_data)) == expected


def test_empty_machine_status_is_a_codec_error() -> None:
    with pytest.raises(CodecError, match="op code"):
        parse_machine_status(b"")


statuses = st.one_of(
    st.builds(MachineStatus, op=st.just(MachineStatusOp.STOPPED_OR_PAUSED), paused=st.booleans()),
    st.builds(
        MachineStatus,
        op=st.just(MachineStatusOp.TARGET_SPEED_CHANGED),
        target_speed_kmh=st.integers(0, 0xFFFF).map(lambda v: v / 100),
    ),
    st.builds(
        MachineStatus,
        op=st.just(MachineStatusOp.TARGET_INCLINE_CHANGED),
        target_incline_pct=st.integers(-0x8000, 0x7FFF).map(lambda v: v / 10),
    ),
    st.builds(MachineStatus, op=st.sampled_from([1, 3, 4, 0xFF])),
)


@given(statuses)
@settings(max_examples=300)
def test_machine_status_round_trips(status: MachineStatus) -> None:
    assert parse_machine_status(encode_machine_status(status)) == status


@given(st.binary(max_size=24))
@settings(max_examples=300)
def test_machine_status_bytes_round_trip_through_the_value(data: bytes) -> None:
    try:
        status = parse_machine_status(data)
    except CodecError:
        assert not data
        return
    assert encode_machine_status(status) == data


def test_machine_status_json_names_the_op() -> None:
    status = parse_machine_status(bytes.fromhex("0202"))
    assert status.to_dict() == {
        "op": 2,
        "op_name": "stopped_or_paused",
        "paused": True,
        "target_speed_kmh": None,
        "target_incline_pct": None,
        "parameter": "",
    }


# --- features, ranges, training status --------------------------------------------------------


def test_feature_names_include_rfu_bits() -> None:
    value = parse_fitness_machine_feature(bytes.fromhex("08 04 11 00 03 00 00 80"))
    assert value.to_dict() == {
        "features": ["INCLINATION", "HEART_RATE", "USER_DATA_RETENTION", "rfu_bit_20"],
        "target_settings": ["SPEED", "INCLINATION", "rfu_bit_31"],
    }


def test_flag_names_of_nothing_is_empty() -> None:
    assert flag_names(MachineFeature(0)) == []


@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF))
@settings(max_examples=200)
def test_feature_round_trips(features: int, targets: int) -> None:
    value = MachineFeatures(MachineFeature(features), TargetSetting(targets))
    assert parse_fitness_machine_feature(encode_fitness_machine_feature(value)) == value


def test_feature_ignores_trailing_bytes() -> None:
    value = parse_fitness_machine_feature(bytes.fromhex("5C16000003000000 FF"))
    assert value.target_settings == TargetSetting.SPEED | TargetSetting.INCLINATION


def test_speed_range_decodes() -> None:
    value = parse_supported_speed_range(bytes.fromhex("6400 B004 0A00"))
    assert value == SpeedRange(1.0, 12.0, 0.1)
    assert value.to_dict() == {"min_speed_kmh": 1.0, "max_speed_kmh": 12.0, "step_kmh": 0.1}


def test_inclination_range_has_a_signed_minimum() -> None:
    value = parse_supported_inclination_range(bytes.fromhex("C4FF 9600 0500"))
    assert value == InclinationRange(-6.0, 15.0, 0.5)
    assert value.to_dict() == {"min_incline_pct": -6.0, "max_incline_pct": 15.0, "step_pct": 0.5}


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
@settings(max_examples=200)
def test_speed_range_round_trips(low: int, high: int, step: int) -> None:
    value = SpeedRange(low / 100, high / 100, step / 100)
    assert parse_supported_speed_range(encode_supported_speed_range(value)) == value


@given(st.integers(-0x8000, 0x7FFF), st.integers(-0x8000, 0x7FFF), st.integers(0, 0xFFFF))
@settings(max_examples=200)
def test_inclination_range_round_trips(low: int, high: int, step: int) -> None:
    value = InclinationRange(low / 10, high / 10, step / 10)
    assert parse_supported_inclination_range(encode_supported_inclination_range(value)) == value


def test_range_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_supported_inclination_range(InclinationRange(-1.0, 15.0, -0.5))


@pytest.mark.parametrize(
    ("hex_data", "expected"),
    [
        ("01 01", TrainingStatus(TrainingStatusCode.IDLE)),
        ("00 0D", TrainingStatus(TrainingStatusCode.MANUAL_MODE)),
        ("01 02 57 61 72 6D", TrainingStatus(TrainingStatusCode.WARMING_UP, "Warm")),
        ("00 02 57 61", TrainingStatus(TrainingStatusCode.WARMING_UP)),
        ("03 00 FF", TrainingStatus(TrainingStatusCode.OTHER, "\ufffd")),
        ("00 42", TrainingStatus(0x42)),
    ],
)
def test_training_status_decodes(hex_data: str, expected: TrainingStatus) -> None:
    assert parse_training_status(bytes.fromhex(hex_data)) == expected


def test_training_status_json() -> None:
    assert TrainingStatus(TrainingStatusCode.IDLE).to_dict() == {
        "status": 1,
        "status_name": "idle",
        "text": None,
    }
    assert TrainingStatus(0x42, "x").to_dict() == {"status": 0x42, "status_name": None, "text": "x"}


@given(st.integers(0, 0xFF), st.none() | st.text(min_size=1, max_size=10))
@settings(max_examples=200)
def test_training_status_round_trips(status: int, text: str | None) -> None:
    value = parse_training_status(encode_training_status(TrainingStatus(status, text)))
    assert (value.status, value.text) == (status, text)


# --- every decoder: arbitrary bytes raise nothing but CodecError ------------------------------

DECODERS: list[Callable[[bytes], object]] = [
    parse_fitness_machine_feature,
    parse_supported_speed_range,
    parse_supported_inclination_range,
    parse_training_status,
    parse_machine_status,
    parse_control_point_request,
    parse_control_point_response,
]


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.__name__)
@given(data=st.binary(max_size=24))
@settings(max_examples=200)
def test_arbitrary_bytes_raise_nothing_but_codec_error(
    decoder: Callable[[bytes], object], data: bytes
) -> None:
    try:
        decoder(data)
    except CodecError as exc:
        error = exc
    else:
        return
    assert error.data == data
    assert data.hex(" ") in str(error) or not data


@pytest.mark.parametrize(
    ("decoder", "size"),
    [
        (parse_fitness_machine_feature, 8),
        (parse_supported_speed_range, 6),
        (parse_supported_inclination_range, 6),
        (parse_training_status, 2),
    ],
)
def test_short_fixed_size_values_are_codec_errors(
    decoder: Callable[[bytes], object], size: int
) -> None:
    with pytest.raises(CodecError):
        decoder(bytes(size - 1))
    decoder(bytes(size))


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_parsers_accept_bytes_like(kind: Callable[[bytes], bytes]) -> None:
    assert parse_machine_status(kind(b"\x02\x02")).paused is True
    assert parse_control_point_request(kind(b"\x08\x02")).pause is True
    assert parse_training_status(kind(b"\x01\x01")).status == TrainingStatusCode.IDLE
    assert parse_control_point_response(kind(b"\x80\x00\x01")).ok


def test_response_json_names_the_request_and_result() -> None:
    assert parse_control_point_response(bytes.fromhex("80 03 05")).to_dict() == {
        "response_to": 3,
        "response_to_name": "set_target_inclination",
        "result": 5,
        "result_name": "control_not_permitted",
        "parameter": "",
    }


def test_request_json_carries_the_decoded_target() -> None:
    assert parse_control_point_request(bytes.fromhex("02 FA 00")).to_dict() == {
        "op": 2,
        "op_name": "set_target_speed",
        "speed_kmh": 2.5,
        "incline_pct": None,
        "pause": None,
        "parameter": "",
    }

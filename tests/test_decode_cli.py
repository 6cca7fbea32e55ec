"""`treadwell decode`: one JSON object per packet or record, exit 2 with one line on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from treadwell.daemon import cli

LIFE_FITNESS = "9E 05 17 05 92 02 FB 00 00 00 00 FF 7F 7C 00 FF 7F 1B 00 FF FF FF 69 8A 00"
VENDOR_NA = (
    "negative_elevation_gain_m: 0x7fff is a vendor 'not available' marker (the spec defines "
    "none for elevation gain); decoded as not available"
)
LIFE_FITNESS_JSON = {
    "speed_kmh": 13.03,
    "average_speed_kmh": 6.58,
    "total_distance_m": 251,
    "incline_pct": 0.0,
    "ramp_angle_deg": None,
    "positive_elevation_gain_m": 12.4,
    "negative_elevation_gain_m": None,
    "instantaneous_pace_kmh": None,
    "average_pace_kmh": None,
    "total_energy_kcal": 27,
    "energy_per_hour_kcal": None,
    "energy_per_minute_kcal": None,
    "heart_rate_bpm": 105,
    "metabolic_equivalent": None,
    "elapsed_time_s": 138,
    "remaining_time_s": None,
    "force_on_belt_n": None,
    "power_w": None,
    "step_count": None,
    "truncated": False,
    "missing_fields": [],
    "diagnostics": [VENDOR_NA],
}


def run_in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["decode", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def decoded(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    code, out, err = run_in_process(capsys, *argv)
    assert (code, err) == (0, "")
    assert out.count("\n") == 1
    result = json.loads(out)
    assert isinstance(result, dict)
    return result


def test_treadmill_data_packet_prints_every_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert decoded(capsys, "2acd", LIFE_FITNESS) == LIFE_FITNESS_JSON


def test_packet_typed_as_separate_bytes_is_one_packet(capsys: pytest.CaptureFixture[str]) -> None:
    assert decoded(capsys, "2ACD", *LIFE_FITNESS.split()) == LIFE_FITNESS_JSON


def test_split_record_packets_are_merged(capsys: pytest.CaptureFixture[str]) -> None:
    result = decoded(
        capsys, "2acd", "1F 00 84 01 2A 00 00 00 00 00 00 01 00 00 00", "80064E020200FFFFFF372700"
    )
    assert result["speed_kmh"] == 5.9
    assert result["average_speed_kmh"] == 3.88
    assert result["total_distance_m"] == 42
    assert result["metabolic_equivalent"] == 5.5
    assert result["elapsed_time_s"] == 39
    assert result["truncated"] is False


def test_truncated_matrix_packet_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    result = decoded(capsys, "2acd", "9E1F51 00B2 0058 0000 0000 FF7F 0000 FFFF 0C00 97")
    assert result["speed_kmh"] == 0.81
    assert result["total_energy_kcal"] == 12
    assert result["heart_rate_bpm"] is None
    assert result["truncated"] is True


def test_pace_width_and_step_count_options(capsys: pytest.CaptureFixture[str]) -> None:
    result = decoded(capsys, "2acd", "2000 B004 9600", "--pace-width", "uint16")
    assert result["instantaneous_pace_kmh"] == 12.0
    result = decoded(capsys, "2acd", "0020 6400 E80300", "--vendor-step-count", "no")
    assert result["step_count"] is None
    result = decoded(capsys, "2acd", "0020 6400 E80300", "--vendor-step-count", "yes")
    assert result["step_count"] == 1000


@pytest.mark.parametrize(
    ("characteristic", "packet", "expected"),
    [
        (
            "2a37",
            "16 73 10 02 0D 02",
            {
                "heart_rate_bpm": 115,
                "sensor_contact": "contact",
                "energy_expended_kj": None,
                "rr_intervals_ms": [515.625, 512.6953125],
            },
        ),
        (
            "2a53",
            "03 5C 03 A1 82 00 F6 09 00 00",
            {
                "speed_mps": 3.359375,
                "cadence_spm": 161,
                "stride_length_m": 1.3,
                "total_distance_m": 255.0,
                "running": False,
            },
        ),
        (
            "2acc",
            "5C 16 00 00 03 00 00 00",
            {
                "features": [
                    "TOTAL_DISTANCE",
                    "INCLINATION",
                    "ELEVATION_GAIN",
                    "STEP_COUNT",
                    "EXPENDED_ENERGY",
                    "HEART_RATE",
                    "ELAPSED_TIME",
                ],
                "target_settings": ["SPEED", "INCLINATION"],
            },
        ),
        (
            "2ad4",
            "6400 B004 0A00",
            {"min_speed_kmh": 1.0, "max_speed_kmh": 12.0, "step_kmh": 0.1},
        ),
        (
            "2ad5",
            "E2FF 9600 0500",
            {"min_incline_pct": -3.0, "max_incline_pct": 15.0, "step_pct": 0.5},
        ),
        ("2ad3", "01 01", {"status": 1, "status_name": "idle", "text": None}),
        (
            "2ada",
            "06 2D 00",
            {
                "op": 6,
                "op_name": "target_incline_changed",
                "paused": None,
                "target_speed_kmh": None,
                "target_incline_pct": 4.5,
                "parameter": "",
            },
        ),
        (
            "2ad9",
            "03 E2 FF",
            {
                "op": 3,
                "op_name": "set_target_inclination",
                "speed_kmh": None,
                "incline_pct": -3.0,
                "pause": None,
                "parameter": "",
            },
        ),
        (
            "0x2AD9",
            "80 00 01",
            {
                "response_to": 0,
                "response_to_name": "request_control",
                "result": 1,
                "result_name": "success",
                "parameter": "",
            },
        ),
        (
            "00002a37-0000-1000-8000-00805f9b34fb",
            "04:54",
            {
                "heart_rate_bpm": 84,
                "sensor_contact": "no_contact",
                "energy_expended_kj": None,
                "rr_intervals_ms": [],
            },
        ),
    ],
)
def test_every_characteristic_decodes(
    capsys: pytest.CaptureFixture[str],
    characteristic: str,
    packet: str,
    expected: dict[str, object],
) -> None:
    assert decoded(capsys, characteristic, packet) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["2acd", "9E0"], "odd number of hex digits"),
        (["2acd", "zz"], "not a hex packet"),
        (["2abc", "00"], "unknown characteristic '2abc'"),
        (["heart", "00"], "unknown characteristic 'heart'"),
        (["2acd", "00"], "2-byte flags word"),
        (["2a37", "08 48 10"], "announces energy"),
        (["2acd", "0001", "0000"], "form 2 records"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run_in_process(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("treadwell decode: ")
    assert message in err


def test_decode_runs_as_a_real_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", "decode", "2acd", LIFE_FITNESS],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == LIFE_FITNESS_JSON


def test_real_command_rejects_bad_hex_with_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", "decode", "2acd", "abc"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == ["treadwell decode: odd number of hex digits in 'abc'"]


def test_several_packets_of_another_characteristic_are_each_decoded(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Two heart-rate notifications: each one is decoded, none is dropped or glued on.
    code, out, err = run_in_process(capsys, "2a37", "00 48", "10 50 00 04")
    assert (code, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["heart_rate_bpm"] for line in lines] == [72, 80]
    assert lines[0]["rr_intervals_ms"] == []
    assert lines[1]["rr_intervals_ms"] == [1000]


def test_a_bad_packet_among_several_is_named_by_its_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_in_process(capsys, "2a37", "00 48", "08 48 10")
    assert (code, out) == (2, "")
    assert "packet 2 of 2" in err
    assert err.count("\n") == 1

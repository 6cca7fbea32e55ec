"""Every capture under tests/data/captures decodes to exactly the value written here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from treadwell.drivers.codec.fitness_machine import (
    ControlOp,
    ControlPointRequest,
    ControlPointResponse,
    MachineFeature,
    MachineFeatures,
    ResultCode,
    TargetSetting,
    TrainingStatus,
    TrainingStatusCode,
    parse_control_point_request,
    parse_control_point_response,
    parse_fitness_machine_feature,
    parse_training_status,
)
from treadwell.drivers.codec.heart_rate import (
    HeartRateMeasurement,
    SensorContact,
    parse_heart_rate_measurement,
)
from treadwell.drivers.codec.rsc import RscMeasurement, parse_rsc_measurement
from treadwell.drivers.codec.treadmill_data import TreadmillData, parse_treadmill_data

if TYPE_CHECKING:
    from collections.abc import Callable

CAPTURES = Path(__file__).resolve().parents[2] / "data" / "captures"

MATRIX_LACKS = (
    "energy_per_hour_kcal",
    "energy_per_minute_kcal",
    "heart_rate_bpm",
    "metabolic_equivalent",
    "elapsed_time_s",
    "remaining_time_s",
    "force_on_belt_n",
    "power_w",
)
MATRIX_BEFORE_WORKOUT_LACKS = tuple(n for n in MATRIX_LACKS if n != "elapsed_time_s")


def vendor_na(name: str, raw: int) -> str:
    return (
        f"{name}: 0x{raw:04x} is a vendor 'not available' marker (the spec defines none "
        "for elevation gain); decoded as not available"
    )


def lacks(flags: int, names: tuple[str, ...]) -> str:
    return f"flags 0x{flags:04x} announce fields the 20-byte packet lacks: " + ", ".join(names)


def matrix(values: tuple[float, float, int, float, float, int]) -> TreadmillData:
    speed, avg, dist, incl, up, kcal = values
    return TreadmillData(
        flags=0x1F9E,
        speed_kmh=speed,
        average_speed_kmh=avg,
        total_distance_m=dist,
        incline_pct=incl,
        positive_elevation_gain_m=up,
        total_energy_kcal=kcal,
        truncated=True,
        missing_fields=MATRIX_LACKS,
        diagnostics=(lacks(0x1F9E, MATRIX_LACKS), vendor_na("negative_elevation_gain_m", 0xFFFF)),
    )


EXPECTED: dict[str, list[object]] = {
    "life_fitness/2acd.hex": [
        TreadmillData(
            flags=0x059E,
            speed_kmh=13.03,
            average_speed_kmh=6.58,
            total_distance_m=251,
            incline_pct=0.0,
            positive_elevation_gain_m=12.4,
            total_energy_kcal=27,
            heart_rate_bpm=105,
            elapsed_time_s=138,
            diagnostics=(vendor_na("negative_elevation_gain_m", 0x7FFF),),
        )
    ],
    "matrix_touch_xl/2acd.hex": [
        TreadmillData(
            flags=0x1B9E,
            speed_kmh=0.0,
            average_speed_kmh=0.0,
            total_distance_m=0,
            incline_pct=0.0,
            positive_elevation_gain_m=0.0,
            total_energy_kcal=0,
            truncated=True,
            missing_fields=MATRIX_BEFORE_WORKOUT_LACKS,
            diagnostics=(
                lacks(0x1B9E, MATRIX_BEFORE_WORKOUT_LACKS),
                vendor_na("negative_elevation_gain_m", 0xFFFF),
            ),
        ),
        matrix((0.81, 1.78, 88, 0.0, 0.0, 12)),
        matrix((0.81, 1.13, 213, 0.0, 3.0, 38)),
        matrix((9.66, 6.6, 318, 9.0, 5.0, 37)),
        matrix((9.66, 8.86, 1464, 0.0, 6.0, 169)),
    ],
    "technogym_myrun/2acd.hex": [
        TreadmillData(
            flags=0x001F,
            more_data=True,
            average_speed_kmh=3.88,
            total_distance_m=42,
            incline_pct=0.0,
            ramp_angle_deg=0.0,
            positive_elevation_gain_m=0.1,
            negative_elevation_gain_m=0.0,
        ),
        TreadmillData(
            flags=0x0680,
            speed_kmh=5.9,
            total_energy_kcal=2,
            metabolic_equivalent=5.5,
            elapsed_time_s=39,
        ),
    ],
    "matrix_performance/2acd.hex": [
        TreadmillData(
            flags=0x009F,
            more_data=True,
            average_speed_kmh=7.22,
            total_distance_m=1000,
            incline_pct=2.0,
            positive_elevation_gain_m=30.0,
            negative_elevation_gain_m=0.0,
            total_energy_kcal=65,
            energy_per_hour_kcal=180,
            energy_per_minute_kcal=3,
        ),
        TreadmillData(
            flags=0x1F00,
            speed_kmh=6.0,
            heart_rate_bpm=125,
            metabolic_equivalent=6.0,
            elapsed_time_s=292,
            remaining_time_s=1440,
        ),
    ],
    "kingsmith_z1/2acd.hex": [
        TreadmillData(
            flags=0x2404, speed_kmh=5.0, total_distance_m=350, elapsed_time_s=600, step_count=1000
        )
    ],
    "citysports_linker/2acd.hex": [
        TreadmillData(
            flags=0x2484,
            speed_kmh=7.0,
            total_distance_m=10000,
            total_energy_kcal=45,
            elapsed_time_s=1800,
            step_count=2500,
        )
    ],
    "fs_6041f1/2acc.hex": [
        MachineFeatures(
            MachineFeature.TOTAL_DISTANCE
            | MachineFeature.INCLINATION
            | MachineFeature.ELEVATION_GAIN
            | MachineFeature.STEP_COUNT
            | MachineFeature.EXPENDED_ENERGY
            | MachineFeature.HEART_RATE
            | MachineFeature.ELAPSED_TIME,
            TargetSetting.SPEED | TargetSetting.INCLINATION,
        )
    ],
    "fs_6041f1/2ad3.hex": [TrainingStatus(TrainingStatusCode.IDLE, None)],
    "polar_h7/2a37.hex": [
        HeartRateMeasurement(115, SensorContact.CONTACT, None, (515.625, 512.6953125))
    ],
    "generic_ftms/2a37.hex": [HeartRateMeasurement(84, SensorContact.NO_CONTACT, None, ())],
    "technogym_run/2a53.hex": [
        RscMeasurement(
            speed_mps=860 / 256,
            cadence_spm=161,
            stride_length_m=1.3,
            total_distance_m=255.0,
            running=False,
        )
    ],
    "generic_ftms/2ad9.hex": [
        ControlPointRequest(ControlOp.SET_TARGET_INCLINATION, incline_pct=4.5),
        ControlPointRequest(ControlOp.SET_TARGET_INCLINATION, incline_pct=-3.0),
        ControlPointRequest(ControlOp.SET_TARGET_SPEED, speed_kmh=2.5),
        ControlPointRequest(ControlOp.STOP_OR_PAUSE, pause=True),
        ControlPointResponse(ControlOp.REQUEST_CONTROL, ResultCode.SUCCESS),
    ],
}


PARSERS: dict[str, Callable[[bytes], object]] = {
    "2acd": parse_treadmill_data,
    "2acc": parse_fitness_machine_feature,
    "2ad3": parse_training_status,
    "2a37": parse_heart_rate_measurement,
    "2a53": parse_rsc_measurement,
}


def decode(characteristic: str, data: bytes) -> object:
    if characteristic == "2ad9":
        if data[0] == ControlOp.RESPONSE:
            return parse_control_point_response(data)
        return parse_control_point_request(data)
    return PARSERS[characteristic](data)


def read_capture(path: Path) -> tuple[str, list[bytes]]:
    """Return a capture's source line and its packets (one hex line each)."""
    first, *lines = path.read_text().splitlines()
    return first, [bytes.fromhex(line) for line in lines if line.strip()]


def test_every_capture_file_has_an_expected_value() -> None:
    files = {str(path.relative_to(CAPTURES)) for path in CAPTURES.glob("*/*.hex")}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_capture_says_where_it_came_from(name: str) -> None:
    first, _packets = read_capture(CAPTURES / name)
    assert first.startswith("# ")
    assert "docs/ftms.md" in first


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_capture_decodes_to_its_full_expected_value(name: str) -> None:
    _first, packets = read_capture(CAPTURES / name)
    characteristic = Path(name).stem
    assert [decode(characteristic, packet) for packet in packets] == EXPECTED[name]

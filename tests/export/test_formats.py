"""FIT, TCX and CSV exports, read back with independent decoders and checked against the run.

FIT files are decoded with Garmin's own FIT SDK, TCX files with tcxreader, CSV with the
standard library: none of them shares code with the encoders.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import pytest
from garmin_fit_sdk import Decoder, Stream
from hypothesis import given, settings
from hypothesis import strategies as st
from tcxreader.tcxreader import TCXReader

from tests.export.runs import START, expected_ascent, store_run
from treadwell.daemon.export.formats import encode
from treadwell.daemon.export.run import RunExport, track
from treadwell.daemon.export_files import load_run_export
from treadwell.daemon.samples_db import Sample
from treadwell.daemon.store import Store

if TYPE_CHECKING:
    from pathlib import Path


def decode_fit(data: bytes) -> dict[str, list[dict[str, Any]]]:
    decoder = Decoder(Stream.from_byte_array(bytearray(data)))
    assert decoder.is_fit()
    assert decoder.check_integrity()
    decoder = Decoder(Stream.from_byte_array(bytearray(data)))
    messages, errors = decoder.read()
    assert errors == []
    return cast("dict[str, list[dict[str, Any]]]", messages)


def read_tcx(data: bytes, tmp_path: Path) -> Any:
    path = tmp_path / "run.tcx"
    path.write_bytes(data)
    return TCXReader().read(str(path), only_gps=False)


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, int]:
    state_dir = tmp_path / "state"
    return state_dir, store_run(state_dir)


def summary_distance(state_dir: Path, run_id: int) -> float:
    with Store.in_dir(state_dir, read_only=True) as store:
        record = store.run(run_id)
    assert record is not None
    assert record.summary is not None
    return float(record.summary["distance_m"])


def test_fit_is_a_treadmill_run_with_the_run_records_distance_and_ascent(
    stored: tuple[Path, int],
) -> None:
    state_dir, run_id = stored
    run = load_run_export(state_dir, run_id)
    fit = decode_fit(encode(run, "fit"))

    (session,) = fit["session_mesgs"]
    assert (session["sport"], session["sub_sport"]) == ("running", "treadmill")
    assert session["total_distance"] == pytest.approx(summary_distance(state_dir, run_id), abs=1)
    assert session["total_ascent"] == round(expected_ascent())
    assert session["total_elapsed_time"] == pytest.approx(1199, abs=1)
    assert session["start_time"] == START
    assert session["max_heart_rate"] == 139

    records = fit["record_mesgs"]
    assert len(records) == 1200
    assert [r["timestamp"] for r in records] == [START + timedelta(seconds=t) for t in range(1200)]
    assert all(
        {"distance", "speed", "heart_rate", "cadence", "altitude"} <= r.keys() for r in records
    )
    assert records[600]["speed"] == pytest.approx(9.0 / 3.6, abs=0.001)
    assert records[600]["heart_rate"] == 100 + 600 % 40
    assert records[600]["cadence"] == (150 + 600 % 20) // 2  # FIT: strides per minute
    assert records[-1]["altitude"] == pytest.approx(expected_ascent(), abs=0.2)
    distances = [r["distance"] for r in records]
    assert distances == sorted(distances)

    rr: list[float] = []
    for message in fit["hrv_mesgs"]:  # the SDK gives a one-value array as a plain number
        times = message["time"]
        rr.extend(times if isinstance(times, list) else [times])
    assert rr == [
        pytest.approx(round(60000 / (100 + t % 40)) / 1000, abs=0.001) for t in range(1200)
    ]

    laps = fit["lap_mesgs"]
    assert len(laps) == 3  # about 2.3 km: two whole kilometres and the rest
    assert sum(lap["total_distance"] for lap in laps) == pytest.approx(
        session["total_distance"], abs=0.1
    )
    assert [e["event_type"] for e in fit["event_mesgs"]] == ["start", "stop_all"]
    (file_id,) = fit["file_id_mesgs"]
    assert file_id["type"] == "activity"
    assert file_id["manufacturer"] == "development"
    assert fit["device_info_mesgs"][0]["product_name"] == "Treadwell"
    (activity,) = fit["activity_mesgs"]
    assert activity["num_sessions"] == 1


def test_fit_names_the_configured_manufacturer_and_product(stored: tuple[Path, int]) -> None:
    run = load_run_export(*stored)
    fit = decode_fit(encode(run, "fit", manufacturer=1, product=3113))
    (file_id,) = fit["file_id_mesgs"]
    assert file_id["manufacturer"] == "garmin"
    assert file_id["garmin_product"] == 3113 or file_id["product"] == 3113


def test_a_slow_session_is_exported_as_a_walk(tmp_path: Path) -> None:
    run_id = store_run(tmp_path, seconds=300, speed=4.5)
    (session,) = decode_fit(encode(load_run_export(tmp_path, run_id), "fit"))["session_mesgs"]
    assert (session["sport"], session["sub_sport"]) == ("walking", "indoor_walking")


def test_tcx_has_every_second_with_time_distance_and_heart_rate(
    stored: tuple[Path, int], tmp_path: Path
) -> None:
    state_dir, run_id = stored
    run = load_run_export(state_dir, run_id)
    tcx = read_tcx(encode(run, "tcx"), tmp_path)

    assert tcx.activity_type == "Running"
    assert len(tcx.trackpoints) == 1200
    for t, point in enumerate(tcx.trackpoints):
        assert point.time.replace(tzinfo=UTC) == START + timedelta(seconds=t)
        assert point.hr_value == 100 + t % 40
        assert point.distance is not None
    assert tcx.trackpoints[-1].distance == pytest.approx(summary_distance(state_dir, run_id), abs=1)
    assert tcx.distance == pytest.approx(summary_distance(state_dir, run_id), abs=1)
    assert tcx.ascent == pytest.approx(expected_ascent(), abs=1)
    assert tcx.hr_max == 139
    assert len(tcx.laps) == 3


def test_csv_has_a_header_and_a_row_a_second(stored: tuple[Path, int]) -> None:
    state_dir, run_id = stored
    text = encode(load_run_export(state_dir, run_id), "csv").decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0].startswith("time,elapsed_s,distance_m,speed_kmh,incline_pct")
    assert len(rows) == 1200
    assert rows[600]["speed_kmh"] == "9.00"
    assert rows[600]["heart_rate_bpm"] == str(100 + 600 % 40)
    assert float(rows[-1]["distance_m"]) == pytest.approx(
        summary_distance(state_dir, run_id), abs=1
    )
    assert float(rows[5]["rr_ms"]) == round(60000 / 105)


def test_a_run_without_heart_rate_exports_without_it(tmp_path: Path) -> None:
    run_id = store_run(tmp_path, seconds=120, heart_rate=False)
    run = load_run_export(tmp_path, run_id)
    fit = decode_fit(encode(run, "fit"))
    assert all("heart_rate" not in r for r in fit["record_mesgs"])
    assert "avg_heart_rate" not in fit["session_mesgs"][0]
    tcx = read_tcx(encode(run, "tcx"), tmp_path)
    assert len(tcx.trackpoints) == 120


def test_a_counter_that_restarts_mid_run_keeps_adding_distance() -> None:
    at = START
    samples = (
        Sample(0, at, 9.0, 0.0, 500.0),
        Sample(1, at + timedelta(seconds=1), 9.0, 0.0, 502.5),
        Sample(2, at + timedelta(seconds=2), 9.0, 0.0, 1.0),  # switched off and on
        Sample(3, at + timedelta(seconds=3), 9.0, 0.0, 3.5),
        Sample(5, at + timedelta(seconds=5), 9.0, 0.0, None),  # no counter: speed x time
    )
    run = RunExport(1, "default", "treadmill", at, at + timedelta(seconds=5), samples)
    assert [p.distance_m for p in track(run)] == [0.0, 2.5, 3.5, 6.0, 11.0]


samples_strategy = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=5),  # seconds since the previous sample
        st.one_of(st.none(), st.floats(min_value=0.0, max_value=655.35)),  # speed
        st.one_of(st.none(), st.floats(min_value=-3.0, max_value=15.0)),  # incline
        st.one_of(st.none(), st.floats(min_value=0.0, max_value=50_000.0)),  # counter
        st.one_of(st.none(), st.integers(min_value=30, max_value=230)),  # heart rate
        st.one_of(st.none(), st.integers(min_value=0, max_value=250)),  # cadence
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(samples_strategy)
def test_any_samples_make_files_every_reader_accepts_with_matching_totals(
    rows: list[tuple[int, float | None, float | None, float | None, int | None, int | None]],
) -> None:
    samples = []
    t = 0
    for gap, speed, incline, counter, heart, cadence in rows:
        t += gap
        at = START + timedelta(seconds=t)
        samples.append(Sample(t, at, speed, incline, counter, heart, (), cadence))
    run = RunExport(1, "default", "treadmill", START, samples[-1].at, tuple(samples))
    points = track(run)
    distances = [p.distance_m for p in points]
    assert distances == sorted(distances)
    assert all(p.altitude_m >= 0 for p in points)
    fit = decode_fit(encode(run, "fit"))
    assert len(fit["record_mesgs"]) == len(samples)
    (session,) = fit["session_mesgs"]
    assert session["total_distance"] == pytest.approx(points[-1].distance_m, abs=0.01)
    assert session["total_ascent"] == round(points[-1].ascent_m)
    rows_csv = list(csv.DictReader(io.StringIO(encode(run, "csv").decode())))
    assert len(rows_csv) == len(samples)


def test_a_run_without_samples_cannot_be_exported_and_says_why(tmp_path: Path) -> None:
    from treadwell.daemon.export.run import ExportError

    with Store.in_dir(tmp_path) as store:
        run_id = store.start_run("treadmill", at=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ExportError, match="no per-second samples"):
        load_run_export(tmp_path, run_id)


def test_the_daemon_loads_fit_tool_only_when_it_writes_a_fit_file() -> None:
    # In a fresh interpreter: this one has long imported it for the tests above.
    probe = (
        "import sys; import treadwell.daemon.app; loaded = 'fit_tool' in sys.modules;"
        "from tests.export.runs import one_sample_run;"
        "from treadwell.daemon.export.formats import encode;"
        "encode(one_sample_run(), 'tcx'); encode(one_sample_run(), 'csv');"
        "after_text = 'fit_tool' in sys.modules; encode(one_sample_run(), 'fit');"
        "print(loaded, after_text, 'fit_tool' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["False", "False", "True"]

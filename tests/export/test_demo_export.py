"""A demo run kept with `--state-dir`: history lists it, and it exports in every format.

Everything runs as a user would type it: `treadwell demo`, `treadwell history`, `treadwell
export`, each a real subprocess. The files are read back with Garmin's FIT SDK, tcxreader and
the csv module, and checked against the run as the history records it.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any, cast

import pytest
from garmin_fit_sdk import Decoder, Stream
from tcxreader.tcxreader import TCXReader

if TYPE_CHECKING:
    from pathlib import Path


def treadwell(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_a_demo_run_exports_as_fit_tcx_and_csv_with_its_distance_and_ascent(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    demo = treadwell("demo", "--speedup", "200", "--state-dir", str(state_dir))
    assert demo.returncode == 0, demo.stderr

    listed = treadwell("history", "--json", "--state-dir", str(state_dir))
    assert listed.returncode == 0, listed.stderr
    (run,) = [json.loads(line) for line in listed.stdout.splitlines()]
    distance = run["summary"]["distance_m"]
    assert distance > 1000

    paths = {}
    for fmt in ("fit", "tcx", "csv"):
        target = tmp_path / f"demo.{fmt}"
        result = treadwell(
            "export", "--last", "--format", fmt, "-o", str(target), "--state-dir", str(state_dir)
        )
        assert result.returncode == 0, result.stderr
        paths[fmt] = target

    messages, errors = Decoder(Stream.from_byte_array(bytearray(paths["fit"].read_bytes()))).read()
    assert errors == []
    fit = cast("dict[str, list[dict[str, Any]]]", messages)
    (session,) = fit["session_mesgs"]
    assert (session["sport"], session["sub_sport"]) == ("running", "treadmill")
    assert session["total_distance"] == pytest.approx(distance, abs=15)
    # The demo climbs at 2.5 % for most of its ~2 km: tens of metres, not zero, not hundreds.
    assert 20 <= session["total_ascent"] <= 80

    tcx = TCXReader().read(str(paths["tcx"]), only_gps=False)
    assert tcx.distance == pytest.approx(distance, abs=15)
    assert tcx.ascent == pytest.approx(session["total_ascent"], abs=1.5)
    assert len(tcx.trackpoints) == len(fit["record_mesgs"])
    assert all(p.time is not None and p.distance is not None for p in tcx.trackpoints)
    assert sum(1 for p in tcx.trackpoints if p.hr_value) > len(tcx.trackpoints) * 0.9

    with paths["csv"].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(fit["record_mesgs"])
    assert float(rows[-1]["distance_m"]) == pytest.approx(distance, abs=15)
    assert float(rows[-1]["altitude_m"]) == pytest.approx(session["total_ascent"], abs=1)

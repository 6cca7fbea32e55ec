"""Pure. A run as CSV: a header row, then one row a second."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from treadwell.daemon.export.run import track

if TYPE_CHECKING:
    from treadwell.daemon.export.run import RunExport

HEADER = (
    "time",
    "elapsed_s",
    "distance_m",
    "speed_kmh",
    "incline_pct",
    "altitude_m",
    "heart_rate_bpm",
    "rr_ms",
    "cadence_spm",
    "stride_m",
)


def _text(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def encode(run: RunExport) -> bytes:
    """The run as UTF-8 CSV; empty cells where a value was not measured.

    Raises:
        ExportError: The run has no samples.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for point in track(run):
        writer.writerow(
            (
                point.at.isoformat(),
                point.elapsed_s,
                _text(point.distance_m, 2),
                _text(point.speed_mps * 3.6, 2),
                _text(point.incline_pct, 1),
                _text(point.altitude_m, 2),
                "" if point.heart_rate_bpm is None else point.heart_rate_bpm,
                " ".join(f"{v:g}" for v in point.rr_ms),
                "" if point.cadence_spm is None else point.cadence_spm,
                _text(point.stride_m, 2),
            )
        )
    return buffer.getvalue().encode()

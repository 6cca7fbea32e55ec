"""Pure. A run as the export formats see it: one point a second, from the stored samples.

`RunExport` holds a run's record and samples; `track` turns the samples into points with a
distance that only grows (from the treadmill's counter, else from the belt speed), and an
altitude built from the incline: each second climbs its distance times the incline. The
encoders (`fit`, `tcx`, `csvfile`) are pure functions of a `RunExport` to bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from treadwell.daemon.samples_db import Sample

Format = Literal["fit", "tcx", "csv"]
FORMATS: tuple[Format, ...] = ("fit", "tcx", "csv")
SUFFIXES: dict[Format, str] = {"fit": ".fit", "tcx": ".tcx", "csv": ".csv"}

WALKING_BELOW_KMH = 6.0
"""A run whose average moving speed is below this is exported as a walk."""

MAX_SPEED_MPS = 12.0
"""Faster than any treadmill belt: a distance counter jumping further is a glitch."""

LAP_M = 1000.0
"""Laps are whole kilometres, and the rest."""


class ExportError(ValueError):
    """A run that cannot be exported (no samples, say), with the reason."""


@dataclass(frozen=True, slots=True)
class RunExport:
    """What an export needs of a run.

    Attributes:
        run_id: The stored run's id.
        runner: Whose run it is.
        treadmill: The treadmill's slug.
        started_at: When the run started (timezone-aware).
        ended_at: When it ended (the last sample's time for an interrupted run).
        samples: One a second, in time order.
    """

    run_id: int
    runner: str
    treadmill: str
    started_at: datetime
    ended_at: datetime
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True)
class Point:
    """One second of a run, ready to encode.

    Attributes:
        at: When (timezone-aware).
        elapsed_s: Seconds since the run started.
        distance_m: Distance since the run started; never decreases.
        speed_mps: Belt speed (m/s), 0 when unknown.
        incline_pct: Deck incline, 0 when unknown.
        altitude_m: Height climbed so far, from the incline.
        ascent_m: Total ascent so far (the altitude only ever rises on a treadmill).
        heart_rate_bpm: Heart rate when known.
        cadence_spm: Steps per minute when known.
        stride_m: Stride length when known.
        rr_ms: The strap's RR intervals in this second.
    """

    at: datetime
    elapsed_s: int
    distance_m: float
    speed_mps: float
    incline_pct: float
    altitude_m: float
    ascent_m: float
    heart_rate_bpm: int | None
    cadence_spm: int | None
    stride_m: float | None
    rr_ms: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Lap:
    """A stretch of the run: points `first`..`last` (indexes into the track)."""

    first: int
    last: int


@dataclass(frozen=True, slots=True)
class Totals:
    """The whole run's figures, as every format reports them."""

    distance_m: float
    elapsed_s: float
    ascent_m: float
    average_speed_mps: float
    max_speed_mps: float
    average_hr_bpm: int | None
    max_hr_bpm: int | None
    walking: bool


def track(run: RunExport) -> list[Point]:
    """The run's samples as points (see the module docstring).

    Raises:
        ExportError: The run has no samples.
    """
    if not run.samples:
        raise ExportError(f"run {run.run_id} has no samples to export")
    points: list[Point] = []
    distance = altitude = 0.0
    previous_raw: float | None = None
    previous_t: int | None = None
    for sample in run.samples:
        speed = (sample.speed_kmh or 0.0) / 3.6
        incline = sample.incline_pct or 0.0
        raw = sample.distance_m
        if previous_t is None:
            step = 0.0
        elif raw is None or previous_raw is None:
            step = speed * (sample.t - previous_t)  # no counter: the belt speed tells
        else:
            # A counter that went back restarted (the treadmill was switched off and on).
            step = raw - previous_raw if raw >= previous_raw else raw
            gap = max(1, sample.t - previous_t)
            if step > MAX_SPEED_MPS * gap:
                step = speed * gap  # a glitch in the counter, not a sprint
        if raw is not None:
            previous_raw = raw
        distance += step
        altitude += step * max(0.0, incline) / 100.0
        previous_t = sample.t
        points.append(
            Point(
                at=sample.at,
                elapsed_s=sample.t,
                distance_m=distance,
                speed_mps=speed,
                incline_pct=incline,
                altitude_m=altitude,
                ascent_m=altitude,
                heart_rate_bpm=sample.heart_rate_bpm,
                cadence_spm=sample.cadence_spm,
                stride_m=sample.stride_m,
                rr_ms=sample.rr_ms,
            )
        )
    return points


def laps(points: Sequence[Point], lap_m: float = LAP_M) -> list[Lap]:
    """Split the track every `lap_m` metres; the last lap holds the rest."""
    out: list[Lap] = []
    first = 0
    for index, point in enumerate(points):
        if point.distance_m >= (len(out) + 1) * lap_m and index < len(points) - 1:
            out.append(Lap(first, index))
            first = index + 1
    out.append(Lap(first, len(points) - 1))
    return out


def totals(points: Sequence[Point]) -> Totals:
    """The figures of `points` (a whole run or one lap)."""
    first, last = points[0], points[-1]
    elapsed = max(1.0, float(last.elapsed_s - first.elapsed_s))
    distance = last.distance_m - first.distance_m
    hearts = [p.heart_rate_bpm for p in points if p.heart_rate_bpm is not None]
    moving = [p.speed_mps for p in points if p.speed_mps > 0]
    moving_average = sum(moving) / len(moving) if moving else 0.0
    return Totals(
        distance_m=distance,
        elapsed_s=elapsed,
        ascent_m=last.ascent_m - first.ascent_m,
        average_speed_mps=distance / elapsed,
        max_speed_mps=max(p.speed_mps for p in points),
        average_hr_bpm=round(sum(hearts) / len(hearts)) if hearts else None,
        max_hr_bpm=max(hearts) if hearts else None,
        walking=moving_average * 3.6 < WALKING_BELOW_KMH,
    )


def lap_totals(points: Sequence[Point], lap: Lap) -> Totals:
    """The figures of one lap, counted from the end of the lap before it."""
    before = points[lap.first - 1] if lap.first > 0 else None
    chunk = list(points[lap.first : lap.last + 1])
    whole = totals(chunk)
    if before is None:
        return whole
    distance = chunk[-1].distance_m - before.distance_m
    elapsed = max(1.0, float(chunk[-1].elapsed_s - before.elapsed_s))
    return Totals(
        distance_m=distance,
        elapsed_s=elapsed,
        ascent_m=chunk[-1].ascent_m - before.ascent_m,
        average_speed_mps=distance / elapsed,
        max_speed_mps=whole.max_speed_mps,
        average_hr_bpm=whole.average_hr_bpm,
        max_hr_bpm=whole.max_hr_bpm,
        walking=whole.walking,
    )


def lap_start(points: Sequence[Point], lap: Lap, run: RunExport) -> datetime:
    """When a lap began: the end of the lap before it, or the run's start."""
    if lap.first == 0:
        return min(run.started_at, points[0].at)
    return points[lap.first - 1].at


def file_stem(run: RunExport) -> str:
    """A file name without suffix: date, time and run id, e.g. `2026-12-02-1805-run-42`."""
    return f"{run.started_at.strftime('%Y-%m-%d-%H%M')}-run-{run.run_id}"

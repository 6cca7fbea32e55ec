"""Pure. Per-runner totals for today, this week and all time, from the run history.

Each finished run counts on the runner's local calendar day and ISO week (Monday to Sunday)
of its start. Totals only ever grow within a period and drop to zero when a new one begins,
which is what Home Assistant's `total_increasing` state class expects of a meter: a drop is a
new cycle, never a negative amount. The all-time totals count the runs the history keeps
(`storage.history_days`, for ever by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime, tzinfo

PERIODS = ("today", "week", "all_time")


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """What the totals need of one finished run."""

    runner: str
    run_id: int
    started_at: datetime
    distance_m: float
    duration_s: float
    window_s: float  # time with the incline in the back-friendly 2-3 % window


@dataclass(frozen=True, slots=True)
class Totals:
    """The sums over one period."""

    distance_m: float = 0.0
    duration_s: float = 0.0
    runs: int = 0
    window_s: float = 0.0

    def add(self, row: HistoryRow) -> Totals:
        """These totals with one more run."""
        return Totals(
            self.distance_m + row.distance_m,
            self.duration_s + row.duration_s,
            self.runs + 1,
            self.window_s + row.window_s,
        )

    def to_dict(self) -> dict[str, float | int]:
        """The JSON object of a period, in the units the sensors show."""
        return {
            "distance_km": round(self.distance_m / 1000, 3),
            "time_min": round(self.duration_s / 60, 1),
            "runs": self.runs,
            "window_min": round(self.window_s / 60, 1),
        }


@dataclass(frozen=True, slots=True)
class RunnerTotals:
    """One runner's totals and last run."""

    runner: str
    today: Totals = field(default_factory=Totals)
    week: Totals = field(default_factory=Totals)
    all_time: Totals = field(default_factory=Totals)
    last_run: HistoryRow | None = None

    def to_payload(self, last_run_files: Iterable[str] = ()) -> dict[str, Any]:
        """The retained `{base}/runners/<runner>/totals` JSON."""
        last = self.last_run
        return {
            "runner": self.runner,
            "today": self.today.to_dict(),
            "week": self.week.to_dict(),
            "all_time": self.all_time.to_dict(),
            "last_run": None
            if last is None
            else {
                "id": last.run_id,
                "started_at": last.started_at.isoformat(),
                "distance_km": round(last.distance_m / 1000, 3),
                "time_min": round(last.duration_s / 60, 1),
                "window_min": round(last.window_s / 60, 1),
                "files": list(last_run_files),
            },
        }


def runner_totals(
    rows: Iterable[HistoryRow], now: datetime, tz: tzinfo, runners: Iterable[str] = ()
) -> dict[str, RunnerTotals]:
    """Every runner's totals at `now`, with days and weeks taken in time zone `tz`.

    Args:
        rows: Finished runs, in any order.
        now: The moment the totals are for (timezone-aware).
        tz: The household's time zone, for where a day and a week begin.
        runners: Runners to report even without runs (all zero).

    Returns:
        The totals by runner.
    """
    today = now.astimezone(tz).date()
    week = today.isocalendar()[:2]
    out = {name: RunnerTotals(name) for name in runners}
    for row in sorted(rows, key=lambda r: (r.started_at, r.run_id)):
        current = out.get(row.runner) or RunnerTotals(row.runner)
        day = row.started_at.astimezone(tz).date()
        out[row.runner] = RunnerTotals(
            row.runner,
            today=current.today.add(row) if day == today else current.today,
            week=current.week.add(row) if day.isocalendar()[:2] == week else current.week,
            all_time=current.all_time.add(row),
            last_run=row,
        )
    return out

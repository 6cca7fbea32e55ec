"""I/O. Growth of the state database: a year of daily one-hour runs, and what it costs to read.

    .venv/bin/python -m bench.store_growth [--days 365] [--minutes 60] [--years 1] [--json]

Every day at 07:00 one run of `--minutes` minutes is recorded through the daemon's own code:
`Store.start_run`/`finish_run` for the history, a `SampleRecorder` fed one reading a second
(speed, incline, distance, heart rate with RR intervals, cadence and stride, as a strap and a
footpod give them; committed every two seconds of the run, as in the daemon), a check-in,
seven prompts through the outbox marked sent, and the daily retention pass with the default
`[storage]` settings. With `--years 2` the second year shows the file stops growing: samples
older than `samples_days` make room for new ones.

Reported: the file's size (after a WAL checkpoint) at the end of each year, bytes per run and
per sample, and the wall time of `treadwell history` and `treadwell export --last` run as
commands (median of three) against the final file.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from treadwell.daemon.autoexport import apply_retention
from treadwell.daemon.config import StorageSettings
from treadwell.daemon.outbox import Outbox
from treadwell.daemon.samples import SampleRecorder
from treadwell.daemon.store import Store

ROOT = Path(__file__).resolve().parent.parent
FIRST_DAY = datetime(2026, 1, 1, 7, 0, tzinfo=UTC)
PROMPTS_PER_RUN = 7
_MB = 1024 * 1024


class _RunClock:
    """The recorder's monotonic clock: one second per reading, as in a live run."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record_day(
    state_dir: Path, recorder: SampleRecorder, clock: _RunClock, day: int, minutes: int
) -> None:
    start = FIRST_DAY + timedelta(days=day)
    seconds = minutes * 60
    with Store.in_dir(state_dir) as store:
        run_id = store.start_run("treadmill", at=start)
        distance = 0.0
        for t in range(seconds):
            speed = 9.0 + 1.5 * math.sin(t / 300)
            heart = 120 + int(25 * math.sin(t / 700) + t / 240)
            recorder.add_rr((60000.0 / heart,))
            recorder.on_footpod(160 + t % 12, 0.95)
            clock.now += 1.0
            recorder.record(
                run_id,
                "default",
                start + timedelta(seconds=t),
                speed_kmh=round(speed, 2),
                incline_pct=2.5 if t > 300 else 0.0,
                total_distance_m=int(distance),
                heart_rate_bpm=heart,
                elevation_gain_m=round(distance * 0.025, 1),
            )
            distance += speed / 3.6
        recorder.finish(run_id)
        end = start + timedelta(seconds=seconds)
        store.finish_run(
            run_id,
            {"distance_m": distance, "duration_s": seconds, "average_speed_kmh": 9.0},
            at=end,
        )
        store.add_checkin(0, "none", run_id=run_id, at=end)
    with Outbox(state_dir / "treadwell.sqlite") as outbox:
        for number in range(PROMPTS_PER_RUN):
            outbox.add(
                f"{run_id}:{number}", "treadwell/prompt", b'{"title": "' + b"x" * 300 + b'"}'
            )
        for item in outbox.pending():
            outbox.mark_sent(item.seq)
    # Acknowledged at the simulated time, not the machine's, so retention sees their real age.
    with sqlite3.connect(state_dir / "treadwell.sqlite") as conn:
        conn.execute(
            "UPDATE outbox SET sent_at = ? WHERE message_id LIKE ?",
            ((start + timedelta(hours=1)).isoformat(), f"{run_id}:%"),
        )
    # The daemon applies retention daily; "now" is the end of this run.
    apply_retention(state_dir, StorageSettings(), start + timedelta(hours=1))


def _size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def _timed(*args: str) -> float:
    times = []
    for _ in range(3):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "treadwell.daemon", *args],
            check=True,
            capture_output=True,
            cwd=ROOT,
            timeout=120,
        )
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def measure(days: int, minutes: int, years: int) -> dict[str, object]:
    """Simulate and measure (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="treadwell-growth-") as tmp:
        state_dir = Path(tmp)
        path = state_dir / "treadwell.sqlite"
        clock = _RunClock()
        yearly: list[dict[str, int | float]] = []
        began = time.perf_counter()
        with SampleRecorder(path, monotonic=clock) as recorder:
            for year in range(years):
                for day in range(days):
                    _record_day(state_dir, recorder, clock, year * days + day, minutes)
                size = _size(path)
                with sqlite3.connect(path) as conn:
                    samples = int(conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0])
                    runs = int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
                    outbox = int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
                yearly.append(
                    {
                        "year": year + 1,
                        "file_bytes": size,
                        "file_mb": round(size / _MB, 1),
                        "runs": runs,
                        "samples": samples,
                        "outbox_rows": outbox,
                        "bytes_per_sample": round(size / max(1, samples), 1),
                    }
                )
        simulate_s = time.perf_counter() - began
        history_s = _timed("history", "--limit", "20", "--state-dir", str(state_dir))
        export_s = _timed(
            "export",
            "--last",
            "--format",
            "fit",
            "-o",
            str(state_dir / "last.fit"),
            "--state-dir",
            str(state_dir),
        )
    return {
        "days_per_year": days,
        "minutes_per_run": minutes,
        "years": yearly,
        "history_s": round(history_s, 3),
        "export_last_fit_s": round(export_s, 3),
        "simulate_s": round(simulate_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=365, help="runs per year, one a day (365)")
    parser.add_argument("--minutes", type=int, default=60, help="minutes per run (60)")
    parser.add_argument("--years", type=int, default=1, choices=[1, 2], help="years to simulate")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args(argv)
    result = measure(args.days, args.minutes, args.years)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.days} runs a year of {args.minutes} min, default [storage] retention")
    for year in result["years"]:  # type: ignore[attr-defined]
        print(
            f"  after year {year['year']}: {year['file_mb']:7.1f} MB, {year['runs']} runs, "
            f"{year['samples']} samples ({year['bytes_per_sample']} bytes each), "
            f"{year['outbox_rows']} outbox rows"
        )
    print(f"  treadwell history        {result['history_s']:.3f} s (median of 3)")
    print(f"  treadwell export --last  {result['export_last_fit_s']:.3f} s (median of 3)")
    print(f"  simulation took {result['simulate_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

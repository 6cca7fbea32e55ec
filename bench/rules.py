"""The household's rules alone: CPU per reading, with no event loop, broker or radio.

    .venv/bin/python -m bench.rules [--treadmills 20] [--readings 300] [--rounds 7] [--json]

A household with two runners and N treadmills, each connected and in a run at 18 km/h; every
treadmill then gets `--readings` readings at 4 Hz, interleaved as the daemon's dispatcher sees
them, through `rules.household.evaluate`. The figure is the best round's CPU time
(`time.process_time`) divided by the readings, so a busy machine slows it less than it
would a mean. This is the part of the daemon's per-notification cost that `bench.e2e`
cannot separate from the rest; `bench/README.md` says where each figure is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta

from treadwell.rules.events import ReadingReceived, TreadmillConnected
from treadwell.rules.household import (
    HouseholdConfig,
    HouseholdState,
    Order,
    RunnerProfile,
    TreadmillEvent,
    TreadmillProfile,
    evaluate,
    initial_household,
)
from treadwell.rules.model import Reading, RulesConfig, Treadmill

NOTIFY_HZ = 4.0
SPEED_KMH = 18.0
_START = datetime(2026, 1, 1, tzinfo=UTC)


def running_household(treadmills: int) -> tuple[HouseholdState, datetime]:
    """Every treadmill connected and a run under way on each, and the time it is then."""
    config = HouseholdConfig(
        RulesConfig(run_start_s=1.0),
        (RunnerProfile("ana", automation_allowed=True), RunnerProfile("ben")),
        tuple(TreadmillProfile(f"deck-{n}") for n in range(treadmills)),
        "ana",
    )
    state = initial_household(config)
    deck = Treadmill(can_set_incline=True, min_incline_pct=0.0, max_incline_pct=10.0, step_pct=0.5)
    for name, _ in state.treadmills:
        state, _ = evaluate(state, TreadmillEvent(name, TreadmillConnected(deck)), _START)
    now = _START
    for step in range(int(2 * NOTIFY_HZ)):  # two seconds of belt: every run has started
        now = _START + timedelta(seconds=step / NOTIFY_HZ)
        for name, _ in state.treadmills:
            state, _ = evaluate(state, _reading(name, step), now)
    return state, now


def _reading(treadmill: str, step: int) -> TreadmillEvent:
    distance = SPEED_KMH / 3.6 * step / NOTIFY_HZ
    reading = Reading(SPEED_KMH, 0.0, distance, 140, int(step / NOTIFY_HZ))
    return TreadmillEvent(treadmill, ReadingReceived(reading))


def measure(treadmills: int, readings: int, rounds: int) -> dict[str, object]:
    """The best round's CPU per reading, in microseconds, and what it was measured on."""
    best = float("inf")
    for _ in range(rounds):
        state, start = running_household(treadmills)
        names = [name for name, _ in state.treadmills]
        orders: list[tuple[Order, datetime]] = [
            (_reading(name, step), start + timedelta(seconds=step / NOTIFY_HZ))
            for step in range(int(2 * NOTIFY_HZ) + 1, int(2 * NOTIFY_HZ) + 1 + readings)
            for name in names
        ]
        began = time.process_time()
        for order, now in orders:
            state, _ = evaluate(state, order, now)
        spent = time.process_time() - began
        best = min(best, spent / len(orders))
        if not all(slot.engine.running for _, slot in state.treadmills):
            raise RuntimeError("a run ended during the measurement: the figures mean nothing")
    return {
        "treadmills": treadmills,
        "readings_per_round": readings * treadmills,
        "rounds": rounds,
        "us_per_reading": round(best * 1e6, 1),
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figure (one JSON object with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--treadmills", type=int, default=20)
    parser.add_argument("--readings", type=int, default=300, help="per treadmill and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = measure(args.treadmills, args.readings, args.rounds)
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"household rules, {args.treadmills} treadmills in a run:"
            f" {figures['us_per_reading']} us CPU a reading (best of {args.rounds} rounds"
            f" of {figures['readings_per_round']} readings, Python {figures['python']})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

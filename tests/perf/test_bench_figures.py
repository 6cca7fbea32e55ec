"""How `bench.e2e` folds its repeats into one run, and how the table shows a ratio's spread."""

from __future__ import annotations

from typing import Any

import pytest

from bench import rules as rules_bench
from bench import table
from bench.e2e import _median_runs


def repeat(cpu_ratio: float, samples: int, p99_ms: float) -> list[dict[str, Any]]:
    return [
        {
            "treadmills": 20,
            "cpu_ratio": cpu_ratio,
            "net_cpu_ratio": None,
            "samples": samples,
            "p99_ms": p99_ms,
            "prompt_ms_samples": [1.0],
        }
    ]


def test_repeats_fold_into_medians_summed_counts_and_each_ratio_s_range() -> None:
    (run,) = _median_runs([repeat(1.4, 10, 3.0), repeat(1.2, 11, 5.0), repeat(1.3, 12, 4.0)])

    assert run["treadmills"] == 20
    assert run["cpu_ratio"] == pytest.approx(1.3)
    assert run["cpu_ratio_range"] == [1.2, 1.4]
    assert run["p99_ms"] == pytest.approx(4.0)
    assert "p99_ms_range" not in run  # only ratios carry their range
    assert run["samples"] == 33
    assert run["net_cpu_ratio"] is None  # no repeat had one
    assert run["net_cpu_ratio_range"] is None
    assert "prompt_ms_samples" not in run  # the prompt path is folded on its own


@pytest.mark.parametrize(
    ("figures", "shown"),
    [
        ({"cpu_ratio": 1.3, "cpu_ratio_range": [1.2, 1.4]}, "1.30x (1.20-1.40)"),
        ({"cpu_ratio": 1.3, "cpu_ratio_range": [1.3, 1.3]}, "1.30x"),  # one repeat
        ({"cpu_ratio": 1.3}, "1.30x"),  # an output from before ranges were kept
        ({"cpu_ratio": None, "cpu_ratio_range": None}, "n/a"),
    ],
)
def test_a_ratio_is_shown_with_its_range_when_the_repeats_differed(
    figures: dict[str, Any], shown: str
) -> None:
    assert table._spread(figures, "cpu_ratio") == shown


def test_the_rules_bench_times_readings_of_runs_that_stay_on() -> None:
    figures = rules_bench.measure(treadmills=3, readings=20, rounds=2)

    assert figures["treadmills"] == 3
    assert figures["readings_per_round"] == 60
    assert isinstance(figures["us_per_reading"], float)
    assert figures["us_per_reading"] > 0


def test_the_rules_bench_starts_a_run_on_every_treadmill() -> None:
    state, _ = rules_bench.running_household(4)

    assert [slot.engine.running for _, slot in state.treadmills] == [True] * 4

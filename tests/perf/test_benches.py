"""Quick runs of the benchmarks, so they keep working: the figures they print are well formed.

These check the shape and sense of the output, never how fast anything was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import table

pytestmark = [pytest.mark.mqtt, pytest.mark.perf]

ROOT = Path(__file__).resolve().parents[2]
LATENCY_KEYS = ("p50_ms", "p99_ms", "max_ms")


def run_bench(*args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output: dict[str, Any] = json.loads(result.stdout)
    return output


def test_e2e_reports_latency_cpu_and_the_prompt_path_for_daemon_and_relay() -> None:
    output = run_bench(
        "bench.e2e", "--treadmills", "1", "--seconds", "2", "--prompts", "3", "--no-footprint"
    )

    (run,) = output["runs"]
    assert run["treadmills"] == 1
    for prefix in ("", "default_", "relay_", "default_beyond_slot_"):
        p50, p99, most = (run[prefix + key] for key in LATENCY_KEYS)
        assert p50 <= p99 <= most
        assert run[prefix + "samples"] > 0
    for prefix in ("", "default_", "relay_"):
        assert run[prefix + "p50_ms"] > 0
        assert 0 < run[prefix + "samples"] <= run[prefix + "notifications"]
    # Every relayed notification reaches the subscriber; the daemon's state is latest-wins, so
    # at the maximum rate a reading may replace one not yet sent only if the daemon falls far
    # behind. At the default rate (2 Hz, readings at 4 Hz) about every other one is replaced.
    assert run["relay_unmatched"] == 0
    assert run["unmatched"] <= run["notifications"] // 10
    assert run["default_samples"] + run["default_unmatched"] == run["default_notifications"]
    assert run["default_unmatched"] > 0
    for prefix in ("", "default_", "relay_", "sink_"):
        assert run[prefix + "cpu_us_per_notification"] > 0
    assert run["cpu_ratio"] == pytest.approx(
        run["cpu_us_per_notification"] / run["relay_cpu_us_per_notification"], abs=0.01
    )
    sink = run["sink_cpu_us_per_notification"]
    assert run["net_cpu_us_per_notification"] == pytest.approx(
        run["cpu_us_per_notification"] - sink, abs=0.11
    )
    for key in ("prompt", "prompt_nodelay"):  # the broker as installed, then Nagle off
        prompt = output[key]
        assert prompt["cycles"] == 3
        assert prompt["samples"] + prompt["missing"] == 3
        assert 0 < prompt["p50_ms"] <= prompt["p99_ms"] <= prompt["max_ms"]
    settings = output["settings"]
    # The virtual world ran in the radio process, whose own CPU is reported beside.
    assert settings["world"] == "its own process (radio)"
    for prefix in ("", "default_", "relay_", "sink_before_", "sink_after_"):
        assert run[prefix + "world_cpu_us_per_notification"] > 0
    assert settings["max_state_rate_hz"] == {"daemon": 50.0, "default": 2.0}
    assert settings["python"].startswith("CPython 3.")
    assert set(output) >= {"settings", "runs", "prompt", "rss_mb", "ready_s"}
    # The README's tables render from this output, sample counts included.
    rendered = table.render(output)
    assert f"| 1 | {run['p50_ms']} / {run['p99_ms']} / {run['max_ms']}" in rendered
    assert f" | {run['world_cpu_us_per_notification']} |" in rendered
    assert f"`set_tcp_nodelay true`: {output['prompt_nodelay']['samples']} runs" in rendered


def test_footprint_reports_ready_time_memory_and_import_time() -> None:
    output = run_bench("bench.footprint", "--repeat", "1")

    for key in ("ready_s", "ready_s_bleak", "rss_mb", "rss_mb_bleak", "import_ms"):
        assert output[key] > 0, key
    assert output["rss_mb"] < 1024  # megabytes, not kilobytes
    assert "treadwell" in output["heaviest_ms"]


def test_store_growth_reports_size_per_year_and_read_times() -> None:
    output = run_bench("bench.store_growth", "--days", "3", "--minutes", "2", "--years", "2")

    first, second = output["years"]
    assert (first["runs"], second["runs"]) == (3, 6)
    assert first["samples"] == 3 * 120
    assert second["samples"] == 6 * 120  # two years of three days: nothing old enough to prune
    assert 0 < first["file_bytes"] <= second["file_bytes"]
    assert first["bytes_per_sample"] > 0
    assert output["history_s"] > 0
    assert output["export_last_fit_s"] > 0


def test_segments_report_each_part_of_the_daemon_s_work_inside_the_whole() -> None:
    output = run_bench("bench.segments", "--treadmills", "1", "--seconds", "2")

    assert output["notifications"] > 0
    assert output["cpu_us_per_notification"] > 0
    parts = {s["label"]: s for s in output["segments"]}
    decide, rules = parts["decide an input (all of it)"], parts["household rules"]
    state, written = parts["state message (all of it)"], parts["state written to the socket"]
    decoded = parts["decode, emit (a reading decided at once)"]
    for part in (decide, rules, state, written, decoded):
        assert part["calls"] > 0
        assert part["p10_us"] <= part["p50_us"] <= part["p90_us"] <= part["max_us"]
    # Segments are inclusive: a part never costs more than what it is part of, nor the whole.
    assert 0 < rules["us_per_notification"] <= decide["us_per_notification"]
    assert 0 < written["us_per_notification"] <= state["us_per_notification"]
    assert decide["us_per_notification"] < output["cpu_us_per_notification"]

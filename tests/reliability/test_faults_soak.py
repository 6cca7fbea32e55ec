"""The soak's short CI variant: a few runs, the broker bouncing, nothing lost or leaked.

`bench/soak.py` runs as a real subprocess with its own mosquitto; the full 200-run soak is run
by hand (its figures are in the README).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.reliability.harness import ROOT

pytestmark = [pytest.mark.reliability, pytest.mark.mqtt]

RUNS = 5


def test_five_runs_with_broker_bounces_deliver_every_prompt_once_in_order_without_leaks() -> None:
    result = subprocess.run(
        [sys.executable, "bench/soak.py", "--runs", str(RUNS), "--bounce-every", "2", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
        check=False,
    )
    assert result.stdout, result.stderr
    figures = json.loads(result.stdout)
    assert figures["runs"] == RUNS
    assert figures["bounces"] == RUNS // 2
    assert figures["runs_recorded"] == RUNS
    assert figures["prompts_expected"] >= 3 * RUNS
    assert figures["missing"] == []
    assert figures["duplicated"] == []
    assert figures["in_order"] is True
    assert figures["prompts_delivered"] == figures["prompts_expected"]
    assert figures["fds_end"] <= figures["fds_start"] + 2
    assert figures["rss_growth_mb"] < 5.0
    assert figures["ok"] is True
    assert result.returncode == 0, result.stderr

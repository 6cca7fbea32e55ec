"""`treadwell demo` as a user runs it: a real subprocess, embedded broker or mosquitto."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.mosquitto import Mosquitto

# Fast enough for the suite (~20 s a story), slow enough for a loaded 2-core machine.
SPEEDUP = "200"


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", "demo", "--speedup", SPEEDUP, *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def shown_kinds(stdout: str) -> list[str]:
    return [line.split(":")[0][3:] for line in stdout.splitlines() if line.startswith(">> ")]


def test_the_default_demo_tells_the_whole_achy_story_on_the_embedded_broker() -> None:
    result = demo()
    assert result.returncode == 0, result.stderr
    # The warm-up before the belt moves; no form cue: the demo's heart rate only follows
    # its speed changes and its pause, which is not drift.
    assert shown_kinds(result.stdout) == [
        "WARMUP",
        "INCLINE",
        "HYDRATION",
        "STRETCH",
        "HYDRATION",
        "CHECKIN",
    ]
    assert "suggested incline: 2.5%" in result.stdout
    assert "incline 2.5 %" in result.stdout  # the deck really moved into the window
    assert "Run summary" in result.stdout
    assert "not medical advice" in result.stdout


def test_a_red_flag_demo_says_stop_running_and_never_inclines() -> None:
    result = demo("--back-pain", "red")
    assert result.returncode == 0, result.stderr
    kinds = shown_kinds(result.stdout)
    assert kinds[0] == "STOP RUNNING"
    assert "INCLINE" not in kinds
    assert kinds[-1] == "CHECKIN"


def test_a_check_flag_demo_asks_to_get_checked_and_never_inclines() -> None:
    result = demo("--back-pain", "check")
    assert result.returncode == 0, result.stderr
    kinds = shown_kinds(result.stdout)
    assert kinds[:2] == ["WARMUP", "GET CHECKED"]
    assert "INCLINE" not in kinds
    assert "STOP RUNNING" not in kinds
    assert kinds[-1] == "CHECKIN"


@pytest.mark.mqtt
def test_a_demo_without_back_pain_runs_against_a_given_broker(mosquitto: Mosquitto) -> None:
    result = demo("--back-pain", "none", "--broker", mosquitto.url)
    assert result.returncode == 0, result.stderr
    kinds = shown_kinds(result.stdout)
    assert "INCLINE" not in kinds
    assert kinds[0] == "WARMUP"
    assert kinds[-1] == "CHECKIN"
    assert f"{mosquitto.host}:{mosquitto.port}" in result.stdout


def test_a_bad_broker_url_is_a_one_line_error() -> None:
    result = demo("--broker", "http://example")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("treadwell demo: --broker must look like")

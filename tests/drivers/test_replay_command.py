"""`treadwell replay`: a capture served back, read by Treadwell, and run by the daemon."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.mqtt_client import subscriber
from treadwell.daemon.commands.replay import serve_replay
from treadwell.daemon.config import Settings
from treadwell.drivers.capture import record
from treadwell.drivers.virtual.replay import load_any
from treadwell.drivers.virtual.treadmill import TreadmillConfig
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from tests.support.mosquitto import Mosquitto

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"
VIRTUAL = CAPTURES / "virtual_treadmill.jsonl"


def treadwell(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_replay_prints_every_record_treadwell_reads_from_a_capture() -> None:
    proc = treadwell("replay", str(VIRTUAL))

    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    captured = [v for v in load_any(VIRTUAL).values if v.uuid == "2acd"]
    assert len(lines) == len(captured)
    assert lines[-1]["speed_kmh"] > 0
    assert "played 15 values" in proc.stderr


def test_replay_of_an_old_hex_capture_says_it_has_no_incline_control() -> None:
    proc = treadwell("replay", str(CAPTURES / "technogym_myrun"))

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["speed_kmh"] == pytest.approx(5.9)
    assert "no incline control" in proc.stderr


def test_replay_of_a_broken_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(VIRTUAL.read_text().splitlines()[0] + "\n{oops\n")

    proc = treadwell("replay", str(path))

    assert proc.returncode == 2
    assert "line 2: not JSON" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_replay_of_a_strap_capture_says_it_is_no_treadmill() -> None:
    proc = treadwell("replay", str(CAPTURES / "polar_h7"))

    assert proc.returncode == 1
    assert "no treadmill" in proc.stderr


@pytest.mark.mqtt
async def test_capture_replayed_under_the_daemon_publishes_its_readings(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = Settings(
        mqtt={"host": mosquitto.host, "port": mosquitto.port, "base_topic": "rp"},
        ble={"backend": "virtual"},
        treadmills=[{"name": "deck", "match_name": "whatever the config said"}],
        state_dir=tmp_path,
    )
    capture = load_any(VIRTUAL)
    stop = asyncio.Event()
    async with subscriber(mosquitto, "rp/deck/state") as sub:
        task = asyncio.create_task(serve_replay(settings, capture, stop))
        try:
            await sub.wait_for(
                lambda _m: any(
                    s.get("connected") and (s.get("speed_kmh") or 0) > 0
                    for s in sub.json_on("rp/deck/state")
                ),
                "a state with the captured speed",
                timeout=60,
            )
        finally:
            stop.set()
            async with asyncio.timeout(30):
                assert await task == 0


@pytest.mark.mqtt
async def test_capture_then_replay_then_daemon_end_to_end(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # 1. Capture a deck (here a virtual one at 7.5 km/h and 3 % incline).
    async with VirtualWorld() as world:
        treadmill = await world.add_treadmill(TreadmillConfig(name="Home Deck"))
        treadmill.set_belt(7.5)
        treadmill.set_incline_by_console(3.0)
        treadmill.incline_pct = 3.0
        out = io.StringIO()
        await record(out, backend=world.backend, device="Home Deck", seconds=8)
    path = tmp_path / "home.jsonl"
    path.write_text(out.getvalue())

    # 2. Replay the file under the daemon: its readings reach MQTT as the deck sent them.
    settings = Settings(
        mqtt={"host": mosquitto.host, "port": mosquitto.port, "base_topic": "e2e"},
        ble={"backend": "virtual"},
        treadmills=[{"name": "deck"}],
        state_dir=tmp_path / "state",
    )
    stop = asyncio.Event()
    async with subscriber(mosquitto, "e2e/deck/state") as sub:
        task = asyncio.create_task(serve_replay(settings, load_any(path), stop))
        try:
            await sub.wait_for(
                lambda _m: any(
                    s.get("speed_kmh") == 7.5 and s.get("incline_pct") == 3.0
                    for s in sub.json_on("e2e/deck/state")
                ),
                "the captured speed and incline",
                timeout=60,
            )
        finally:
            stop.set()
            async with asyncio.timeout(30):
                assert await task == 0

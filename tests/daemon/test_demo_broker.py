"""`treadwell demo --broker` on a broker of one's own: outages, no broker, Ctrl-C, no ghosts.

The demo runs as a real subprocess (as a user starts it) against a real mosquitto that the
tests restart, leave unreachable or inspect for retained messages afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from tests.support.mosquitto import free_port
from treadwell.daemon.demo import DEMO_BASE_TOPIC, EXIT_INTERRUPTED

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).resolve().parents[2]
SPEEDUP = "200"
WAIT_S = 120.0
DISCOVERY = "homeassistant/device/treadwell-demo_treadmill/config"
KEPT = {"homeassistant/device/kitchen_scale/config": b'{"device": {}}'}


class Demo:
    """A `treadwell demo` subprocess whose output is read as it comes."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "treadwell.daemon", "demo", "--speedup", SPEEDUP, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self.err = ""
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def out(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.out:
            if self.proc.poll() is not None and not self._reader.is_alive():
                pytest.fail(f"the demo ended before {text!r}:\n{self.out}\n{self.stderr()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {text!r} within {timeout:g} s:\n{self.out}")
            time.sleep(0.05)

    def wait(self, timeout: float = WAIT_S) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        assert self.proc.stderr is not None
        self.err = self.err or self.proc.stderr.read()
        return self.err

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)
        self.stderr()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def shown_kinds(stdout: str) -> list[str]:
    return [line.split(":")[0][3:] for line in stdout.splitlines() if line.startswith(">> ")]


@pytest.fixture
def demos() -> Iterator[list[Demo]]:
    started: list[Demo] = []
    yield started
    for demo in started:
        demo.close()


def retained(broker: Mosquitto, *topics: str) -> dict[str, bytes]:
    """The retained messages on `topics` right now (a marker ends the snapshot)."""

    async def snapshot() -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        marker = f"test-marker/{time.monotonic_ns()}"
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.subscribe([(topic, 1) for topic in [*topics, marker]])
            await client.publish(marker, b"end", qos=1)
            async with asyncio.timeout(30):
                async for message in client.messages:
                    if str(message.topic) == marker:
                        break
                    if message.retain and isinstance(message.payload, bytes):
                        found[str(message.topic)] = message.payload
        return found

    return asyncio.run(snapshot())


def plant(broker: Mosquitto, topic: str, payload: bytes) -> None:
    async def publish() -> None:
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.publish(topic, payload, qos=1, retain=True)

    asyncio.run(publish())


def test_the_demo_rides_through_a_broker_restart_and_finishes(
    mosquitto: Mosquitto, demos: list[Demo]
) -> None:
    demo = Demo("--broker", mosquitto.url)
    demos.append(demo)
    demo.wait_for(">> WARMUP")
    mosquitto.restart()
    code = demo.wait()
    assert code == 0, f"{demo.out}\n{demo.stderr()}"
    assert "Traceback" not in demo.stderr()
    assert "ExceptionGroup" not in demo.stderr()
    assert shown_kinds(demo.out)[-1] == "CHECKIN"
    assert "Run summary" in demo.out


def test_without_a_broker_the_demo_says_so_keeps_trying_and_stops_on_ctrl_c(
    demos: list[Demo],
) -> None:
    port = free_port()
    demo = Demo("--broker", f"mqtt://127.0.0.1:{port}")
    demos.append(demo)
    demo.wait_for(f"Cannot reach the MQTT broker at 127.0.0.1:{port}")
    demo.wait_for("still no broker")  # keeps trying, and says so
    demo.proc.send_signal(signal.SIGINT)
    assert demo.wait(timeout=30) == EXIT_INTERRUPTED
    assert "Traceback" not in demo.stderr()
    assert "interrupted" in demo.out


def test_demos_leave_no_ghost_device_or_retained_state_behind(
    mosquitto: Mosquitto, demos: list[Demo]
) -> None:
    # What a demo killed with SIGKILL (no clean-up) would have left: the next one starts clean.
    stale = {"speed_kmh": 99.9, "connected": True, "running": True}
    plant(mosquitto, f"{DEMO_BASE_TOPIC}/treadmill/state", json.dumps(stale).encode())
    plant(mosquitto, DISCOVERY, b'{"device": {"name": "stale"}}')
    # The per-process devices earlier versions left go too; other devices stay.
    plant(mosquitto, "homeassistant/device/treadwell-demo-4242_treadmill/config", b"{}")
    plant(mosquitto, "homeassistant/device/kitchen_scale/config", b'{"device": {}}')
    for _ in range(2):
        demo = Demo("--back-pain", "none", "--broker", mosquitto.url)
        demos.append(demo)
        assert demo.wait() == 0, f"{demo.out}\n{demo.stderr()}"
        assert "99.9 km/h" not in demo.out
        assert retained(mosquitto, f"{DEMO_BASE_TOPIC}/#", "homeassistant/#") == KEPT
    # An interrupted demo cleans up too.
    demo = Demo("--broker", mosquitto.url)
    demos.append(demo)
    demo.wait_for(">> WARMUP")
    assert DISCOVERY in retained(mosquitto, "homeassistant/#")  # one stable device meanwhile
    demo.proc.send_signal(signal.SIGINT)
    assert demo.wait(timeout=60) == EXIT_INTERRUPTED
    assert retained(mosquitto, f"{DEMO_BASE_TOPIC}/#", "homeassistant/#") == KEPT


def test_a_demo_kept_in_a_state_directory_shows_in_history(
    tmp_path: Path, demos: list[Demo]
) -> None:
    state = tmp_path / "demo-state"
    demo = Demo("--state-dir", str(state))
    demos.append(demo)
    assert demo.wait() == 0, f"{demo.out}\n{demo.stderr()}"
    result = subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", "history", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    runs = result.stdout.splitlines()
    assert len(runs) == 1
    assert "treadmill" in runs[0]
    assert "km" in runs[0]

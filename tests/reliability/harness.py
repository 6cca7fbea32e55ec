"""Fault-test harness: the daemon as a real subprocess, and a subscriber that outlives brokers.

`DaemonProcess` writes a TOML configuration for the virtual backend, starts
`python -m treadwell.daemon run --config FILE` and keeps its log in a file, so a test can wait
for a line, SIGKILL the process and start it again on the same state directory. The prompts the
daemon handed to its outbox are read back from its log ("prompt <id> (<kind>)"), which is what
a test compares the broker's deliveries with.

`Recorder` is a dashboard that survives broker restarts: a persistent session (clean_session
off, fixed client id) that reconnects until it is stopped, so QoS 1 messages the broker queued
for it while it was away still arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiomqtt
import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Mapping

    from tests.support.mosquitto import Mosquitto

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 30.0
# "prompt <id> (<kind>): <title>" when raised, "prompt <id> (<kind>) is due" when scheduled.
_PROMPT_LINE = re.compile(r"treadwell\.daemon\.(?:app|effects): prompt (\S+) \((\w+)\)")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def _table(name: str, values: dict[str, object]) -> str:
    lines = [f"[{name}]"] + [f"{key} = {_toml_value(v)}" for key, v in values.items()]
    return "\n".join(lines)


def daemon_config(
    broker: Mosquitto,
    state_dir: Path,
    *,
    speedup: float = 120.0,
    profile: str = "demo",
    back_pain: str = "ache",
    client_id: str = "tw-fault",
    rules: Mapping[str, object] | None = None,
) -> str:
    """A TOML configuration for the daemon on the virtual backend against `broker`."""
    parts = [
        f"log_level = {_toml_value('INFO')}",
        f"state_dir = {_toml_value(state_dir)}",
        _table(
            "mqtt",
            {
                "host": broker.host,
                "port": broker.port,
                "base_topic": "tw",
                "client_id": client_id,
            },
        ),
        _table("ble", {"backend": "virtual", "speedup": speedup, "virtual_profile": profile}),
        '[[treadmills]]\nname = "treadmill"\nautomation_allowed = true',
        '[[straps]]\nname = "strap"',
        _table(
            "rules",
            {
                "hydration_reminder_after_s": 120.0,
                "checkin_after_s": 240.0,
                "stop_timeout_s": 120.0,  # silence tolerated: 1 s of real time at 120x
                **(rules or {}),
            },
        ),
        _table("flags", {"back_pain": back_pain}),
    ]
    return "\n\n".join(parts) + "\n"


@dataclass
class DaemonProcess:
    """`treadwell run` in a subprocess; every incarnation appends to one log file."""

    config_text: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    user: int | None = None
    wrapper: tuple[str, ...] = ()
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def config_path(self) -> Path:
        """Where the configuration is written."""
        return self.workdir / "treadwell.toml"

    @property
    def log_path(self) -> Path:
        """The daemon's stderr, all incarnations."""
        return self.workdir / "daemon.log"

    def start(self) -> subprocess.Popen[bytes]:
        """Start one more incarnation (the previous one must have ended)."""
        assert self.running is None, "the daemon is already running"
        self.config_path.write_text(self.config_text)
        env = {**os.environ, **self.env}
        env.pop("JOURNAL_STREAM", None)  # the plain log format, with the logger names
        with self.log_path.open("ab") as log:
            proc = subprocess.Popen(
                [*self.wrapper, *self.command()],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=ROOT,
                env=env,
                user=self.user,
            )
        self.procs.append(proc)
        return proc

    def command(self) -> list[str]:
        """The daemon's command line (after `wrapper`, if any)."""
        return [sys.executable, "-m", "treadwell.daemon", "run", "--config", str(self.config_path)]

    @property
    def running(self) -> subprocess.Popen[bytes] | None:
        """The live incarnation, if any."""
        if self.procs and self.procs[-1].poll() is None:
            return self.procs[-1]
        return None

    def kill(self) -> None:
        """SIGKILL the live incarnation: no clean-up of any kind runs."""
        proc = self.running
        assert proc is not None, "no daemon to kill"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM the live incarnation and return its exit status."""
        proc = self.procs[-1]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the daemon ignored SIGTERM for {timeout:g} s:\n{self.log()[-3000:]}")

    def close(self) -> None:
        """Kill whatever still runs (test clean-up)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)

    def log(self) -> str:
        """Everything the daemon has logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def prompts_raised(self) -> list[tuple[str, str]]:
        """(id, kind) of every prompt handed to the outbox, in order, over all incarnations."""
        return _PROMPT_LINE.findall(self.log())

    async def wait_log(self, pattern: str, *, count: int = 1, timeout: float = WAIT_S) -> None:
        """Wait until `pattern` (a regex) matches `count` times in the log; fail if it exits."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while len(regex.findall(self.log())) < count:
            if self.running is None and self.procs:
                pytest.fail(f"the daemon exited waiting for {pattern!r}:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {pattern!r}:\n{self.log()[-3000:]}")
            await asyncio.sleep(0.05)


@dataclass(frozen=True, slots=True)
class Seen:
    """One message a `Recorder` received."""

    topic: str
    payload: bytes
    session: int

    def json(self) -> Any:
        """The payload as JSON."""
        return json.loads(self.payload)


@dataclass
class Recorder:
    """A persistent-session subscriber that reconnects across broker restarts."""

    broker: Mosquitto
    topics: tuple[str, ...]
    identifier: str = field(default_factory=lambda: f"dash-{uuid.uuid4().hex[:8]}")
    seen: list[Seen] = field(default_factory=list)
    sessions: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Connect, subscribe once (the session keeps it), record; reconnect until cancelled."""
        while True:
            client = aiomqtt.Client(
                self.broker.host,
                self.broker.port,
                identifier=self.identifier,
                clean_session=False,
                keepalive=5,
            )
            try:
                async with client:
                    self.sessions += 1
                    if not self._subscribed.is_set():
                        # QoS 2, as docs/mqtt.md asks: a broker restart mid-delivery must
                        # not repeat a prompt.
                        await client.subscribe([(topic, 2) for topic in self.topics])
                        self._subscribed.set()
                    async for message in client.messages:
                        payload = bytes(message.payload)
                        self.seen.append(Seen(message.topic.value, payload, self.sessions))
                        self._changed.set()
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)

    def on(self, topic: str) -> list[Seen]:
        """Every message seen on `topic`, in order."""
        return [m for m in self.seen if m.topic == topic]

    def prompt_ids(self) -> list[str]:
        """The ids of the prompts received, in order of arrival."""
        return [str(m.json()["id"]) for m in self.on("tw/prompt")]

    async def wait_for(
        self, predicate: Callable[[], bool], what: str, timeout: float = WAIT_S
    ) -> None:
        """Wait until `predicate()` holds; fail, showing what was seen, after `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            tail = [(m.topic, m.payload[:80]) for m in self.seen[-20:]]
            pytest.fail(f"timed out waiting for {what}; last seen {tail}")

    async def wait_subscribed(self) -> None:
        """Return once the subscription exists in the broker's session."""
        async with asyncio.timeout(WAIT_S):
            await self._subscribed.wait()


@contextlib.asynccontextmanager
async def recording(broker: Mosquitto, *topics: str) -> AsyncIterator[Recorder]:
    """A running `Recorder` for the duration of the block."""
    recorder = Recorder(broker, topics)
    task = asyncio.create_task(recorder.run())
    try:
        await recorder.wait_subscribed()
        yield recorder
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def duplicates(ids: Iterable[str]) -> list[str]:
    """The ids that occur more than once."""
    seen: set[str] = set()
    twice = []
    for item in ids:
        if item in seen:
            twice.append(item)
        seen.add(item)
    return twice

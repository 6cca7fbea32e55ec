"""I/O. `treadwell demo`: the whole story on a virtual treadmill and strap, in about a minute.

The demo runs the real daemon (`Daemon`) on the virtual Bluetooth world, against an MQTT
broker: an embedded one (amqtt, bound to 127.0.0.1 on a free port, so nothing off this machine
can reach it) unless `--broker` names one. A scripted run of about twenty minutes plays at a
speed-up, and the post-run prompts the rules schedule come at demo-sized offsets, so the
whole story (warm-up, incline, form cue, hydration, stretch, the later reminder and the
check-in) is told in about a minute. What the terminal shows is what a dashboard would see:
the view is an ordinary MQTT subscriber to the daemon's topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

import aiomqtt

from treadwell.daemon.app import Daemon
from treadwell.daemon.clock import Clock
from treadwell.daemon.config import Settings
from treadwell.daemon.virtual_env import virtual_world

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

_LOGGER = logging.getLogger(__name__)

DEMO_BASE_TOPIC = "treadwell"
# Demo-sized offsets (in demo time): the later hydration reminder and the check-in.
DEMO_HYDRATION_REMINDER_S = 600.0
DEMO_CHECKIN_S = 900.0
DEMO_STOP_TIMEOUT_S = 60.0
# The scripted run lasts 20 demo minutes; give the story generous slack before giving up.
DEMO_STORY_S = 1200.0 + DEMO_STOP_TIMEOUT_S + DEMO_CHECKIN_S
_TIMEOUT_FACTOR = 3.0
_MIN_TIMEOUT_S = 30.0
EXIT_FAILURE = 1


class DemoError(Exception):
    """The demo could not run (bad broker URL, broker unreachable, story did not finish)."""


@dataclass
class DemoView:
    """What the terminal shows: the latest state line and every prompt as it arrives."""

    out: TextIO
    base: str
    tty: bool = False
    prompts: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] | None = None
    _status_shown: bool = False
    _last_line_at: float = 0.0

    def handle(self, topic: str, payload: bytes) -> None:
        """Show one message from the daemon."""
        if not payload:
            return
        try:
            data = json.loads(payload)
        except ValueError:
            return
        if topic == f"{self.base}/prompt" and isinstance(data, dict):
            self.prompts.append(data)
            self._prompt(data)
        elif topic.endswith("/state") and isinstance(data, dict):
            self.state = data
            self._status()
        elif topic == f"{self.base}/run" and isinstance(data, dict):
            self.run = data

    def _write(self, text: str) -> None:
        if self.tty and self._status_shown:
            self.out.write("\r\033[K")
            self._status_shown = False
        self.out.write(text)
        self.out.flush()

    def _prompt(self, prompt: dict[str, Any]) -> None:
        kind = str(prompt.get("kind", "?")).upper().replace("_", " ")
        lines = [f"\n>> {kind}: {prompt.get('title', '')}\n", f"   {prompt.get('message', '')}\n"]
        lines.extend(
            f"   - {_step_text(step)}\n"
            for step in prompt.get("steps") or []
            if isinstance(step, dict)
        )
        if prompt.get("suggested_incline_pct") is not None:
            lines.append(f"   suggested incline: {prompt['suggested_incline_pct']:g}%\n")
        lines.append(f"   ({prompt.get('disclaimer', '')})\n")
        self._write("".join(lines))
        self._status()

    def _status(self) -> None:
        line = status_line(self.state)
        if self.tty:
            self.out.write("\r\033[K" + line)
            self.out.flush()
            self._status_shown = True
            return
        now = time.monotonic()
        if now - self._last_line_at >= 2.0:
            self._last_line_at = now
            self._write(line + "\n")

    def summary(self) -> str:
        """The closing run summary."""
        run = self.run or {}
        kinds = ", ".join(str(p.get("kind")) for p in self.prompts)
        return (
            "\n\nRun summary\n"
            f"  duration      {_minutes(run.get('duration_s'))}\n"
            f"  distance      {_km(run.get('distance_m'))}\n"
            f"  average speed {_num(run.get('average_speed_kmh'), 'km/h')}\n"
            f"  incline 2-3%  {_minutes(run.get('incline_time_in_window_s'))}\n"
            f"  heart rate    avg {_num(run.get('average_hr_bpm'), 'bpm')},"
            f" max {_num(run.get('max_hr_bpm'), 'bpm')}\n"
            f"  prompts       {len(self.prompts)} ({kinds})\n"
        )


def status_line(state: dict[str, Any]) -> str:
    """One line: speed, incline (and the suggestion), heart rate, distance, time."""
    suggested = state.get("suggested_incline_pct")
    hint = f" (suggested {suggested:g}%)" if isinstance(suggested, int | float) else ""
    link = "connected" if state.get("connected") else "waiting for the treadmill"
    return (
        f"speed {_num(state.get('speed_kmh'), 'km/h')} | "
        f"incline {_num(state.get('incline_pct'), '%')}{hint} | "
        f"HR {_num(state.get('heart_rate_bpm'), 'bpm')} | "
        f"distance {_km(state.get('total_distance_m'))} | "
        f"time {_minutes(state.get('elapsed_time_s'))} | {link}"
    )


def _step_text(step: dict[str, Any]) -> str:
    amount = f"{step['seconds']} s" if step.get("seconds") else str(step.get("reps") or "")
    side = "each side" if step.get("per_side") else ""
    detail = " ".join(part for part in (amount, side) if part)
    return f"{step.get('name', '')}: {detail}" if detail else str(step.get("name", ""))


def _num(value: object, unit: str) -> str:
    if isinstance(value, int | float):
        return f"{value:.1f} {unit}" if isinstance(value, float) else f"{value} {unit}"
    return "-"


def _km(value: object) -> str:
    return f"{value / 1000:.2f} km" if isinstance(value, int | float) else "-"


def _minutes(value: object) -> str:
    if not isinstance(value, int | float):
        return "-"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}:{seconds:02d}"


def demo_settings(
    *, host: str, port: int, back_pain: str, speedup: float, state_dir: Path
) -> Settings:
    """The daemon's settings for the demo: virtual world, automation on, short offsets."""
    return Settings(
        mqtt={
            "host": host,
            "port": port,
            "base_topic": DEMO_BASE_TOPIC,
            "client_id": f"treadwell-demo-{os.getpid()}",
            "discovery": True,
        },
        ble={"backend": "virtual", "speedup": speedup, "virtual_profile": "demo"},
        treadmills=[{"name": "treadmill", "automation_allowed": True, "max_incline_pct": 3.0}],
        straps=[{"name": "strap"}],
        rules={
            "hydration_reminder_after_s": DEMO_HYDRATION_REMINDER_S,
            "checkin_after_s": DEMO_CHECKIN_S,
            "stop_timeout_s": DEMO_STOP_TIMEOUT_S,
        },
        flags={"back_pain": back_pain},
        state_dir=state_dir,
        log_level="WARNING",
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def embedded_broker() -> AsyncIterator[tuple[str, int]]:
    """An amqtt broker on 127.0.0.1 and a free port, for this process only."""
    try:
        from amqtt.broker import Broker  # noqa: PLC0415 - optional, heavy, demo only
    except ImportError as exc:
        raise DemoError(
            "the embedded broker needs amqtt: pip install 'treadwell[demo]', "
            "or give --broker mqtt://host:port"
        ) from exc
    port = _free_port()
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    try:
        yield "127.0.0.1", port
    finally:
        await broker.shutdown()


def parse_broker(url: str) -> tuple[str, int]:
    """`mqtt://host:port` -> (host, port)."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme != "mqtt" or not parts.hostname:
        raise DemoError(f"--broker must look like mqtt://host:port, got {url!r}")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise DemoError(f"--broker has a bad port: {url!r}") from exc
    return parts.hostname, port


async def _watch(host: str, port: int, view: DemoView, done: asyncio.Event) -> None:
    async with aiomqtt.Client(
        host, port, identifier=f"treadwell-demo-view-{os.getpid()}"
    ) as client:
        await client.subscribe(f"{view.base}/#", qos=1)
        async for message in client.messages:
            view.handle(str(message.topic), _payload_bytes(message.payload))
            if any(p.get("kind") == "checkin" for p in view.prompts) and view.run is not None:
                done.set()


async def run_demo(
    *,
    back_pain: str,
    speedup: float,
    broker: str | None,
    out: TextIO = sys.stdout,
    state_dir: Path | None = None,
) -> int:
    """Play the demo; returns the exit status.

    The state (run history, samples) goes to `state_dir` when given, so that `treadwell
    history` and `treadwell export` can read it afterwards; else to a temporary directory.
    """
    async with contextlib.AsyncExitStack() as stack:
        if broker is None:
            host, port = await stack.enter_async_context(embedded_broker())
        else:
            host, port = parse_broker(broker)
        if state_dir is None:
            temporary = tempfile.TemporaryDirectory(prefix="treadwell-demo-")
            state_dir = Path(stack.enter_context(temporary))
        settings = demo_settings(
            host=host, port=port, back_pain=back_pain, speedup=speedup, state_dir=state_dir
        )
        out.write(
            f"Treadwell demo: back-pain flag '{back_pain}', a 20-minute run at {speedup:g}x, "
            f"MQTT at {host}:{port} (topics {DEMO_BASE_TOPIC}/#)\n"
        )
        world, settings = await stack.enter_async_context(virtual_world(settings))
        view = DemoView(out, DEMO_BASE_TOPIC, tty=out.isatty())
        done, stop = asyncio.Event(), asyncio.Event()
        daemon = Daemon(settings, backend=world.backend, clock=Clock(speedup))
        limit = max(_MIN_TIMEOUT_S, DEMO_STORY_S / speedup * _TIMEOUT_FACTOR)
        async with asyncio.TaskGroup() as group:
            watcher = group.create_task(_watch(host, port, view, done))
            runner = group.create_task(daemon.run(stop))
            finished = True
            try:
                async with asyncio.timeout(limit):
                    await done.wait()
            except TimeoutError:
                finished = False
            stop.set()
            await runner
            watcher.cancel()
        if not finished:
            out.write(f"\nThe demo did not finish within {limit:.0f} s: something is wrong.\n")
            return EXIT_FAILURE
        out.write(view.summary())
    return 0


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload).encode()

"""I/O. `treadwell demo`: the whole story on a virtual treadmill and strap, in about a minute.

The demo runs the real daemon (`Daemon`) on the virtual Bluetooth world, against an MQTT
broker: an embedded one (amqtt, bound to 127.0.0.1 on a free port, so nothing off this machine
can reach it) unless `--broker` names one. A scripted run of about twenty minutes plays at a
speed-up, and the post-run prompts the rules schedule come at demo-sized offsets, so the
whole story (warm-up, incline, form cue, hydration, stretch, the later reminder and the
check-in) is told in about a minute. What the terminal shows is what a dashboard would see:
the view is an ordinary MQTT subscriber to the daemon's topics.

On a broker of one's own the demo behaves like a guest. It has one stable identity (client
id `treadwell-demo`, topics under `treadwell-demo/`, so it never mixes with a real
Treadwell's `treadwell/`), starts clean (the retained topics and sessions a previous demo
left are cleared first) and leaves nothing behind: on the way out, finished or
interrupted, it clears its retained topics, its Home Assistant device and its sessions.
Until the broker can be reached it says so and keeps trying; when the broker goes away
mid-demo the view waits for it and carries on; Ctrl-C stops it at any point.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

import aiomqtt

from treadwell.daemon.app import Daemon
from treadwell.daemon.clock import Clock
from treadwell.daemon.config import DEFAULT_RUNNER, Settings
from treadwell.daemon.discovery import discovery_object_id
from treadwell.daemon.store import StateStoreError, Store
from treadwell.daemon.virtual_env import virtual_world

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Coroutine

_LOGGER = logging.getLogger(__name__)

DEMO_BASE_TOPIC = "treadwell-demo"
DEMO_CLIENT_ID = "treadwell-demo"
DEMO_VIEW_ID = "treadwell-demo-view"
DEMO_TREADMILL = "treadmill"
# Demo-sized offsets (in demo time): the later hydration reminder and the check-in.
DEMO_HYDRATION_REMINDER_S = 600.0
DEMO_CHECKIN_S = 900.0
DEMO_STOP_TIMEOUT_S = 60.0
# The scripted run lasts 20 demo minutes; give the story generous slack before giving up.
DEMO_STORY_S = 1200.0 + DEMO_STOP_TIMEOUT_S + DEMO_CHECKIN_S
_TIMEOUT_FACTOR = 3.0
_MIN_TIMEOUT_S = 30.0
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
"""Ctrl-C (or SIGTERM): the shell's status for a command ended by SIGINT."""
_RETRY_MIN_S = 1.0
_RETRY_MAX_S = 5.0
_STOP_WAIT_S = 15.0
_CLEAN_WAIT_S = 10.0
# The Home Assistant device a demo of an earlier version left, one per process id.
_OLD_DEMO_DEVICE = re.compile(r"homeassistant/device/treadwell-demo-\d+_treadmill/config")


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

    def note(self, text: str) -> None:
        """A line about the demo itself (the broker went away, came back)."""
        self._write(text)
        self._status()

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
    seconds, upto = step.get("seconds"), step.get("max_seconds")
    span = f"{seconds}-{upto}" if upto and upto != seconds else f"{seconds}"
    amount = f"{span} s" if seconds else str(step.get("reps") or "")
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
            "client_id": DEMO_CLIENT_ID,
            "discovery": True,
        },
        ble={"backend": "virtual", "speedup": speedup, "virtual_profile": "demo"},
        treadmills=[{"name": DEMO_TREADMILL, "automation_allowed": True, "max_incline_pct": 3.0}],
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


def _leftover_topics() -> list[str]:
    """Every retained topic a demo may leave: its own tree and Home Assistant devices.

    All device configurations are looked at, but only the demo's own is cleared, with the
    ones earlier versions left under a per-process id (`treadwell-demo-<pid>_treadmill`).
    """
    return [f"{DEMO_BASE_TOPIC}/#", "homeassistant/device/+/config"]


def _is_demo_leftover(topic: str) -> bool:
    if topic.startswith(f"{DEMO_BASE_TOPIC}/"):
        return True
    # The treadmill's device and the demo runner's ("default").
    own = {
        discovery_object_id(DEMO_CLIENT_ID, DEMO_TREADMILL),
        discovery_object_id(DEMO_CLIENT_ID, f"runner_{DEFAULT_RUNNER}"),
    }
    return any(topic == f"homeassistant/device/{o}/config" for o in own) or bool(
        _OLD_DEMO_DEVICE.fullmatch(topic)
    )


async def _reach_broker(host: str, port: int, out: TextIO) -> None:
    """Return once the broker takes a connection; until then say so and keep trying."""
    delay = _RETRY_MIN_S
    attempt = 0
    while True:
        attempt += 1
        try:
            async with aiomqtt.Client(host, port, identifier=f"{DEMO_VIEW_ID}-probe", timeout=5):
                pass
        except aiomqtt.MqttError as exc:
            if attempt == 1:
                out.write(
                    f"Cannot reach the MQTT broker at {host}:{port} ({exc}). "
                    "Trying again until it answers; Ctrl-C to stop.\n"
                )
            else:
                out.write(f"  still no broker at {host}:{port} (attempt {attempt}): {exc}\n")
            out.flush()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)
            continue
        if attempt > 1:
            out.write(f"Reached the MQTT broker at {host}:{port}.\n")
        return


async def clear_leftovers(host: str, port: int) -> list[str]:
    """Clear the demo's retained topics and drop its broker sessions.

    Returns:
        The retained topics that were cleared.
    """
    marker = f"{DEMO_BASE_TOPIC}-cleanup/{uuid.uuid4().hex}"
    found: list[str] = []
    async with aiomqtt.Client(
        host, port, identifier=f"{DEMO_VIEW_ID}-cleanup", clean_session=True, timeout=5
    ) as client:
        await client.subscribe([(topic, 1) for topic in [*_leftover_topics(), marker]])
        # Retained messages are queued for us before the broker handles this publish, so
        # the marker coming back means every retained one has arrived.
        await client.publish(marker, b"end", qos=1)
        async with asyncio.timeout(_CLEAN_WAIT_S):
            async for message in client.messages:
                topic = str(message.topic)
                if topic == marker:
                    break
                if (
                    message.retain
                    and message.payload
                    and _is_demo_leftover(topic)
                    and topic not in found
                ):
                    found.append(topic)
        for topic in found:
            await client.publish(topic, b"", qos=1, retain=True)
    # A clean connection under each stable id drops that id's stored session.
    for identifier in (DEMO_CLIENT_ID, DEMO_VIEW_ID):
        async with aiomqtt.Client(host, port, identifier=identifier, clean_session=True):
            pass
    return found


async def _watch(host: str, port: int, view: DemoView, done: asyncio.Event) -> None:
    """Show the daemon's messages; ride through broker outages until cancelled."""
    delay = _RETRY_MIN_S
    lost = False
    while True:
        try:
            # A persistent session: QoS 1/2 messages sent while we reconnect are kept for us.
            async with aiomqtt.Client(
                host, port, identifier=DEMO_VIEW_ID, clean_session=False, timeout=5
            ) as client:
                await client.subscribe(f"{view.base}/#", qos=2)
                if lost:
                    view.note(f"MQTT: the broker at {host}:{port} is back\n")
                    lost, delay = False, _RETRY_MIN_S
                async for message in client.messages:
                    view.handle(str(message.topic), _payload_bytes(message.payload))
                    if any(p.get("kind") == "checkin" for p in view.prompts) and view.run:
                        done.set()
        except aiomqtt.MqttError as exc:
            if not lost:
                view.note(
                    f"MQTT: lost the broker at {host}:{port} ({exc}); waiting for it to come "
                    "back (Ctrl-C to stop)\n"
                )
                lost = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)


async def _clean_up(host: str, port: int, out: TextIO) -> None:
    try:
        async with asyncio.timeout(_CLEAN_WAIT_S * 2):
            await clear_leftovers(host, port)
    except (aiomqtt.MqttError, TimeoutError) as exc:
        out.write(
            f"\nCould not clear the demo's retained topics ({DEMO_BASE_TOPIC}/#) on "
            f"{host}:{port}: {str(exc) or 'timed out'}; the next demo clears them first.\n"
        )


def _keep_flag(state_dir: Path, back_pain: str) -> None:
    """Store the chosen flag, so a state directory kept from an earlier demo cannot win."""
    try:
        with Store.in_dir(state_dir) as store:
            store.save_flags(back_pain)
    except StateStoreError as exc:
        raise DemoError(str(exc)) from exc


async def run_demo(
    *,
    back_pain: str,
    speedup: float,
    broker: str | None,
    state_dir: Path | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Play the demo; returns the exit status (130 when interrupted)."""
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    try:
        return await _play(
            back_pain=back_pain,
            speedup=speedup,
            broker=broker,
            state_dir=state_dir,
            out=out,
            interrupted=interrupted,
        )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _play(
    *,
    back_pain: str,
    speedup: float,
    broker: str | None,
    state_dir: Path | None,
    out: TextIO,
    interrupted: asyncio.Event,
) -> int:
    async with contextlib.AsyncExitStack() as stack:
        if broker is None:
            host, port = await stack.enter_async_context(embedded_broker())
        else:
            host, port = parse_broker(broker)
        out.write(
            f"Treadwell demo: back-pain flag '{back_pain}', a 20-minute run at {speedup:g}x, "
            f"MQTT at {host}:{port} (topics {DEMO_BASE_TOPIC}/#)\n"
        )
        out.flush()
        if not await _until(_reach_broker(host, port, out), interrupted):
            out.write("\nDemo interrupted before it started.\n")
            return EXIT_INTERRUPTED
        if not await _until(clear_leftovers(host, port), interrupted):
            out.write("\nDemo interrupted before it started.\n")
            return EXIT_INTERRUPTED
        stack.push_async_callback(_clean_up, host, port, out)
        if state_dir is None:
            state_dir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="treadwell-demo-"))
            )
        _keep_flag(state_dir, back_pain)
        settings = demo_settings(
            host=host, port=port, back_pain=back_pain, speedup=speedup, state_dir=state_dir
        )
        world, settings = await stack.enter_async_context(virtual_world(settings))
        view = DemoView(out, DEMO_BASE_TOPIC, tty=out.isatty())
        done, stop = asyncio.Event(), asyncio.Event()
        daemon = Daemon(settings, backend=world.backend, clock=Clock(speedup))
        limit = max(_MIN_TIMEOUT_S, DEMO_STORY_S / speedup * _TIMEOUT_FACTOR)
        watcher = asyncio.create_task(_watch(host, port, view, done))
        runner = asyncio.create_task(daemon.run(stop))
        ended = asyncio.create_task(done.wait())
        halted = asyncio.create_task(interrupted.wait())
        try:
            finished, _ = await asyncio.wait(
                {ended, halted, runner, watcher},
                timeout=limit,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for task in (ended, halted):
                task.cancel()
            stop.set()
            await _stop_daemon(runner)
            watcher.cancel()
            await asyncio.wait({watcher})
        failure = _failure(runner) or _failure(watcher)
        if failure is not None:
            out.write(f"\nThe demo failed: {failure}\n")
            return EXIT_FAILURE
        if halted in finished and ended not in finished:
            out.write("\n\nDemo interrupted.\n")
            return EXIT_INTERRUPTED
        if ended not in finished:
            out.write(f"\nThe demo did not finish within {limit:.0f} s: something is wrong.\n")
            return EXIT_FAILURE
        out.write(view.summary())
    return 0


def _failure(task: asyncio.Task[None]) -> str | None:
    """What a finished task died of, if it died of something."""
    if not task.done() or task.cancelled() or task.exception() is None:
        return None
    return f"{type(task.exception()).__name__}: {task.exception()}"


async def _until(coro: Coroutine[Any, Any, object], interrupted: asyncio.Event) -> bool:
    """Await `coro` unless Ctrl-C comes first (then cancel it); returns whether it finished."""
    work = asyncio.ensure_future(coro)
    halted = asyncio.ensure_future(interrupted.wait())
    try:
        await asyncio.wait({work, halted}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        halted.cancel()
    if work.done():
        work.result()
        return True
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work
    return False


async def _stop_daemon(runner: asyncio.Task[None]) -> None:
    """Wait for the daemon's clean stop; cancel it if it takes too long (broker gone)."""
    try:
        async with asyncio.timeout(_STOP_WAIT_S):
            await asyncio.wait({runner})
    except TimeoutError:
        runner.cancel()
        await asyncio.wait({runner})


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload).encode()

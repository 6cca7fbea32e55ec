"""I/O. End to end: virtual treadmills -> daemon -> mosquitto -> subscriber, against a bare relay.

    .venv/bin/python -m bench.e2e [--json] [--treadmills 1,5,20] [--seconds S] [--repeat R]

For each treadmill count N, worker processes run one after the other, each on the same kind
of virtual world (N treadmills notifying Treadmill Data at 4 Hz at a steady 18 km/h, each with
a strap following it at 1 Hz), served by a radio process of its own (`bench/radio.py`), and on
the same broker:

* `daemon`: the real `Daemon`, state rate limit at its maximum (50 Hz) so every reading is
  published (and `default`: the same at the default 2 Hz);
* `relay`: the baseline: a bleak client per device whose notification callback publishes the
  raw bytes with aiomqtt (QoS 0, retained, like the daemon's state), nothing else;
* `sink` (before and after): bleak clients whose callbacks do nothing: what receiving the
  notifications costs any client.

Latency: the radio, the worker and the subscriber (this orchestrating process) stamp with
`time.monotonic()`, which on Linux is the system-wide CLOCK_MONOTONIC, so the stamps compare
across processes. The radio stamps each Treadmill Data notification just before the virtual
treadmill builds and notifies it; at 18 km/h and 4 Hz the total distance grows by 1.25 m a
notification, so (treadmill, whole metres) names one notification, and the subscriber finds it
in the state JSON (daemon) or by decoding the relayed bytes (relay; the decoding is here, not
in the relay). Latency is receive time minus send time, over the notifications sent in the
measuring window. Publishing on change never drops one here, as the distance always changes.

CPU: `time.process_time()` of the worker over the window, divided by the Treadmill Data
notifications sent in it: the code under test and bleak's end of the radio's socket. The
`*_net_*` figures subtract the `sink` runs' mean; the radio's own CPU is reported beside.
With `--in-process` the world shares the worker's process, as earlier versions ran it.

Prompt path (daemon run with one treadmill): once the run has started, the worker stamps the
moment and has the radio press Stop on the virtual console; the figure is the time until the
hydration prompt for that run reaches the subscriber.

Footprint figures come from `bench.footprint` (READY and RSS of `treadwell run`).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import aiomqtt

from bench.footprint import ROOT, broker
from bench.footprint import measure as measure_footprint
from bench.radio import RadioProcess
from bench.world import NOTIFY_HZ, SPEED_KMH, local_world
from treadwell.drivers.codec.treadmill_data import parse_treadmill_data

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bleak import BleakClient

    from bench.world import WorldHandle
    from treadwell.daemon.app import Daemon
    from treadwell.rules.engine import EngineState

    NotifyCallback: TypeAlias = Callable[[Any, bytearray], Awaitable[None] | None]

WARMUP_S = 2.0
CONNECT_TIMEOUT_S = 120.0
PROMPT_TIMEOUT_S = 10.0
LATE_S = 1.0
MODES = ("daemon", "default", "relay", "sink")
SEQUENCE = (  # (mode, prefix of its figures), in the order they run for each count
    ("sink", "sink_before_"),
    ("daemon", ""),
    ("default", "default_"),
    ("relay", "relay_"),
    ("sink", "sink_after_"),
)
MAX_RATE_HZ = 50.0  # the largest `max_state_rate_hz` the configuration allows
DEFAULT_RATE_HZ = 2.0  # the configuration's default `max_state_rate_hz`
RATE_HZ = {"daemon": MAX_RATE_HZ, "default": DEFAULT_RATE_HZ}
RUN_START_S = 1.0  # the smallest `run_start_s`: a prompt cycle takes about 2 s, not 6
PROMPT_CYCLES = 30
WORKER_LIMIT_S = 240.0  # a worker that takes longer than this (plus its window) stalled
PROMPT_CYCLE_LIMIT_S = 15.0
WORKER_ATTEMPTS = 2
STOP_LIMIT_S = 30.0
_US = 1e6
_MS = 1e3


# -- worker (one process per run) -------------------------------------------------------


@dataclass
class Worker:
    """One measured run: the world plus the code under test, in this process."""

    mode: str
    count: int
    host: str
    port: int
    base: str
    seconds: float
    prompts: int
    in_process: bool = False

    async def run(self) -> dict[str, Any]:
        """Start the world, connect, measure a window, report as one JSON-able dict."""
        with tempfile.TemporaryDirectory() as directory:
            world: contextlib.AbstractAsyncContextManager[WorldHandle] = (
                local_world(self.count)
                if self.in_process
                else RadioProcess(self.count, Path(directory))
            )
            async with world as handle:
                if self.mode in RATE_HZ:
                    return await self._daemon(handle)
                return await self._clients(handle)

    async def _window(self, world: WorldHandle) -> dict[str, Any]:
        await asyncio.sleep(WARMUP_S)
        start_world = await world.cpu_s()
        start_cpu, start = time.process_time(), time.monotonic()
        await asyncio.sleep(self.seconds)
        cpu, end = time.process_time() - start_cpu, time.monotonic()
        end_world = await world.cpu_s()
        world_cpu = None if start_world is None or end_world is None else end_world - start_world
        stamps = await world.stamps(start, end)
        return {
            "cpu_s": cpu,
            "world_cpu_s": world_cpu,
            "notifications": len(stamps),
            "stamps": stamps,
        }

    async def _daemon(self, world: WorldHandle) -> dict[str, Any]:
        from treadwell.daemon.app import Daemon
        from treadwell.daemon.config import Settings

        with tempfile.TemporaryDirectory() as state_dir:
            settings = Settings(
                mqtt={
                    "host": self.host,
                    "port": self.port,
                    "base_topic": self.base,
                    "client_id": self.base,
                    "max_state_rate_hz": RATE_HZ[self.mode],
                },
                ble={"backend": "virtual"},
                rules={"run_start_s": RUN_START_S},
                treadmills=[
                    {"name": slug, "match_name": pair.name} for slug, pair in world.pairs.items()
                ],
                straps=[
                    {"name": f"s{slug}", "match_name": pair.strap_name}
                    for slug, pair in world.pairs.items()
                ],
                state_dir=Path(state_dir),
            )
            daemon = Daemon(settings, backend=world.backend)
            stop = asyncio.Event()
            task = asyncio.create_task(daemon.run(stop))
            try:
                # Measure the steady state: every treadmill connected and its run started.
                try:
                    await _until(
                        lambda: all(
                            c.connected and daemon.house.slot(slug).engine.running
                            for slug, c in daemon.channels.items()
                        )
                    )
                except TimeoutError:
                    behind = {
                        slug: (c.connected, daemon.house.slot(slug).engine.running)
                        for slug, c in daemon.channels.items()
                        if not (c.connected and daemon.house.slot(slug).engine.running)
                    }
                    raise RuntimeError(f"not (connected, running) in time: {behind}") from None
                result = await self._window(world)
                if self.prompts:
                    result["prompt_stops"] = await self._prompt_cycles(daemon, world)
            finally:
                stop.set()
                async with asyncio.timeout(STOP_LIMIT_S):
                    await task
        return result

    async def _prompt_cycles(self, daemon: Daemon, world: WorldHandle) -> list[tuple[str, float]]:
        """Stop the first treadmill's run `prompts` times; (run id, when Stop was pressed) each.

        Each cycle waits for a run to have started (the belt moving for `run_start_s`), presses
        Stop on the virtual console and stamps it, waits for the rules to end the run, then
        presses Start again for the next one.
        """

        def engine() -> EngineState:
            return daemon.house.slot("t0").engine

        stops: list[tuple[str, float]] = []
        seen: set[str] = set()
        for _ in range(self.prompts):
            await _until(lambda: engine().running and engine().run_id not in {None, *seen})
            run_id = engine().run_id
            assert run_id is not None  # noqa: S101 - the wait above
            seen.add(run_id)
            stops.append((run_id, time.monotonic()))
            await world.press_stop("t0")
            await _until(lambda: not engine().running)
            await world.set_belt("t0", SPEED_KMH)
        await asyncio.sleep(LATE_S)
        return stops

    async def _clients(self, world: WorldHandle) -> dict[str, Any]:
        from bleak import BleakClient

        from treadwell.drivers.uuids import (
            HEART_RATE_MEASUREMENT_UUID,
            TREADMILL_DATA_UUID,
        )

        backend = world.backend.client
        async with contextlib.AsyncExitStack() as stack:
            mqtt = await stack.enter_async_context(
                aiomqtt.Client(self.host, self.port, identifier=self.base)
            )
            clients: list[tuple[BleakClient, str, str]] = []
            for slug, pair in world.pairs.items():
                for address, uuid, topic in (
                    (pair.address, TREADMILL_DATA_UUID, f"{self.base}/{slug}/state"),
                    (pair.strap_address, HEART_RATE_MEASUREMENT_UUID, f"{self.base}/{slug}/hr"),
                ):
                    client = BleakClient(address, backend=backend, timeout=CONNECT_TIMEOUT_S)
                    await stack.enter_async_context(client)
                    clients.append((client, uuid, topic))
            for client, uuid, topic in clients:
                # The daemon publishes nothing for a strap's notification (its heart rate
                # goes out with the treadmill's next state), so the relay does not either;
                # it still receives them, so the world does the same work in every run.
                relayed = uuid == TREADMILL_DATA_UUID
                await client.start_notify(uuid, self._callback(mqtt, topic, relayed=relayed))
            return await self._window(world)

    def _callback(self, mqtt: aiomqtt.Client, topic: str, *, relayed: bool) -> NotifyCallback:
        if self.mode == "sink" or not relayed:

            def ignore(_characteristic: object, _data: bytearray) -> None:
                pass

            return ignore

        async def relay(_characteristic: object, data: bytearray) -> None:
            await mqtt.publish(topic, bytes(data), qos=0, retain=True)

        return relay


async def _until(condition: Callable[[], bool], limit_s: float = CONNECT_TIMEOUT_S) -> None:
    async with asyncio.timeout(limit_s):
        while not condition():  # noqa: ASYNC110 - state other tasks own, no event to wait on
            await asyncio.sleep(0.05)


def worker_main(args: argparse.Namespace) -> int:
    """Run one worker and print its result as one JSON line."""
    worker = Worker(
        args.worker, args.count, args.host, args.port, args.base, args.seconds, args.prompts,
        in_process=args.in_process,
    )  # fmt: skip
    print(json.dumps(asyncio.run(worker.run())), flush=True)
    return 0


# -- orchestrator ------------------------------------------------------------------------


@dataclass
class Received:
    """Every state and prompt message the subscriber saw, with its receive time."""

    states: dict[tuple[str, str, int], float] = field(default_factory=dict)
    by_topic: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    prompts: list[tuple[dict[str, Any], float]] = field(default_factory=list)


async def _subscribe(host: str, port: int, seen: Received, ready: asyncio.Event) -> None:
    async with aiomqtt.Client(host, port, identifier="bench-subscriber") as client:
        await client.subscribe([("+/+/state", 0), ("+/prompt", 1)])
        ready.set()
        async for message in client.messages:
            now = time.monotonic()
            topic = message.topic.value
            payload = bytes(message.payload)
            if topic.endswith("/prompt"):
                seen.prompts.append((json.loads(payload), now))
                continue
            base, slug, _ = topic.split("/")
            seen.by_topic.setdefault((base, slug), []).append(now)
            metres = _metres(base, payload)
            if metres is not None:
                seen.states.setdefault((base, slug, metres), now)


def _metres(base: str, payload: bytes) -> int | None:
    if base.startswith("relay") or base.startswith("sink"):
        return parse_treadmill_data(payload).total_distance_m
    distance = json.loads(payload).get("total_distance_m")
    return None if distance is None else int(distance)


async def _run_worker(
    mode: str,
    count: int,
    *,
    seconds: float,
    host: str,
    port: int,
    base: str,
    prompts: int,
    in_process: bool,
) -> dict[str, Any]:
    command = [
        *(sys.executable, "-m", "bench.e2e", "--worker", mode, "--count", str(count)),
        *("--host", host, "--port", str(port), "--base", base, "--seconds", str(seconds)),
        *("--prompts", str(prompts)),
        *(("--in-process",) if in_process else ()),
    ]
    # This process timestamps every message it receives and keeps them all: without this, a
    # full collection over all it kept, longer with every window, could stall a receive and
    # count as the worker's delay. What is kept so far goes out of the collector's sight.
    gc.collect()
    gc.freeze()
    for attempt in range(1, WORKER_ATTEMPTS + 1):
        process = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            async with asyncio.timeout(WORKER_LIMIT_S + seconds + prompts * PROMPT_CYCLE_LIMIT_S):
                out, err = await process.communicate()
        except TimeoutError:
            # The virtual world has been seen to stall while 20 links connect on a loaded
            # machine; such a run measured nothing, so it is started again (and said so).
            process.kill()
            _, err = await process.communicate()
            said = [line for line in err.decode().splitlines() if "no connection" not in line]
            print(f"{mode} worker ({count}) stalled, attempt {attempt}", file=sys.stderr)
            print("\n".join(said[-20:]), file=sys.stderr)
            continue
        if process.returncode != 0:
            said = [line for line in err.decode().splitlines() if "no connection" not in line]
            if attempt < WORKER_ATTEMPTS:
                print(f"{mode} worker ({count}) failed, attempt {attempt}:", file=sys.stderr)
                print("\n".join(said[-5:]), file=sys.stderr)
                continue
            raise RuntimeError(f"{mode} worker failed ({process.returncode}):\n" + "\n".join(said))
        break
    else:
        raise RuntimeError(f"{mode} worker ({count}) stalled {WORKER_ATTEMPTS} times")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    await asyncio.sleep(LATE_S)
    return result


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def _distribution(prefix: str, values_s: list[float]) -> dict[str, Any]:
    """p50, p99 and max in milliseconds, and how many samples they come from."""
    values = sorted(values_s)
    return {
        f"{prefix}p50_ms": round(_percentile(values, 0.5) * _MS, 2),
        f"{prefix}p99_ms": round(_percentile(values, 0.99) * _MS, 2),
        f"{prefix}max_ms": round(values[-1] * _MS, 2),
        f"{prefix}samples": len(values),
    }


def _latencies(seen: Received, base: str, result: dict[str, Any]) -> tuple[list[float], int]:
    latencies = []
    missing = 0
    for slug, metres, sent in result["stamps"]:
        received = seen.states.get((base, slug, metres))
        if received is None:
            missing += 1
        else:
            latencies.append(received - sent)
    return sorted(latencies), missing


def _beyond_slot(seen: Received, base: str, result: dict[str, Any], rate_hz: float) -> list[float]:
    """For each published reading: its delay beyond the publish slot the rate limit allows.

    The bridge publishes a treadmill's state at most `rate_hz` times a second, so a reading
    may wait for the slot `1 / rate_hz` after the previous message. The slot is estimated from
    the previous message's receive time (its publish time is not visible here), so the figure
    leaves out that message's own delivery time, well under a millisecond on loopback.
    """
    interval = 1.0 / rate_hz
    added = []
    for slug, metres, sent in result["stamps"]:
        received = seen.states.get((base, slug, metres))
        if received is None:
            continue  # replaced by a later reading before its slot: latest wins
        times = seen.by_topic[(base, slug)]
        earlier = bisect.bisect_left(times, received) - 1
        slot = sent if earlier < 0 else max(sent, times[earlier] + interval)
        added.append(received - slot)
    return added


async def _one_count(
    count: int,
    *,
    seconds: float,
    host: str,
    port: int,
    seen: Received,
    tag: str,
    prompts: int,
    in_process: bool,
) -> dict[str, Any]:
    figures: dict[str, Any] = {"treadmills": count}
    for mode, prefix in SEQUENCE:
        base = f"{prefix or mode}{tag}n{count}".replace("_", "")
        cycles = prompts if mode == "daemon" else 0
        result = await _run_worker(
            mode, count, seconds=seconds, host=host, port=port, base=base, prompts=cycles,
            in_process=in_process,
        )  # fmt: skip
        per = result["cpu_s"] / max(1, result["notifications"]) * _US
        figures[f"{prefix}cpu_us_per_notification"] = round(per, 1)
        if result.get("world_cpu_s") is not None:
            world = result["world_cpu_s"] / max(1, result["notifications"]) * _US
            figures[f"{prefix}world_cpu_us_per_notification"] = round(world, 1)
        if mode != "sink":
            latencies, missing = _latencies(seen, base, result)
            if not latencies:
                raise RuntimeError(f"{mode}: no state message matched a notification")
            figures.update(_distribution(prefix, latencies))
            figures[f"{prefix}notifications"] = result["notifications"]
            figures[f"{prefix}unmatched"] = missing
        if mode == "default":
            added = _beyond_slot(seen, base, result, DEFAULT_RATE_HZ)
            figures.update(_distribution("default_beyond_slot_", added))
        if cycles:
            figures["prompt_ms_samples"] = _prompt_ms(seen, result)
    # The world alone, measured before and after the others: their mean is what is taken
    # off; the two figures show how much the machine's load moved in between.
    sink = statistics.mean(
        (
            figures["sink_before_cpu_us_per_notification"],
            figures["sink_after_cpu_us_per_notification"],
        )
    )
    figures["sink_cpu_us_per_notification"] = round(sink, 1)
    for prefix in ("", "default_", "relay_"):
        net = figures[f"{prefix}cpu_us_per_notification"] - sink
        figures[f"{prefix}net_cpu_us_per_notification"] = round(net, 1)
    relay = figures["relay_cpu_us_per_notification"]
    relay_net = figures["relay_net_cpu_us_per_notification"]
    figures["cpu_ratio"] = round(figures["cpu_us_per_notification"] / relay, 2)
    figures["default_cpu_ratio"] = round(figures["default_cpu_us_per_notification"] / relay, 2)
    net_ratio = figures["net_cpu_us_per_notification"] / relay_net if relay_net > 0 else None
    figures["net_cpu_ratio"] = None if net_ratio is None else round(net_ratio, 2)
    default_net = figures["default_net_cpu_us_per_notification"]
    figures["default_net_cpu_ratio"] = None if relay_net <= 0 else round(default_net / relay_net, 2)
    figures["p99_ratio"] = round(figures["p99_ms"] / figures["relay_p99_ms"], 2)
    return figures


def _prompt_ms(seen: Received, result: dict[str, Any]) -> list[float | None]:
    """Stop to hydration prompt at the subscriber, per cycle (None: never arrived)."""
    received = {
        prompt.get("run_id"): at for prompt, at in seen.prompts if prompt.get("kind") == "hydration"
    }
    out: list[float | None] = []
    for run_id, stopped in result["prompt_stops"]:
        at = received.get(run_id)
        out.append(None if at is None else round((at - float(stopped)) * _MS, 2))
    return out


def _median_runs(repeats: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One run per treadmill count: the median of each figure over the repeats.

    Counts (samples, notifications, unmatched) are summed instead; each ratio also keeps its
    lowest and highest repeat as `<key>_range`, so a reader sees how far a run can move it.
    """
    runs = []
    for per_count in zip(*repeats, strict=True):
        merged: dict[str, Any] = {}
        for key in per_count[0]:
            if key == "prompt_ms_samples":
                continue
            values = [run[key] for run in per_count if run.get(key) is not None]
            if key.endswith(("samples", "notifications", "unmatched")):
                merged[key] = sum(values)  # the counts behind the medians, all repeats
            else:
                merged[key] = round(statistics.median(values), 2) if values else None
            if key.endswith("_ratio"):
                merged[f"{key}_range"] = [min(values), max(values)] if values else None
        merged["treadmills"] = per_count[0]["treadmills"]
        runs.append(merged)
    return runs


def _prompt_figures(repeats: list[list[dict[str, Any]]]) -> dict[str, Any] | None:
    """The prompt path over every cycle of every repeat, as one distribution."""
    samples = [
        value for runs in repeats for run in runs for value in run.get("prompt_ms_samples", ())
    ]
    if not samples:
        return None
    arrived = [value / _MS for value in samples if value is not None]
    figures: dict[str, Any] = {"cycles": len(samples), "missing": len(samples) - len(arrived)}
    if arrived:
        figures.update(_distribution("", arrived))
    return figures


async def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    """Every treadmill count, every mode, `repeat` times; medians; then the footprint."""
    counts = [int(n) for n in args.treadmills.split(",")]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, broker(Path(tmp)) as running:
        seen = Received()
        ready = asyncio.Event()
        listener = asyncio.create_task(_subscribe(running.host, running.port, seen, ready))
        await ready.wait()
        repeats = [
            [
                await _one_count(
                    n,
                    seconds=args.seconds,
                    host=running.host,
                    port=running.port,
                    seen=seen,
                    tag=f"r{repeat}",
                    prompts=args.prompts if n == min(counts) else 0,
                    in_process=args.in_process,
                )
                for n in counts
            ]
            for repeat in range(args.repeat)
        ]
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await listener
        output: dict[str, Any] = {
            "settings": _settings(args, counts),
            "runs": _median_runs(repeats),
            "prompt": _prompt_figures(repeats),
        }
        if not args.no_footprint:
            footprint = await asyncio.to_thread(
                measure_footprint, running.host, running.port, Path(tmp), args.repeat
            )
            output.update(footprint)
        else:
            output.update({"rss_mb": None, "ready_s": None})
    if args.prompts:
        output["prompt_nodelay"] = await _prompts_without_nagle(args, min(counts))
    output["settings"]["load_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return output


async def _prompts_without_nagle(args: argparse.Namespace, count: int) -> dict[str, Any] | None:
    """The prompt path again, on a broker with `set_tcp_nodelay true` (see bench/README.md).

    mosquitto leaves Nagle's algorithm on by default: a prompt the broker forwards within
    about 40 ms of another message to the same subscriber waits for that subscriber's delayed
    ACK. The daemon cannot change its broker's sockets, so both figures are reported.
    """
    repeats: list[list[dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp, broker(Path(tmp), nodelay=True) as running:
        seen = Received()
        ready = asyncio.Event()
        listener = asyncio.create_task(_subscribe(running.host, running.port, seen, ready))
        await ready.wait()
        for repeat in range(args.repeat):
            base = f"nodelayr{repeat}n{count}"
            result = await _run_worker(
                "daemon", count, seconds=1.0, host=running.host, port=running.port,
                base=base, prompts=args.prompts, in_process=args.in_process,
            )  # fmt: skip
            repeats.append([{"prompt_ms_samples": _prompt_ms(seen, result)}])
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await listener
    return _prompt_figures(repeats)


def _settings(args: argparse.Namespace, counts: list[int]) -> dict[str, Any]:
    """What stands behind every figure of this run."""
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpus": os.cpu_count(),
        "treadmills": counts,
        "notify_hz": NOTIFY_HZ,
        "speed_kmh": SPEED_KMH,
        "strap_hz": 1.0,
        "window_s": args.seconds,
        "repeat": args.repeat,
        "max_state_rate_hz": RATE_HZ,
        "run_start_s": RUN_START_S,
        "prompt_cycles": args.prompts,
        "prompt_treadmills": min(counts),
        "world": "in the worker's process" if args.in_process else "its own process (radio)",
    }


def _table(output: dict[str, Any]) -> str:
    settings = output["settings"]
    lines = [
        f"{settings['python']}, {settings['cpus']} CPUs, load {settings['load_1min']};"
        f" {settings['notify_hz']} Hz Treadmill Data per treadmill, a 1 Hz strap each;"
        f" window {settings['window_s']} s x {settings['repeat']}",
        "",
        f"at the maximum state rate ({MAX_RATE_HZ:g} Hz): every reading is published",
        "treadmills | daemon p50  p99  max  (n) | relay p50  p99  max  (n) | p99 ratio",
    ]
    lines.extend(
        f"{r['treadmills']:>10} | {r['p50_ms']:>10} {r['p99_ms']:>5} {r['max_ms']:>5}"
        f" ({r['samples']}) | {r['relay_p50_ms']:>9} {r['relay_p99_ms']:>5}"
        f" {r['relay_max_ms']:>5} ({r['relay_samples']}) | {r['p99_ratio']:>8}x"
        for r in output["runs"]
    )
    lines += [
        "",
        f"at the default state rate ({DEFAULT_RATE_HZ:g} Hz): readings wait for their slot",
        "treadmills | latency p50  p99 (n, replaced) | beyond the slot p50  p99  max (n)",
    ]
    lines.extend(
        f"{r['treadmills']:>10} | {r['default_p50_ms']:>11} {r['default_p99_ms']:>5}"
        f" ({r['default_samples']}, {r['default_unmatched']})"
        f" | {r['default_beyond_slot_p50_ms']:>19} {r['default_beyond_slot_p99_ms']:>5}"
        f" {r['default_beyond_slot_max_ms']:>5} ({r['default_beyond_slot_samples']})"
        for r in output["runs"]
    )
    lines += [
        "",
        f"CPU us per notification of the worker process ({_world_note(settings)}), and net"
        " (the sink run subtracted)",
        "treadmills | daemon relay default sink (before/after) | gross ratio"
        " | net daemon relay default | net ratio (default)",
    ]
    lines.extend(
        f"{r['treadmills']:>10} | {r['cpu_us_per_notification']:>6}"
        f" {r['relay_cpu_us_per_notification']:>5} {r['default_cpu_us_per_notification']:>7}"
        f" {r['sink_cpu_us_per_notification']:>4} ({r['sink_before_cpu_us_per_notification']}"
        f"/{r['sink_after_cpu_us_per_notification']}) | {r['cpu_ratio']:>10}x"
        f" | {r['net_cpu_us_per_notification']:>10} {r['relay_net_cpu_us_per_notification']:>5}"
        f" {r['default_net_cpu_us_per_notification']:>7}"
        f" | {r['net_cpu_ratio']}x ({r['default_net_cpu_ratio']}x)"
        for r in output["runs"]
    )
    for key, broker_kind in (("prompt", "default broker"), ("prompt_nodelay", "Nagle off")):
        prompt = output.get(key)
        if prompt is not None and "p99_ms" in prompt:
            lines.append(
                f"\nprompt path (Stop to hydration prompt, {broker_kind}): p50 {prompt['p50_ms']}"
                f" ms, p99 {prompt['p99_ms']} ms, max {prompt['max_ms']} ms over"
                f" {prompt['samples']} runs ({prompt['missing']} missing; target p99 < 50 ms)"
            )
    lines.append(
        f"start to READY: {output['ready_s']} s virtual, {output.get('ready_s_bleak')} s bleak"
        " (target < 1.5 s)"
    )
    lines.append(
        f"RSS: {output['rss_mb']} MB virtual and connected, {output.get('rss_mb_bleak')} MB"
        " bleak, nothing connected (target < 60 MB)"
    )
    lines.append(
        "targets: daemon p99 <= 1.5x the relay's at the maximum rate; net CPU <= 1.2x the relay"
    )
    return "\n".join(lines)


def _world_note(settings: dict[str, Any]) -> str:
    if settings.get("world", "").startswith("in the worker"):
        return "the virtual world included"
    return "the virtual world runs in a process of its own"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with `--worker`, one measured run of it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--treadmills", default="1,5,20", help="comma-separated counts")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per count; medians")
    parser.add_argument(
        "--prompts", type=int, default=PROMPT_CYCLES, help="runs ended for the prompt path"
    )
    parser.add_argument("--no-footprint", action="store_true", help="skip READY and RSS")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the virtual world in each worker's own process (how the bench ran before)",
    )
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=1883, help=argparse.SUPPRESS)
    parser.add_argument("--base", default="bench", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args)
    output = asyncio.run(orchestrate(args))
    print(json.dumps(output) if args.json else _table(output))
    return 0


if __name__ == "__main__":
    sys.exit(main())

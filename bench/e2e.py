"""I/O. End to end: virtual treadmills -> daemon -> mosquitto -> subscriber, against a bare relay.

    .venv/bin/python -m bench.e2e [--json] [--treadmills 1,5,20] [--seconds S] [--repeat R]

For each treadmill count N, three worker processes run one after the other on the same
virtual world (N treadmills notifying Treadmill Data at 4 Hz at a steady 18 km/h, each with a
strap following it at 1 Hz) and the same broker:

* `daemon`: the real `Daemon`, state rate limit at its maximum (50 Hz) so every reading is
  published;
* `relay`: the baseline: a bleak client per device whose notification callback publishes the
  raw bytes with aiomqtt (QoS 0, retained, like the daemon's state), nothing else;
* `sink`: bleak clients whose callbacks do nothing: the cost of the virtual world itself.

Latency: the virtual world and the code under test share a worker process (the virtual
backend is in-process), and the subscriber is this orchestrating process. Both stamp with
`time.monotonic()`, which on Linux is the system-wide CLOCK_MONOTONIC, so the stamps compare
across processes. The worker stamps each Treadmill Data notification just before the virtual
treadmill builds and notifies it; at 18 km/h and 4 Hz the total distance grows by 1.25 m a
notification, so (treadmill, whole metres) names one notification, and the subscriber finds it
in the state JSON (daemon) or by decoding the relayed bytes (relay; the decoding is here, not
in the relay). Latency is receive time minus send time, over the notifications sent in the
measuring window. Publishing on change never drops one here, as the distance always changes.

CPU: `time.process_time()` of the worker over the window, divided by the Treadmill Data
notifications sent in it. It includes the virtual world (both ends of the emulated radio), so
the `sink` run is reported too and `*_net_*` figures subtract it.

Prompt path (daemon run with one treadmill): once the run has started, the worker presses Stop
on the virtual console and stamps it; the figure is the time until the hydration prompt for
that run reaches the subscriber.

Footprint figures come from `bench.footprint` (READY and RSS of `treadwell run`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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
from treadwell.drivers.codec.treadmill_data import parse_treadmill_data
from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig, VirtualTreadmill
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bleak import BleakClient

    from treadwell.daemon.app import Daemon
    from treadwell.rules.engine import EngineState

    NotifyCallback: TypeAlias = Callable[[Any, bytearray], Awaitable[None] | None]

NOTIFY_HZ = 4.0
SPEED_KMH = 18.0  # 1.25 m per notification at 4 Hz: whole metres name a notification
WARMUP_S = 2.0
CONNECT_TIMEOUT_S = 120.0
PROMPT_TIMEOUT_S = 10.0
LATE_S = 1.0
MODES = ("daemon", "relay", "sink")
_US = 1e6
_MS = 1e3


class StampedTreadmill(VirtualTreadmill):
    """A virtual treadmill that notes when it sends each Treadmill Data notification."""

    stamps: list[tuple[int, float]]

    async def tick(self, dt_s: float) -> None:
        """Stamp, then move the belt and notify as usual."""
        sent = time.monotonic()
        await super().tick(dt_s)
        if self.running:
            self.stamps.append((int(self.total_distance_m), sent))


class BenchWorld(VirtualWorld):
    """The virtual world with stamped treadmills."""

    async def add_stamped_treadmill(self, config: TreadmillConfig) -> StampedTreadmill:
        """Add, power on and start a stamped treadmill."""
        treadmill = StampedTreadmill(
            config,
            link=self._open_link(),
            address=self._address(config.address),
            speedup=self.speedup,
        )
        treadmill.stamps = []
        return await self._started(treadmill)


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
    prompt: bool
    treadmills: dict[str, StampedTreadmill] = field(default_factory=dict)

    async def run(self) -> dict[str, Any]:
        """Build the world, connect, measure a window, report as one JSON-able dict."""
        async with BenchWorld() as world:
            straps = {}
            for index in range(self.count):
                slug = f"t{index}"
                treadmill = await world.add_stamped_treadmill(
                    TreadmillConfig(
                        name=f"Bench Treadmill {index}",
                        notify_interval_s=1 / NOTIFY_HZ,
                        profile=RunProfile.steady(600.0, SPEED_KMH),
                        advertising_interval_ms=20,
                    )
                )
                self.treadmills[slug] = treadmill
                straps[slug] = await world.add_strap(
                    StrapConfig(
                        name=f"Bench Strap {index}", follow=treadmill, advertising_interval_ms=20
                    )
                )
            if self.mode == "daemon":
                return await self._daemon(world)
            addresses = {
                slug: (t.address, straps[slug].address) for slug, t in self.treadmills.items()
            }
            return await self._clients(world, addresses)

    async def _window(self) -> dict[str, Any]:
        await asyncio.sleep(WARMUP_S)
        start_cpu, start = time.process_time(), time.monotonic()
        await asyncio.sleep(self.seconds)
        cpu, end = time.process_time() - start_cpu, time.monotonic()
        stamps = [
            (slug, metres, sent)
            for slug, treadmill in self.treadmills.items()
            for metres, sent in treadmill.stamps
            if start <= sent < end
        ]
        return {"cpu_s": cpu, "notifications": len(stamps), "stamps": stamps}

    async def _daemon(self, world: VirtualWorld) -> dict[str, Any]:
        from treadwell.daemon.app import Daemon
        from treadwell.daemon.config import Settings

        with tempfile.TemporaryDirectory() as state_dir:
            settings = Settings(
                mqtt={
                    "host": self.host,
                    "port": self.port,
                    "base_topic": self.base,
                    "client_id": self.base,
                    "max_state_rate_hz": 50.0,
                },
                ble={"backend": "virtual"},
                treadmills=[
                    {"name": slug, "match_name": t.name} for slug, t in self.treadmills.items()
                ],
                straps=[
                    {"name": f"s{slug}", "match_name": f"Bench Strap {slug[1:]}"}
                    for slug in self.treadmills
                ],
                state_dir=Path(state_dir),
            )
            daemon = Daemon(settings, backend=world.backend)
            stop = asyncio.Event()
            task = asyncio.create_task(daemon.run(stop))
            try:
                # Measure the steady state: every treadmill connected and its run started.
                await _until(
                    lambda: all(
                        c.connected and daemon.house.slot(slug).engine.running
                        for slug, c in daemon.channels.items()
                    )
                )
                result = await self._window()
                if self.prompt:
                    result.update(await self._press_stop(daemon))
            finally:
                stop.set()
                await task
        return result

    async def _press_stop(self, daemon: Daemon) -> dict[str, Any]:
        def engine() -> EngineState:
            return daemon.house.slot("t0").engine

        await _until(lambda: engine().running and engine().run_id is not None)
        run_id = engine().run_id
        stopped = time.monotonic()
        self.treadmills["t0"].press_stop()
        await _until(lambda: not engine().running)
        await asyncio.sleep(LATE_S)
        return {"prompt_run_id": run_id, "stopped_at": stopped}

    async def _clients(
        self, world: VirtualWorld, addresses: dict[str, tuple[str, str]]
    ) -> dict[str, Any]:
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
            for slug, (treadmill, strap) in addresses.items():
                for address, uuid, topic in (
                    (treadmill, TREADMILL_DATA_UUID, f"{self.base}/{slug}/state"),
                    (strap, HEART_RATE_MEASUREMENT_UUID, f"{self.base}/{slug}/hr"),
                ):
                    client = BleakClient(address, backend=backend, timeout=CONNECT_TIMEOUT_S)
                    await stack.enter_async_context(client)
                    clients.append((client, uuid, topic))
            for client, uuid, topic in clients:
                await client.start_notify(uuid, self._callback(mqtt, topic))
            return await self._window()

    def _callback(self, mqtt: aiomqtt.Client, topic: str) -> NotifyCallback:
        if self.mode == "sink":

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
        args.worker, args.count, args.host, args.port, args.base, args.seconds, args.prompt
    )
    print(json.dumps(asyncio.run(worker.run())), flush=True)
    return 0


# -- orchestrator ------------------------------------------------------------------------


@dataclass
class Received:
    """Every state and prompt message the subscriber saw, with its receive time."""

    states: dict[tuple[str, str, int], float] = field(default_factory=dict)
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
            metres = _metres(base, payload)
            if metres is not None:
                seen.states.setdefault((base, slug, metres), now)


def _metres(base: str, payload: bytes) -> int | None:
    if base.startswith("relay") or base.startswith("sink"):
        return parse_treadmill_data(payload).total_distance_m
    distance = json.loads(payload).get("total_distance_m")
    return None if distance is None else int(distance)


async def _run_worker(
    mode: str, count: int, *, seconds: float, host: str, port: int, base: str, prompt: bool
) -> dict[str, Any]:
    command = [
        *(sys.executable, "-m", "bench.e2e", "--worker", mode, "--count", str(count)),
        *("--host", host, "--port", str(port), "--base", base, "--seconds", str(seconds)),
        *(["--prompt"] if prompt else []),
    ]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{mode} worker failed ({process.returncode}):\n{err.decode()}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    await asyncio.sleep(LATE_S)
    return result


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


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


async def _one_count(
    count: int, *, seconds: float, host: str, port: int, seen: Received, tag: str
) -> dict[str, Any]:
    figures: dict[str, Any] = {"treadmills": count}
    for mode in MODES:
        base = f"{mode}{tag}n{count}"
        prompt = mode == "daemon" and count == 1
        result = await _run_worker(
            mode, count, seconds=seconds, host=host, port=port, base=base, prompt=prompt
        )
        per = result["cpu_s"] / max(1, result["notifications"]) * _US
        prefix = "" if mode == "daemon" else f"{mode}_"
        figures[f"{prefix}cpu_us_per_notification"] = round(per, 1)
        if mode != "sink":
            latencies, missing = _latencies(seen, base, result)
            if not latencies:
                raise RuntimeError(f"{mode}: no state message matched a notification")
            figures[f"{prefix}p50_ms"] = round(_percentile(latencies, 0.5) * _MS, 2)
            figures[f"{prefix}p99_ms"] = round(_percentile(latencies, 0.99) * _MS, 2)
            figures[f"{prefix}max_ms"] = round(latencies[-1] * _MS, 2)
            figures[f"{prefix}notifications"] = result["notifications"]
            figures[f"{prefix}unmatched"] = missing
        if prompt:
            figures["prompt_ms"] = _prompt_ms(seen, result)
    sink = figures["sink_cpu_us_per_notification"]
    daemon_net = figures["cpu_us_per_notification"] - sink
    relay_net = figures["relay_cpu_us_per_notification"] - sink
    figures["cpu_ratio"] = round(
        figures["cpu_us_per_notification"] / figures["relay_cpu_us_per_notification"], 2
    )
    figures["net_cpu_us_per_notification"] = round(daemon_net, 1)
    figures["relay_net_cpu_us_per_notification"] = round(relay_net, 1)
    return figures


def _prompt_ms(seen: Received, result: dict[str, Any]) -> float | None:
    for prompt, received in seen.prompts:
        if prompt.get("run_id") == result["prompt_run_id"] and prompt.get("kind") == "hydration":
            return round((received - float(result["stopped_at"])) * _MS, 2)
    return None


def _median_runs(repeats: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    runs = []
    for per_count in zip(*repeats, strict=True):
        merged: dict[str, Any] = {}
        for key in per_count[0]:
            values = [run[key] for run in per_count if run.get(key) is not None]
            merged[key] = round(statistics.median(values), 2) if values else None
        merged["treadmills"] = per_count[0]["treadmills"]
        runs.append(merged)
    return runs


async def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    """Every treadmill count, every mode, `repeat` times; medians; then the footprint."""
    counts = [int(n) for n in args.treadmills.split(",")]
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
                )
                for n in counts
            ]
            for repeat in range(args.repeat)
        ]
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await listener
        runs = _median_runs(repeats)
        prompts = [run.get("prompt_ms") for run in runs if run.get("prompt_ms") is not None]
        output: dict[str, Any] = {"runs": runs, "prompt_ms": prompts[0] if prompts else None}
        if not args.no_footprint:
            footprint = await asyncio.to_thread(
                measure_footprint, running.host, running.port, Path(tmp), args.repeat
            )
            output.update(footprint)
        else:
            output.update({"rss_mb": None, "ready_s": None})
    return output


def _table(output: dict[str, Any]) -> str:
    lines = [
        "treadmills  p50 ms  p99 ms  max ms | relay p99  | CPU us/notif daemon relay sink"
        "  ratio | net daemon relay",
    ]
    lines.extend(
        f"{run['treadmills']:>10}  {run['p50_ms']:>6}  {run['p99_ms']:>6}  {run['max_ms']:>6}"
        f" | {run['relay_p99_ms']:>9} | {run['cpu_us_per_notification']:>19}"
        f" {run['relay_cpu_us_per_notification']:>5} {run['sink_cpu_us_per_notification']:>5}"
        f"  {run['cpu_ratio']:>5} | {run['net_cpu_us_per_notification']:>10}"
        f" {run['relay_net_cpu_us_per_notification']:>5}"
        for run in output["runs"]
    )
    lines.append(f"prompt path: {output['prompt_ms']} ms (target < 50 ms)")
    lines.append(
        f"start to READY: {output['ready_s']} s virtual, {output.get('ready_s_bleak')} s bleak"
        " (target < 1.5 s)"
    )
    lines.append(
        f"RSS: {output['rss_mb']} MB virtual and connected, {output.get('rss_mb_bleak')} MB"
        " bleak (target < 80 MB)"
    )
    lines.append("targets: p99 < 5 ms at 20 treadmills; CPU ratio daemon/relay <= 1.5")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with `--worker`, one measured run of it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--treadmills", default="1,5,20", help="comma-separated counts")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per count; medians")
    parser.add_argument("--no-footprint", action="store_true", help="skip READY and RSS")
    parser.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=1883, help=argparse.SUPPRESS)
    parser.add_argument("--base", default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--prompt", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args)
    output = asyncio.run(orchestrate(args))
    print(json.dumps(output) if args.json else _table(output))
    return 0


if __name__ == "__main__":
    sys.exit(main())

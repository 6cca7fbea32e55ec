"""I/O. Soak: many sped-up runs back to back, the broker bouncing, nothing lost or leaked.

    .venv/bin/python bench/soak.py [--runs 200] [--bounce-every 4] [--speedup 120] [--json]

The real `Daemon` runs in this process on a virtual world (one treadmill, one strap) against
a real mosquitto started here. Each run is the runner pressing Start, running a couple of
(sped-up) minutes and pressing Stop; every `--bounce-every` runs the broker is stopped and
started again, alternately mid-run and in the burst of prompts after a run. A dashboard with
a persistent MQTT session records every prompt.

At the end it prints the resident set size (RSS) after the first run and after the last, the
open file descriptors at the same two points, and the prompts the daemon raised against those
the dashboard received (missing, duplicated, out of order), the runs recorded and the errors
the daemon logged. The exit status is 0 when nothing was lost or repeated, every run was
recorded once, no error was logged, RSS grew by less than 5 MB and the descriptors stayed flat.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiomqtt

from treadwell.daemon.app import Daemon
from treadwell.daemon.clock import Clock
from treadwell.daemon.config import Settings
from treadwell.daemon.store import Store
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig, VirtualTreadmill
from treadwell.drivers.virtual.world import VirtualWorld

RSS_BUDGET_MB = 5.0
FD_SLACK = 2  # a socket being replaced at the moment of counting
RUN_S = 150.0  # treadmill seconds of running per run
REST_S = 90.0  # treadmill seconds between runs (the follow-ups fall due in here)
BROKER_DOWN_S = 1.0
DRAIN_TIMEOUT_S = 60.0
TREADMILL_NAME = "Soak Treadmill"
STRAP_NAME = "Soak Strap"


@dataclass
class Result:
    """What one soak measured."""

    runs: int
    bounces: int
    wall_s: float = 0.0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    fds_start: int = 0
    fds_end: int = 0
    prompts_expected: int = 0
    prompts_delivered: int = 0
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    in_order: bool = True
    runs_recorded: int = 0
    errors_logged: list[str] = field(default_factory=list)

    @property
    def rss_growth_mb(self) -> float:
        """RSS at the end minus RSS after the first run."""
        return self.rss_end_mb - self.rss_start_mb

    @property
    def ok(self) -> bool:
        """Whether every target was met."""
        return (
            not self.missing
            and not self.duplicated
            and self.in_order
            and self.runs_recorded == self.runs
            and not self.errors_logged
            and self.rss_growth_mb < RSS_BUDGET_MB
            and self.fds_end <= self.fds_start + FD_SLACK
        )


def rss_mb() -> float:
    """This process's resident set size in MB (after a full garbage collection)."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


class Broker:
    """A mosquitto on a free loopback port with a persistent store, to stop and start."""

    def __init__(self, workdir: Path) -> None:
        """Pick a port and write the configuration."""
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        conf = workdir / "mosquitto.conf"
        # As root mosquitto drops to its own user, which could not write the store here.
        user = "user root\n" if os.geteuid() == 0 else ""
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {workdir}/\nmax_queued_messages 100000\n{user}"
        )
        self._argv = [binary, "-c", str(conf)]
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        self._proc = subprocess.Popen(
            self._argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.02)
        raise RuntimeError("mosquitto did not start")

    async def bounce(self) -> None:
        """Stop, stay down a moment, start again (off the event loop: the daemon runs on)."""
        await asyncio.to_thread(self.stop)
        await asyncio.sleep(BROKER_DOWN_S)
        await asyncio.to_thread(self.start)

    def stop(self) -> None:
        """Stop with SIGTERM (mosquitto saves its store)."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None


class Dashboard:
    """A persistent-session subscriber to `{base}/prompt` that reconnects after bounces."""

    def __init__(self, port: int) -> None:
        """Record nothing yet."""
        self.port = port
        self.ids: list[str] = []
        self.subscribed = asyncio.Event()
        self._identifier = f"soak-dash-{uuid.uuid4().hex[:8]}"

    async def run(self) -> None:
        """Record prompt ids until cancelled."""
        while True:
            client = aiomqtt.Client(
                "127.0.0.1", self.port, identifier=self._identifier, clean_session=False
            )
            try:
                async with client:
                    if not self.subscribed.is_set():
                        await client.subscribe("soak/prompt", qos=1)
                        self.subscribed.set()
                    async for message in client.messages:
                        self.ids.append(str(json.loads(bytes(message.payload))["id"]))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)


class RaisedPrompts(logging.Handler):
    """From the daemon's log: the prompts it handed to its outbox, and its errors."""

    def __init__(self) -> None:
        """Start empty."""
        super().__init__(logging.INFO)
        self.ids: list[str] = []
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep "prompt <id> (<kind>)..." records and every error."""
        if record.levelno >= logging.ERROR:
            self.errors.append(f"{record.name}: {record.getMessage()}")
        elif (
            record.name in {"treadwell.daemon.app", "treadwell.daemon.effects"}
            and isinstance(record.msg, str)
            and record.msg.startswith("prompt %s (%s)")
            and isinstance(record.args, tuple)
        ):
            self.ids.append(str(record.args[0]))


def settings_for(port: int, state_dir: Path, speedup: float) -> Settings:
    """An achy runner, automation allowed, follow-up prompts within the rest between runs."""
    return Settings(
        mqtt={"host": "127.0.0.1", "port": port, "base_topic": "soak", "client_id": "soak"},
        ble={"backend": "virtual", "speedup": speedup},
        treadmills=[
            {"name": "treadmill", "match_name": TREADMILL_NAME, "automation_allowed": True}
        ],
        straps=[{"name": "strap", "match_name": STRAP_NAME}],
        rules={
            "incline_underway_s": 30.0,
            "stop_timeout_s": 60.0,
            "hydration_reminder_after_s": 30.0,
            "checkin_after_s": 60.0,
        },
        flags={"back_pain": "ache"},
        state_dir=state_dir,
    )


async def one_run(treadmill: VirtualTreadmill, speedup: float, broker: Broker, bounce: str) -> None:
    """Start, run, stop, rest; bounce the broker mid-run or after the run if asked."""
    treadmill.set_belt(9.0)
    await asyncio.sleep(RUN_S / speedup / 2)
    if bounce == "mid-run":
        await broker.bounce()
    await asyncio.sleep(RUN_S / speedup / 2)
    treadmill.set_belt(0.0)
    if bounce == "burst":
        await broker.bounce()
    await asyncio.sleep(REST_S / speedup)


async def drain(dashboard: Dashboard, raised: RaisedPrompts) -> None:
    """Wait until the dashboard saw every prompt raised (or give up after a while)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while set(raised.ids) - set(dashboard.ids) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # a late duplicate would arrive now


async def soak(runs: int, bounce_every: int, speedup: float, *, progress: bool) -> Result:
    """Run the soak in a temporary directory and return what it measured."""
    result = Result(runs=runs, bounces=0)
    raised = RaisedPrompts()
    logging.getLogger("treadwell").addHandler(raised)
    with tempfile.TemporaryDirectory(prefix="treadwell-soak-") as tmp:
        broker = Broker(Path(tmp))
        broker.start()
        state_dir = Path(tmp) / "state"
        try:
            plan = Plan(runs, bounce_every, speedup, progress=progress)
            await plan.execute(broker, state_dir, raised, result)
        finally:
            broker.stop()
            logging.getLogger("treadwell").removeHandler(raised)
        with Store.in_dir(state_dir, read_only=True) as store:
            finished = [run for run in store.runs(runs + 10) if run.status == "finished"]
        result.runs_recorded = len(finished)
    return result


@dataclass(frozen=True)
class Plan:
    """How many runs, how often the broker bounces, how fast the treadmill's time runs."""

    runs: int
    bounce_every: int
    speedup: float
    progress: bool

    def bounce_for(self, number: int) -> str:
        """ "" (none), "mid-run" or "burst" (right after the run) for run `number`."""
        if number % self.bounce_every:
            return ""
        return "mid-run" if (number // self.bounce_every) % 2 else "burst"

    async def execute(
        self, broker: Broker, state_dir: Path, raised: RaisedPrompts, result: Result
    ) -> None:
        """Do the runs with the daemon on a fresh virtual world; fill in `result`."""
        dashboard = Dashboard(broker.port)
        watcher = asyncio.create_task(dashboard.run())
        started = time.monotonic()
        async with VirtualWorld(speedup=self.speedup) as world:
            treadmill = await world.add_treadmill(
                TreadmillConfig(name=TREADMILL_NAME, advertising_interval_ms=20)
            )
            await world.add_strap(
                StrapConfig(name=STRAP_NAME, follow=treadmill, advertising_interval_ms=20)
            )
            settings = settings_for(broker.port, state_dir, self.speedup)
            daemon = Daemon(settings, backend=world.backend, clock=Clock(self.speedup))
            stop = asyncio.Event()
            task = asyncio.create_task(daemon.run(stop))
            try:
                await asyncio.wait_for(dashboard.subscribed.wait(), 30)
                await asyncio.wait_for(_connected(daemon), 30)
                await self._runs(treadmill, broker, dashboard, raised, result)
            finally:
                stop.set()
                await asyncio.wait_for(task, 30)
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        result.wall_s = time.monotonic() - started
        result.errors_logged = list(raised.errors)
        _compare(raised.ids, dashboard.ids, result)

    async def _runs(
        self,
        treadmill: VirtualTreadmill,
        broker: Broker,
        dashboard: Dashboard,
        raised: RaisedPrompts,
        result: Result,
    ) -> None:
        for number in range(1, self.runs + 1):
            bounce = self.bounce_for(number)
            result.bounces += bool(bounce)
            await one_run(treadmill, self.speedup, broker, bounce)
            if number == 1:
                # The baseline: imports done, connections made, caches warm.
                await drain(dashboard, raised)
                result.rss_start_mb, result.fds_start = rss_mb(), open_fds()
            if self.progress and (number % 10 == 0 or number == self.runs):
                print(f"run {number}/{self.runs}: RSS {rss_mb():.1f} MB, {open_fds()} fds")
        await drain(dashboard, raised)
        result.rss_end_mb, result.fds_end = rss_mb(), open_fds()


async def _connected(daemon: Daemon) -> None:
    while not any(channel.connected for channel in daemon.channels.values()):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def _compare(expected: list[str], delivered: list[str], result: Result) -> None:
    result.prompts_expected, result.prompts_delivered = len(expected), len(delivered)
    result.missing = [item for item in expected if item not in set(delivered)]
    seen: set[str] = set()
    for item in delivered:
        if item in seen:
            result.duplicated.append(item)
        seen.add(item)
    result.in_order = [item for item in delivered if item in set(expected)] == expected


def report(result: Result) -> str:
    """The human-readable summary."""
    verdict = "OK" if result.ok else "FAILED"
    return "\n".join(
        [
            f"soak: {result.runs} runs, broker bounced {result.bounces} times "
            f"in {result.wall_s:.0f} s",
            f"RSS: {result.rss_start_mb:.1f} MB after run 1, {result.rss_end_mb:.1f} MB at the end "
            f"({result.rss_growth_mb:+.2f} MB, budget {RSS_BUDGET_MB:g} MB)",
            f"open file descriptors: {result.fds_start} after run 1, {result.fds_end} at the end",
            f"prompts: {result.prompts_expected} expected, {result.prompts_delivered} delivered, "
            f"{len(result.missing)} missing, {len(result.duplicated)} duplicated, "
            f"{'in order' if result.in_order else 'OUT OF ORDER'}",
            f"runs recorded: {result.runs_recorded} of {result.runs}",
            f"errors logged by the daemon: {len(result.errors_logged)}",
            *(f"  {line}" for line in result.errors_logged[:10]),
            verdict,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, soak, print; exit 1 if a target was missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=200, help="runs to do (default 200)")
    parser.add_argument(
        "--bounce-every", type=int, default=4, help="bounce the broker every N runs"
    )
    parser.add_argument("--speedup", type=float, default=120.0, help="treadmill time speed-up")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.bounce_every < 1 or args.speedup <= 0:
        parser.error("--runs and --bounce-every must be >= 1, --speedup > 0")
    # Warnings and errors on stderr; the daemon's INFO records only reach RaisedPrompts.
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger("treadwell").setLevel(logging.INFO)
    logging.getLogger("bumble").setLevel(logging.ERROR)
    result = asyncio.run(soak(args.runs, args.bounce_every, args.speedup, progress=not args.json))
    if args.json:
        print(
            json.dumps({**asdict(result), "rss_growth_mb": result.rss_growth_mb, "ok": result.ok})
        )
    else:
        print(report(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

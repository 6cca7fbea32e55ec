"""I/O. Where a worker's CPU goes, by the code's own parts, timed in place without a profiler.

    .venv/bin/python -m bench.segments [--mode daemon|default|relay|sink] [--treadmills 20]
                                       [--seconds S] [--json]

One `bench.e2e` worker (the virtual world in its radio process, its own mosquitto on a free
loopback port), with a few functions on the hot path wrapped so that each call adds the
calling thread's CPU time (`time.thread_time_ns`) to its segment, only over the measuring
window. Segments nest (the household's `evaluate` is inside `Daemon._decide`): each figure is
inclusive. Every figure is per Treadmill Data notification sent in the window, with the
worker's whole CPU time (`time.process_time`) beside it, and the spread of single calls.

Unlike `bench.profile` (cProfile charges every call, and inflates code of many small calls
about fifteen-fold) this costs two clock reads a wrapped call, so the shares are close to
true ones; and unlike `bench.rules` (warm caches, readings back to back) it shows what the
code costs where it runs, between notifications, beside the radio and the broker. On a
shared 2-vCPU VM that is three to four times the warm figure.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.e2e import MODES, Worker
from bench.footprint import broker

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from bench.world import WorldHandle

# (module, attribute path in it, label). A class's method is wrapped on the class, before the
# worker starts, so bound methods handed out later (a notification callback) are wrapped too.
# A module function is wrapped where its callers look it up at call time.
LINK_SEGMENTS = (
    ("bench.radio_link", "Radio.data_received", "radio frames in (notification callbacks)"),
)
DAEMON_SEGMENTS = (
    (
        "treadwell.drivers.treadmill",
        "TreadmillLink._on_treadmill_data",
        "decode, emit (a reading decided at once)",
    ),
    ("treadwell.daemon.app", "Daemon._decide", "decide an input (all of it)"),
    ("treadwell.daemon.inputs", "LinkInputs.reading_order", "reading to order"),
    ("treadwell.daemon.inputs", "LinkInputs.order_for", "other link input to order"),
    ("treadwell.rules.household", "evaluate", "household rules"),
    ("treadwell.daemon.app", "Daemon._publish_state", "state message (all of it)"),
    ("treadwell.daemon.channel", "TreadmillChannel.state_payload", "state JSON"),
    ("treadwell.daemon.mqtt", "write_now", "state written to the socket"),
    ("treadwell.daemon.inputs", "LinkInputs.record", "samples bookkeeping"),
)


@dataclass
class Segment:
    """One wrapped function's calls in the window."""

    label: str
    calls: list[int] = field(default_factory=list)  # thread CPU ns of each call


@dataclass
class Meter:
    """Wraps functions and counts their thread CPU while `on`."""

    on: bool = False
    segments: list[Segment] = field(default_factory=list)

    def wrap(self, module_name: str, path: str, label: str) -> None:
        """Wrap `module_name`'s `path` ("Class.method" or "function") as segment `label`."""
        module = importlib.import_module(module_name)
        *owners, name = path.split(".")
        owner: Any = module
        for part in owners:
            owner = getattr(owner, part)
        original: Callable[..., Any] = getattr(owner, name)
        segment = Segment(label)
        self.segments.append(segment)
        clock, calls = time.thread_time_ns, segment.calls

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - any wrapped function
            if not self.on:
                return original(*args, **kwargs)
            start = clock()
            try:
                return original(*args, **kwargs)
            finally:
                calls.append(clock() - start)

        setattr(owner, name, timed)


class SegmentedWorker(Worker):
    """A `bench.e2e` worker whose measuring window is metered by `meter`."""

    meter: Meter
    cpu_s: float = 0.0
    metered_notifications: int = 0

    async def _window(self, world: WorldHandle) -> dict[str, Any]:
        # Metered from the start of the e2e window's warm-up to its end: the notifications
        # counted are those sent over that whole time.
        self.meter.on = True
        start_cpu, start = time.process_time(), time.monotonic()
        try:
            result = await super()._window(world)
        finally:
            self.meter.on = False
            self.cpu_s = time.process_time() - start_cpu
        self.metered_notifications = len(await world.stamps(start, time.monotonic()))
        return result


def _spread(calls: list[int]) -> dict[str, float]:
    ordered = sorted(calls)

    def at(q: float) -> float:
        return round(ordered[int(q * (len(ordered) - 1))] / 1e3, 1)

    return {"p10_us": at(0.1), "p50_us": at(0.5), "p90_us": at(0.9), "max_us": at(1.0)}


def measure(mode: str, treadmills: int, seconds: float, host: str, port: int) -> dict[str, Any]:
    """Run one metered worker; its figures as one JSON-able dict."""
    meter = Meter()
    for spec in LINK_SEGMENTS + (DAEMON_SEGMENTS if mode in {"daemon", "default"} else ()):
        meter.wrap(*spec)
    worker = SegmentedWorker(mode, treadmills, host, port, f"segments-{mode}", seconds, 0)
    worker.meter = meter
    asyncio.run(worker.run())
    notifications = max(1, worker.metered_notifications)
    return {
        "mode": mode,
        "treadmills": treadmills,
        "seconds": seconds,
        "notifications": worker.metered_notifications,
        "cpu_us_per_notification": round(worker.cpu_s * 1e6 / notifications, 1),
        "segments": [
            {
                "label": s.label,
                "calls": len(s.calls),
                "us_per_notification": round(sum(s.calls) / 1e3 / notifications, 1),
                **(_spread(s.calls) if s.calls else {}),
            }
            for s in meter.segments
        ],
    }


def report(figures: dict[str, Any]) -> Iterator[str]:
    """The figures as lines of text."""
    yield (
        f"{figures['mode']}, {figures['treadmills']} treadmills, {figures['seconds']} s:"
        f" {figures['notifications']} notifications,"
        f" {figures['cpu_us_per_notification']} us CPU each (the whole worker)"
    )
    yield f"  {'segment (inclusive)':44} {'us/notif':>9} {'calls':>6}  call p10/p50/p90/max us"
    for s in figures["segments"]:
        spread = "/".join(str(s.get(k, "-")) for k in ("p10_us", "p50_us", "p90_us", "max_us"))
        yield f"  {s['label']:44} {s['us_per_notification']:>9} {s['calls']:>6}  {spread}"


def main(argv: list[str] | None = None) -> int:
    """Meter one worker and print where its CPU went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mode", choices=MODES, default="daemon")
    parser.add_argument("--treadmills", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, broker(Path(tmp)) as running:
        figures = measure(args.mode, args.treadmills, args.seconds, running.host, running.port)
    print(json.dumps(figures) if args.json else "\n".join(report(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""I/O. Where a worker's CPU goes: one `bench.e2e` run profiled with cProfile over its window.

    .venv/bin/python -m bench.profile [--mode daemon|default|relay|sink] [--treadmills 20]
                                      [--seconds S] [--top N] [--sort tottime|cumulative]

The worker is the same as `bench.e2e`'s (the virtual world in its radio process, its own
mosquitto on a free loopback port); the profiler runs only during the measuring window, after
every treadmill connected and its run started, and counts CPU time (`time.process_time`), so
waiting for the next notification does not show. `treadwell.drivers` is the links' share,
`treadwell.daemon` and `treadwell.rules` the daemon's. The table lists the functions with the
most time of their own and, last, the time per package (self time, summed by where each
function's file lives).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.e2e import MODES, Worker
from bench.footprint import broker

if TYPE_CHECKING:
    from bench.world import WorldHandle


class ProfiledWorker(Worker):
    """A `bench.e2e` worker whose measuring window runs under cProfile."""

    profile: cProfile.Profile

    async def _window(self, world: WorldHandle) -> dict[str, Any]:
        self.profile = cProfile.Profile(time.process_time)
        self.profile.enable()
        try:
            return await super()._window(world)
        finally:
            self.profile.disable()


def _package(filename: str) -> str:
    """A short owner for a function's file: the top package, or treadwell's first two levels."""
    parts = Path(filename).parts
    for anchor in ("daemon", "drivers", "rules", "bench"):
        if anchor in parts and "site-packages" not in parts:
            index = parts.index(anchor)
            return ".".join(("treadwell", *parts[index : index + 1]))
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    if filename.startswith("<") or filename == "~":
        return "builtins"
    return "stdlib"


def report(profile: cProfile.Profile, *, top: int, sort: str, seconds: float) -> str:
    """The top functions and the self time per package, as text."""
    stats = pstats.Stats(profile)
    rows: dict[str, float] = defaultdict(float)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        rows[_package(filename)] += tottime
    total = sum(rows.values())
    out = [f"profiled window: {seconds} s; CPU seen by the profiler: {total:.2f} s", ""]
    out.append("self time by package:")
    out.extend(
        f"  {name:<28}{spent:>8.3f} s {spent / total:>6.1%}"
        for name, spent in sorted(rows.items(), key=lambda item: -item[1])
    )
    out.append("")
    stream = _Lines()
    pstats.Stats(profile, stream=stream).sort_stats(sort).print_stats(top)  # type: ignore[arg-type]
    out.append(stream.text())
    return "\n".join(out)


class _Lines:
    """A write-only text stream for pstats."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def text(self) -> str:
        return "".join(self._parts)


async def _profile(args: argparse.Namespace, host: str, port: int) -> ProfiledWorker:
    worker = ProfiledWorker(args.mode, args.treadmills, host, port, "profile", args.seconds, 0)
    await worker.run()
    return worker


def main(argv: list[str] | None = None) -> int:
    """Profile one worker and print where its time went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mode", choices=MODES, default="daemon")
    parser.add_argument("--treadmills", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", choices=("tottime", "cumulative"), default="tottime")
    parser.add_argument("--save", type=Path, help="also write the raw profile here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, broker(Path(tmp)) as running:
        worker = asyncio.run(_profile(args, running.host, running.port))
    if args.save is not None:
        worker.profile.dump_stats(args.save)
    print(report(worker.profile, top=args.top, sort=args.sort, seconds=args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

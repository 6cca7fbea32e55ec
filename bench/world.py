"""I/O. The bench's virtual world: stamped treadmills, each followed by a strap.

`BenchWorld` is the virtual world with treadmills that note when they send each Treadmill
Data notification (the latency's start). A bench worker reaches it through a `WorldHandle`:
`LocalWorld` when it runs in the worker's own process (`bench.e2e --in-process`), or
`bench.radio.RadioProcess` when it runs in a process of its own, as a radio would.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig, VirtualTreadmill
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from treadwell.drivers.backend import BleBackend


NOTIFY_HZ = 4.0
SPEED_KMH = 18.0  # 1.25 m per notification at 4 Hz: whole metres name a notification


class StampedTreadmill(VirtualTreadmill):
    """A virtual treadmill that notes when it sends each Treadmill Data notification."""

    stamps: list[tuple[int, float]]

    async def tick(self, dt_s: float) -> None:
        """Stamp, then move the belt and notify as usual."""
        sent = time.monotonic()
        await super().tick(dt_s)
        if self.running:
            self.stamps.append((int(self.total_distance_m), sent))


@dataclass(frozen=True, slots=True)
class Pair:
    """One treadmill and the strap that follows it, as the code under test finds them."""

    name: str
    address: str
    strap_name: str
    strap_address: str


class BenchWorld(VirtualWorld):
    """The virtual world with stamped treadmills, each followed by a strap."""

    treadmills: dict[str, StampedTreadmill]

    async def populate(self, count: int) -> dict[str, Pair]:
        """Add `count` treadmills (slugs t0, t1, ...) at a steady 18 km/h, a strap for each."""
        self.treadmills = {}
        pairs = {}
        for index in range(count):
            treadmill = StampedTreadmill(
                TreadmillConfig(
                    name=f"Bench Treadmill {index}",
                    notify_interval_s=1 / NOTIFY_HZ,
                    profile=RunProfile.steady(600.0, SPEED_KMH),
                    advertising_interval_ms=20,
                ),
                link=self._open_link(),
                address=self._address(None),
                speedup=self.speedup,
            )
            treadmill.stamps = []
            await self._started(treadmill)
            strap = await self.add_strap(
                StrapConfig(
                    name=f"Bench Strap {index}", follow=treadmill, advertising_interval_ms=20
                )
            )
            slug = f"t{index}"
            self.treadmills[slug] = treadmill
            pairs[slug] = Pair(treadmill.name, treadmill.address, strap.name, strap.address)
        return pairs

    def stamps(self, start: float, end: float) -> list[tuple[str, int, float]]:
        """(treadmill, whole metres, sent) for every notification sent in [start, end)."""
        return [
            (slug, metres, sent)
            for slug, treadmill in self.treadmills.items()
            for metres, sent in treadmill.stamps
            if start <= sent < end
        ]


class WorldHandle(Protocol):
    """What a bench worker needs of the world, wherever it runs."""

    pairs: dict[str, Pair]

    @property
    def backend(self) -> BleBackend:
        """The bleak backend that reaches the world's devices."""
        ...

    async def stamps(self, start: float, end: float) -> list[tuple[str, int, float]]:
        """(treadmill, whole metres, sent) for every notification sent in [start, end)."""
        ...

    async def press_stop(self, slug: str) -> None:
        """The runner on `slug` presses Stop."""
        ...

    async def set_belt(self, slug: str, speed_kmh: float) -> None:
        """The runner on `slug` sets the belt going."""
        ...

    async def cpu_s(self) -> float | None:
        """The world's own process CPU time, or None when it shares the measured process."""
        ...


class LocalWorld:
    """The world in the measured process (`--in-process`: how the bench ran before)."""

    def __init__(self, world: BenchWorld, pairs: dict[str, Pair]) -> None:
        """Wrap a populated world."""
        self._world = world
        self.pairs = pairs

    @property
    def backend(self) -> BleBackend:
        """The world's in-process virtual backend."""
        return self._world.backend

    async def stamps(self, start: float, end: float) -> list[tuple[str, int, float]]:
        """The world's stamps in [start, end)."""
        return self._world.stamps(start, end)

    async def press_stop(self, slug: str) -> None:
        """Press Stop on the virtual console."""
        self._world.treadmills[slug].press_stop()

    async def set_belt(self, slug: str, speed_kmh: float) -> None:
        """Set the belt on the virtual console."""
        self._world.treadmills[slug].set_belt(speed_kmh)

    async def cpu_s(self) -> float | None:
        """None: the world's CPU is in the measured process's own."""
        return None


@contextlib.asynccontextmanager
async def local_world(count: int) -> AsyncIterator[LocalWorld]:
    """A populated world in this process."""
    async with BenchWorld() as world:
        yield LocalWorld(world, await world.populate(count))

"""I/O. The virtual Bluetooth world the daemon runs on when `ble.backend = "virtual"`.

One virtual treadmill per configured treadmill (playing the configured run profile), one
strap per configured strap (following its treadmill's effort) and one footpod per footpod.
Each virtual device gets the name the configuration looks for, so the daemon's links find
them exactly as they would find real hardware: by scanning.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from treadwell.drivers.virtual.footpod import FootpodConfig
from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from treadwell.daemon.config import Settings
    from treadwell.drivers.virtual.treadmill import VirtualTreadmill

STEADY_MINUTES = 30.0
STEADY_SPEED_KMH = 9.0


def _profile(settings: Settings) -> RunProfile:
    """The scripted run, belt speed only: the incline is the daemon's and the runner's."""
    if settings.ble.virtual_profile == "steady":
        return RunProfile.steady(STEADY_MINUTES, STEADY_SPEED_KMH)
    return RunProfile.of(
        [(segment.duration_s, segment.speed_kmh) for segment in RunProfile.demo().segments]
    )


def _virtual_name(kind: str, slug: str) -> str:
    return f"Treadwell Virtual {kind} {slug}"


def _named(settings: Settings) -> Settings:
    """The settings with a `match_name` for every device that has neither name nor address."""
    update = {}
    for field, kind in (("treadmills", "Treadmill"), ("straps", "Strap"), ("footpods", "Footpod")):
        devices = getattr(settings, field)
        update[field] = [
            d
            if d.match_name or d.address
            else d.model_copy(update={"match_name": _virtual_name(kind, d.slug)})
            for d in devices
        ]
    return settings.model_copy(update=update)


@contextlib.asynccontextmanager
async def virtual_world(settings: Settings) -> AsyncIterator[tuple[VirtualWorld, Settings]]:
    """Build the devices `settings` names; yield the world and the settings pointing at them."""
    settings = _named(settings)
    async with VirtualWorld(speedup=settings.ble.speedup) as world:
        treadmills: list[VirtualTreadmill] = [
            await world.add_treadmill(
                TreadmillConfig(
                    name=treadmill.match_name or _virtual_name("Treadmill", treadmill.slug),
                    address=treadmill.address,
                    profile=_profile(settings),
                )
            )
            for treadmill in settings.treadmills
        ]
        for index, strap in enumerate(settings.straps):
            follow = treadmills[min(index, len(treadmills) - 1)] if treadmills else None
            await world.add_strap(
                StrapConfig(
                    name=strap.match_name or _virtual_name("Strap", strap.slug),
                    address=strap.address,
                    follow=follow,
                )
            )
        for index, footpod in enumerate(settings.footpods):
            follow = treadmills[min(index, len(treadmills) - 1)] if treadmills else None
            await world.add_footpod(
                FootpodConfig(
                    name=footpod.match_name or _virtual_name("Footpod", footpod.slug),
                    address=footpod.address,
                    follow=follow,
                )
            )
        yield world, settings

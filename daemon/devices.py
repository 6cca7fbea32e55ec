"""I/O. The configured devices as links, straps bound to runners, and their discovery messages.

A runner's `strap` names a `[[straps]]` entry (by name, address or advertised name) or, when
none matches, a strap of its own that gets a link here. Unbound straps are paired with the
treadmills by position, as before runners existed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from treadwell.daemon.channel import DEFAULT_STEP_PCT, MIN_AUTOMATION_INCLINE_PCT, TreadmillChannel
from treadwell.daemon.config import StrapSettings, slugify
from treadwell.daemon.diagnostics_discovery import build_diagnostics_component
from treadwell.daemon.discovery import build_device_discovery
from treadwell.daemon.runner_discovery import build_runner_discovery
from treadwell.drivers.discovery import DeviceKind, DeviceTarget
from treadwell.drivers.footpod import FootpodLink
from treadwell.drivers.heart_rate import HeartRateLink
from treadwell.drivers.treadmill import TreadmillLink

if TYPE_CHECKING:
    from collections.abc import Callable

    from treadwell.daemon.config import RunnerSettings, Settings
    from treadwell.drivers.backend import BleBackend
    from treadwell.drivers.events import LinkEvent
    from treadwell.drivers.link import BleLink

_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


@dataclass
class Wiring:
    """The links to run, the treadmill channels, and where each strap's heart rate goes."""

    links: list[BleLink] = field(default_factory=list)
    channels: dict[str, TreadmillChannel] = field(default_factory=dict)
    strap_runners: dict[str, str] = field(default_factory=dict)
    strap_pairs: dict[str, str] = field(default_factory=dict)


def _matches(strap: StrapSettings, wanted: str) -> bool:
    return wanted in {strap.name, strap.slug, strap.match_name} or (
        strap.address is not None and strap.address == wanted.upper()
    )


def runner_straps(settings: Settings) -> tuple[list[StrapSettings], dict[str, str]]:
    """Every strap to link (configured ones, then runners' own) and strap slug -> runner."""
    straps = list(settings.straps)
    bound: dict[str, str] = {}
    for runner in settings.runners:
        if runner.strap is None:
            continue
        found = next((s for s in straps if _matches(s, runner.strap)), None)
        if found is None:
            found = _own_strap(runner, runner.strap)
            straps.append(found)
        bound[found.slug] = runner.slug
    return straps, bound


def _own_strap(runner: RunnerSettings, wanted: str) -> StrapSettings:
    name = f"{runner.slug}_strap"
    if _ADDRESS.match(wanted):
        return StrapSettings(name=name, address=wanted)
    return StrapSettings(name=name, match_name=wanted)


def build_links(
    settings: Settings, backend: BleBackend, on_event: Callable[[LinkEvent], None]
) -> Wiring:
    """A link per configured device (and per runner's own strap)."""
    wiring = Wiring()
    for treadmill in settings.treadmills:
        target = DeviceTarget(DeviceKind.TREADMILL, treadmill.address, treadmill.match_name)
        link = TreadmillLink(target, label=treadmill.slug, backend=backend, on_event=on_event)
        wiring.channels[treadmill.slug] = TreadmillChannel(treadmill, link)
        wiring.links.append(link)
    slugs = list(wiring.channels)
    straps, wiring.strap_runners = runner_straps(settings)
    unbound = [s for s in straps if s.slug not in wiring.strap_runners]
    for index, strap in enumerate(unbound):
        # Strap i goes with treadmill i; extra straps go with the first treadmill.
        wiring.strap_pairs[strap.slug] = slugs[min(index, len(slugs) - 1)]
    for strap in straps:
        target = DeviceTarget(DeviceKind.HEART_RATE, strap.address, strap.match_name)
        wiring.links.append(
            HeartRateLink(target, label=strap.slug, backend=backend, on_event=on_event)
        )
    for footpod in settings.footpods:
        target = DeviceTarget(DeviceKind.FOOTPOD, footpod.address, footpod.match_name)
        wiring.links.append(
            FootpodLink(target, label=footpod.slug, backend=backend, on_event=on_event)
        )
    return wiring


def discovery_messages(
    settings: Settings, channels: dict[str, TreadmillChannel], runners: tuple[str, ...]
) -> list[tuple[str, bytes]]:
    """Every retained Home Assistant discovery message: one per treadmill, one per runner."""
    mqtt = settings.mqtt
    if not mqtt.discovery:
        return []
    version = _version()
    out = []
    names = {r.slug: r.name for r in settings.runners} or {slugify(n): n for n in runners}
    for channel in channels.values():
        info = channel.link.info
        rng = info.incline_range if info is not None else None
        ceiling = channel.settings.max_incline_pct
        topic, payload = build_device_discovery(
            base=mqtt.base_topic,
            discovery_prefix=mqtt.discovery_prefix,
            daemon_id=mqtt.client_id,
            device_slug=channel.slug,
            device_name=channel.settings.name,
            sw_version=version,
            incline_min=max(rng.min_pct, MIN_AUTOMATION_INCLINE_PCT) if rng else 0.0,
            incline_max=min(rng.max_pct, ceiling) if rng else ceiling,
            incline_step=rng.step_pct if rng and rng.step_pct > 0 else DEFAULT_STEP_PCT,
            runners=runners,
        )
        key, component = build_diagnostics_component(
            base=mqtt.base_topic, daemon_id=mqtt.client_id, device_slug=channel.slug
        )
        payload["components"][key] = component
        out.append((topic, json.dumps(payload, separators=(",", ":")).encode()))
    for slug in runners:
        topic, payload = build_runner_discovery(
            base=mqtt.base_topic,
            discovery_prefix=mqtt.discovery_prefix,
            daemon_id=mqtt.client_id,
            runner_slug=slug,
            runner_name=names.get(slug, slug),
            sw_version=version,
        )
        out.append((topic, json.dumps(payload, separators=(",", ":")).encode()))
    return out


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("treadwell")
    except PackageNotFoundError:
        return "0.0.0"

"""I/O. What the links say, as the household's orders: readings, statuses, straps coming and going.

The treadmill channels keep the latest values (for the state message) and the heart-rate
choice; everything the rules must know becomes an `Order`. A strap bound to a runner
(`[[runners]] strap = ...`) feeds the treadmill that runner is on and tells the household
when it comes and goes; an unbound strap feeds the treadmill it is paired with (strap i with
treadmill i, extra straps with the first).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, assert_never

from treadwell.daemon.channel import status_event
from treadwell.drivers.discovery import DeviceKind
from treadwell.drivers.events import (
    ControlStateChanged,
    HeartRateReading,
    InclineConfirmed,
    LinkConnected,
    LinkDisconnected,
    LinkEvent,
    MachineStatusChanged,
    RscReading,
    TrainingStatusChanged,
    TreadmillReading,
)
from treadwell.rules import events as rules_events
from treadwell.rules.household import Order, StrapPresence, TreadmillEvent

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from treadwell.daemon.channel import TreadmillChannel
    from treadwell.daemon.samples import SampleRecorder
    from treadwell.rules.model import Reading

_LOGGER = logging.getLogger(__name__)


class LinkInputs:
    """Turns link events into orders (see the module docstring).

    Args:
        channels: The treadmills by slug.
        strap_runners: Strap label -> the runner it is bound to.
        strap_pairs: Strap label -> the treadmill an unbound strap feeds.
        runner_on: Who runs on a treadmill now (from the household).
        availability: Called with (treadmill, online) when a treadmill's link changes.
        now: The rules' clock (sped up in the demo).
    """

    def __init__(
        self,
        *,
        channels: dict[str, TreadmillChannel],
        strap_runners: dict[str, str],
        strap_pairs: dict[str, str],
        runner_on: Callable[[str], str],
        availability: Callable[[str, bool], None],
        now: Callable[[], datetime],
    ) -> None:
        self._now = now
        self._channels = channels
        self._strap_runners = strap_runners
        self._strap_pairs = strap_pairs
        self._runner_on = runner_on
        self._availability = availability

    def _strap_channel(self, strap: str) -> TreadmillChannel | None:
        runner = self._strap_runners.get(strap)
        if runner is not None:
            for slug, channel in self._channels.items():
                if self._runner_on(slug) == runner:
                    return channel
            return None
        paired = self._strap_pairs.get(strap)
        return None if paired is None else self._channels.get(paired)

    def record(self, item: object, samples: SampleRecorder) -> None:
        """Samples for the export: every reading of a run, RR intervals, footpod values."""
        match item:
            case TreadmillReading(device, data):
                channel = self._channels[device]
                heart_rate = channel.arbiter.choose(asyncio.get_running_loop().time())
                samples.on_reading(
                    channel.store_run,
                    self._runner_on(device),
                    self._now(),
                    data,
                    None if heart_rate is None else heart_rate.heart_rate_bpm,
                )
            case HeartRateReading(_, measurement):
                samples.add_rr(measurement.rr_intervals_ms)
            case RscReading(_, measurement):
                samples.on_footpod(measurement.cadence_spm, measurement.stride_length_m)
            case _:
                pass

    def reading_order(self, event: TreadmillReading) -> tuple[TreadmillEvent, Reading]:
        """A Treadmill Data record's order and the reading in it (re-publish its treadmill)."""
        loop_now = asyncio.get_running_loop().time()
        device, data = event.device, event.data
        channel = self._channels[device]
        channel.arbiter.on_treadmill(data.heart_rate_bpm, loop_now)
        channel.latest = data
        reading = channel.reading(data, loop_now, self._now())
        return TreadmillEvent(device, rules_events.ReadingReceived(reading)), reading

    def order_for(self, event: LinkEvent) -> tuple[Order | None, str | None]:
        """The order for `event` (or None) and the treadmill whose state to re-publish."""
        loop_now = asyncio.get_running_loop().time()
        match event:
            case TreadmillReading(device, _):
                return self.reading_order(event)[0], device
            case HeartRateReading(device, measurement):
                strap_channel = self._strap_channel(device)
                if strap_channel is not None:
                    strap_channel.arbiter.on_strap(measurement, loop_now)
                return None, None
            case RscReading(device, measurement):
                for channel in self._channels.values():
                    channel.on_footpod(
                        measurement.cadence_spm, measurement.stride_length_m, loop_now
                    )
                return None, None
            case LinkConnected(device, DeviceKind.TREADMILL, _, _, info):
                channel = self._channels[device]
                channel.connected = True
                self._availability(device, True)
                if info is None:
                    return None, device
                connected = rules_events.TreadmillConnected(channel.rules_treadmill(info))
                return TreadmillEvent(device, connected), device
            case LinkConnected(device, DeviceKind.HEART_RATE, _, _, _):
                runner = self._strap_runners.get(device)
                return (StrapPresence(runner, present=True) if runner else None), None
            case LinkConnected():
                return None, None  # footpods: their data speaks for itself
            case LinkDisconnected(device, DeviceKind.TREADMILL, reason):
                channel = self._channels[device]
                channel.connected = False
                _LOGGER.warning("%s: disconnected (%s)", device, reason)
                self._availability(device, False)
                return TreadmillEvent(device, rules_events.TreadmillDisconnected()), device
            case LinkDisconnected(device, DeviceKind.HEART_RATE, _):
                lost = self._strap_channel(device)
                if lost is not None:
                    lost.arbiter.strap_lost()
                runner = self._strap_runners.get(device)
                return (StrapPresence(runner, present=False) if runner else None), None
            case LinkDisconnected():
                return None, None
            case MachineStatusChanged(device, status):
                run_event = status_event(status)
                if not isinstance(
                    run_event, rules_events.MachineStarted | rules_events.MachineStopped
                ):
                    return None, None
                return TreadmillEvent(device, run_event), device
            case ControlStateChanged(device, granted):
                _LOGGER.info("%s: control %s", device, "granted" if granted else "lost")
                return None, None
            case InclineConfirmed(device, incline_pct):
                _LOGGER.info("%s: the deck reached %.1f%%", device, incline_pct)
                return None, None
            case TrainingStatusChanged():
                return None, None
            case _:
                assert_never(event)

"""I/O. One treadmill's wiring: its link, heart-rate choice, latest values and state message.

Also the small translations between the drivers' world and the rules': a Treadmill Data
record plus the chosen heart rate becomes a `Reading`, what the treadmill said about itself
becomes the rules' `Treadmill`, and console start/stop/pause become run events. The rules'
state (runs, flags, who runs) lives in the household (`daemon/household.py`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from treadwell.daemon import messages
from treadwell.drivers.arbiter import HeartRateArbiter
from treadwell.drivers.codec.ftms import MachineStatusOp
from treadwell.rules import events as rules_events
from treadwell.rules import stride
from treadwell.rules.model import Reading, Treadmill

if TYPE_CHECKING:
    from datetime import datetime

    from treadwell.daemon.config import TreadmillSettings
    from treadwell.drivers.codec.ftms import MachineStatus, TreadmillData
    from treadwell.drivers.events import TreadmillInfo
    from treadwell.drivers.treadmill import TreadmillLink
    from treadwell.rules.household import TreadmillSlot

_LOGGER = logging.getLogger(__name__)

# Neither the rules nor a dashboard take the deck below level: declines do not help a back.
MIN_AUTOMATION_INCLINE_PCT = 0.0
DEFAULT_STEP_PCT = 0.5
# A footpod value older than this (real seconds) is stale: the footpod went away.
FOOTPOD_FRESH_S = 5.0


@dataclass
class TreadmillChannel:
    """One treadmill's wiring (see the module docstring)."""

    settings: TreadmillSettings
    link: TreadmillLink
    arbiter: HeartRateArbiter = field(default_factory=HeartRateArbiter)
    connected: bool = False
    latest: TreadmillData | None = None
    setting_incline: bool = False
    store_run: int | None = None  # the history's id of the run in progress (samples, export)
    # Cadence and stride: a footpod's (fresh for `FOOTPOD_FRESH_S`), else from the deck's
    # step count where it reports one.
    cadence_spm: float | None = None
    stride_length_m: float | None = None
    footpod_at: float | None = None
    _steps: tuple[int, datetime] | None = field(default=None, repr=False)
    # The last state JSON and what it was built from: readings often repeat the state (the
    # same whole metre, second and speed), and then the JSON is not encoded again.
    _state_key: tuple[object, ...] | None = field(default=None, repr=False)
    _state_json: bytes = field(default=b"", repr=False)

    @cached_property
    def slug(self) -> str:
        """The treadmill's identifier in topics and logs (derived once: used on every reading)."""
        return self.settings.slug

    def on_footpod(
        self, cadence_spm: float, stride_length_m: float | None, loop_now: float
    ) -> None:
        """A footpod's cadence and stride length (they win over the deck's step count)."""
        self.cadence_spm, self.stride_length_m, self.footpod_at = (
            cadence_spm,
            stride_length_m,
            loop_now,
        )

    def reading(self, data: TreadmillData, loop_now: float, now: datetime) -> Reading:
        """A Treadmill Data record as the rules see it, with the strap's HR if it has one."""
        choice = self.arbiter.choose(loop_now)
        fresh = self.footpod_at is not None and loop_now - self.footpod_at <= FOOTPOD_FRESH_S
        if not fresh and data.step_count is not None:
            cadence = stride.cadence_from_steps(self._steps, data.step_count, now)
            if cadence is not None or self._steps is None:
                self._steps = (data.step_count, now)
            if cadence is not None:
                self.cadence_spm, self.stride_length_m = cadence, None
        elif not fresh:
            self.cadence_spm = self.stride_length_m = None
        return Reading(
            speed_kmh=data.speed_kmh,
            incline_pct=data.incline_pct,
            total_distance_m=data.total_distance_m,
            heart_rate_bpm=choice.heart_rate_bpm if choice is not None else None,
            elapsed_time_s=data.elapsed_time_s,
            cadence_spm=self.cadence_spm,
            stride_length_m=self.stride_length_m,
        )

    def state_payload(self, loop_now: float, slot: TreadmillSlot, runner: str) -> bytes:
        """The retained `{base}/<device>/state` JSON (`runner`: who runs, or would)."""
        data = self.latest
        choice = self.arbiter.choose(loop_now)
        engine = slot.engine
        speed = data.speed_kmh if data else None
        incline = data.incline_pct if data else None
        distance = data.total_distance_m if data else None
        elapsed = data.elapsed_time_s if data else None
        heart_rate = choice.heart_rate_bpm if choice else None
        suggested = engine.suggested_incline_pct
        key: tuple[object, ...] = (
            *(speed, incline, distance, elapsed, heart_rate, suggested),
            *(engine.running, self.connected, engine.run_id, runner),
            *(self.cadence_spm, self.stride_length_m),
        )
        if key != self._state_key:
            self._state_key = key
            self._state_json = messages.state_payload(
                speed_kmh=speed,
                incline_pct=incline,
                total_distance_m=distance,
                elapsed_time_s=elapsed,
                heart_rate_bpm=heart_rate,
                running=engine.running,
                connected=self.connected,
                run_id=engine.run_id,
                suggested_incline_pct=suggested,
                runner=runner,
                cadence_spm=self.cadence_spm,
                stride_length_m=self.stride_length_m,
            )
        return self._state_json

    def rules_treadmill(self, info: TreadmillInfo) -> Treadmill:
        """What this treadmill's incline can do (who may use it is the rules' business)."""
        rng = info.incline_range
        return Treadmill(
            can_set_incline=info.can_set_incline and rng is not None,
            min_incline_pct=rng.min_pct if rng else 0.0,
            max_incline_pct=rng.max_pct if rng else 0.0,
            step_pct=rng.step_pct if rng and rng.step_pct > 0 else DEFAULT_STEP_PCT,
        )


def status_event(status: MachineStatus) -> rules_events.Event | None:
    """Console start, stop and pause as run events (docs/ftms.md §6: 0x02 tells pause from stop)."""
    if status.op == MachineStatusOp.STARTED_OR_RESUMED:
        return rules_events.MachineStarted()
    if status.op == MachineStatusOp.STOPPED_OR_PAUSED:
        return rules_events.MachineStopped(paused=bool(status.paused))
    if status.op == MachineStatusOp.STOPPED_BY_SAFETY_KEY:
        return rules_events.MachineStopped(paused=False)
    return None

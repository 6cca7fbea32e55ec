"""I/O. One treadmill's wiring: its link, rules-engine state, heart-rate choice, latest values.

Also the small translations between the drivers' world and the rules engine's: a Treadmill
Data record plus the chosen heart rate becomes a `Reading`, what the treadmill said about
itself becomes the engine's `Treadmill`, and console start/stop/pause become run events.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from treadwell.daemon import messages
from treadwell.daemon.store import StateStoreError
from treadwell.drivers.arbiter import HeartRateArbiter
from treadwell.drivers.codec.ftms import MachineStatusOp
from treadwell.drivers.errors import (
    InclineNotSupportedError,
    InclineOutOfLimitsError,
    NotConnectedError,
    TreadwellError,
)
from treadwell.drivers.incline import InclineLimits
from treadwell.rules import events as rules_events
from treadwell.rules.engine import EngineState, evaluate, initial_state
from treadwell.rules.model import BackPain, Reading, Treadmill
from treadwell.rules.serialization import state_from_json, state_to_json

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from treadwell.daemon.config import TreadmillSettings
    from treadwell.daemon.store import Store
    from treadwell.drivers.codec.ftms import MachineStatus, TreadmillData
    from treadwell.drivers.events import TreadmillInfo
    from treadwell.drivers.treadmill import TreadmillLink
    from treadwell.rules.model import RulesConfig

_LOGGER = logging.getLogger(__name__)

# Neither the rules nor a dashboard take the deck below level: declines do not help a back.
MIN_AUTOMATION_INCLINE_PCT = 0.0
DEFAULT_STEP_PCT = 0.5


@dataclass
class TreadmillChannel:
    """One treadmill's wiring (see the module docstring)."""

    settings: TreadmillSettings
    config: RulesConfig
    link: TreadmillLink
    engine: EngineState
    arbiter: HeartRateArbiter = field(default_factory=HeartRateArbiter)
    connected: bool = False
    latest: TreadmillData | None = None
    store_run: int | None = None
    setting_incline: bool = False
    cadence_spm: int | None = None  # from a footpod; kept for a future overstride cue
    # The last state JSON and what it was built from: readings often repeat the state (the
    # same whole metre, second and speed), and then the JSON is not encoded again.
    _state_key: tuple[object, ...] | None = field(default=None, repr=False)
    _state_json: bytes = field(default=b"", repr=False)

    @cached_property
    def slug(self) -> str:
        """The treadmill's identifier in topics and logs (derived once: used on every reading)."""
        return self.settings.slug

    @property
    def limits(self) -> InclineLimits:
        """The runner's incline limits for this treadmill."""
        return InclineLimits(MIN_AUTOMATION_INCLINE_PCT, self.settings.max_incline_pct)

    def reading(self, data: TreadmillData, loop_now: float) -> Reading:
        """A Treadmill Data record as the rules see it, with the strap's HR if it has one."""
        choice = self.arbiter.choose(loop_now)
        return Reading(
            speed_kmh=data.speed_kmh,
            incline_pct=data.incline_pct,
            total_distance_m=data.total_distance_m,
            heart_rate_bpm=choice.heart_rate_bpm if choice is not None else None,
            elapsed_time_s=data.elapsed_time_s,
        )

    def state_payload(self, loop_now: float) -> bytes:
        """The retained `{base}/<device>/state` JSON."""
        data = self.latest
        choice = self.arbiter.choose(loop_now)
        engine = self.engine
        speed = data.speed_kmh if data else None
        incline = data.incline_pct if data else None
        distance = data.total_distance_m if data else None
        elapsed = data.elapsed_time_s if data else None
        heart_rate = choice.heart_rate_bpm if choice else None
        suggested = engine.suggested_incline_pct
        key: tuple[object, ...] = (
            *(speed, incline, distance, elapsed, heart_rate, suggested),
            *(engine.running, self.connected, engine.run_id),
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
            )
        return self._state_json

    def rules_treadmill(self, info: TreadmillInfo) -> Treadmill:
        """What the rules may do with this treadmill's incline (nothing unless allowed)."""
        rng = info.incline_range
        return Treadmill(
            can_set_incline=info.can_set_incline
            and rng is not None
            and self.settings.automation_allowed,
            min_incline_pct=rng.min_pct if rng else 0.0,
            max_incline_pct=rng.max_pct if rng else 0.0,
            step_pct=rng.step_pct if rng and rng.step_pct > 0 else DEFAULT_STEP_PCT,
        )

    def check_manual_incline(self, incline_pct: float, now: datetime) -> None:
        """Refuse a dashboard incline that breaks a safety rule, with the reason.

        Raises:
            InclineOutOfLimitsError: A red flag is on, or the value is outside the limits.
            NotConnectedError: The treadmill is not connected.
            InclineNotSupportedError: The treadmill cannot set its incline.
        """
        if self.engine.flags.effective(now) is BackPain.RED:
            raise InclineOutOfLimitsError(
                "refused: the red back-pain flag is on; stop running and see a healthcare provider"
            )
        limits = self.limits
        if not limits.min_pct <= incline_pct <= limits.max_pct:
            raise InclineOutOfLimitsError(
                f"{incline_pct:g}% is outside your limits "
                f"({limits.min_pct:g}% to {limits.max_pct:g}%)"
            )
        if not self.connected:
            raise NotConnectedError(f"{self.slug}: the treadmill is not connected")
        info = self.link.info
        if info is None or not info.can_set_incline:
            raise InclineNotSupportedError(f"{self.slug}: this treadmill cannot set its incline")


def status_event(status: MachineStatus) -> rules_events.Event | None:
    """Console start, stop and pause as run events (FTMS.md §6: 0x02 tells pause from stop)."""
    if status.op == MachineStatusOp.STARTED_OR_RESUMED:
        return rules_events.MachineStarted()
    if status.op == MachineStatusOp.STOPPED_OR_PAUSED:
        return rules_events.MachineStopped(paused=bool(status.paused))
    if status.op == MachineStatusOp.STOPPED_BY_SAFETY_KEY:
        return rules_events.MachineStopped(paused=False)
    return None


def load_engine_states(store: Store) -> dict[str, str]:
    """The saved engine state of each treadmill, by slug; empty when unreadable (logged)."""
    try:
        text = store.load_engine_state()
    except StateStoreError as exc:
        _LOGGER.error("state: cannot read the saved engine state, starting fresh: %s", exc)  # noqa: TRY400
        return {}
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        _LOGGER.error("state: the saved engine state is not JSON, starting fresh")  # noqa: TRY400
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def restore_engine(
    text: str | None, config: RulesConfig, flags: rules_events.FlagSet | None, now: datetime
) -> EngineState:
    """The saved engine state, or a fresh one carrying `flags`."""
    if text is not None:
        try:
            return state_from_json(text, config)
        except TreadwellError as exc:
            _LOGGER.error("state: cannot restore the engine state, starting fresh: %s", exc)  # noqa: TRY400
    state = initial_state(config)
    if flags is not None:
        state, _ = evaluate(state, flags, now)
    return state


def save_engine_states(store: Store, channels: Iterable[TreadmillChannel]) -> bool:
    """Save every treadmill's engine state; False (logged) if the store refused."""
    data = {channel.slug: state_to_json(channel.engine) for channel in channels}
    try:
        store.save_engine_state(json.dumps(data))
    except StateStoreError as exc:
        _LOGGER.error("state: engine state not saved: %s", exc)  # noqa: TRY400
        return False
    return True

"""I/O. The household's state in the daemon: built from the settings, loaded, migrated, saved.

The rules decide (`treadwell.rules.household`); this module only holds the current state,
turns the configuration into the rules' `HouseholdConfig`, and moves the state in and out of
the SQLite store. State saved before runners existed (one engine per treadmill, one flag for
everyone) becomes the default runner's: flag, history, check-ins and runs, nothing lost.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from treadwell.daemon.config import DEFAULT_RUNNER
from treadwell.daemon.store import StateStoreError
from treadwell.drivers.errors import TreadwellError
from treadwell.rules import household as rules
from treadwell.rules.model import BackPain, Flags
from treadwell.rules.serialization import (
    household_from_json,
    household_to_json,
    state_from_json,
)

if TYPE_CHECKING:
    from datetime import datetime

    from treadwell.daemon.config import Settings
    from treadwell.daemon.store import Store
    from treadwell.rules.engine import EngineState

_LOGGER = logging.getLogger(__name__)

# Without [[runners]], the one default runner consents to what each treadmill allows and has no
# ceiling of their own: the treadmills' settings apply, as they did before runners existed.
_NO_OWN_CEILING_PCT = 40.0


def household_config(settings: Settings) -> rules.HouseholdConfig:
    """The rules' view of the household: thresholds, runners and treadmills."""
    if settings.runners:
        runners = tuple(
            rules.RunnerProfile(r.slug, r.max_incline_pct, r.automation_allowed)
            for r in settings.runners
        )
    else:
        runners = (rules.RunnerProfile(DEFAULT_RUNNER, _NO_OWN_CEILING_PCT, True),)
    treadmills = tuple(
        rules.TreadmillProfile(t.slug, t.max_incline_pct, t.automation_allowed, t.dashboard_control)
        for t in settings.treadmills
    )
    return rules.HouseholdConfig(
        rules=settings.rules.to_rules_config(),
        runners=runners,
        treadmills=treadmills,
        default_runner=settings.default_runner,
    )


def load_household(settings: Settings, store: Store, now: datetime) -> rules.HouseholdState:
    """The saved household, migrated from an older format if need be, or a fresh one."""
    config = household_config(settings)
    try:
        text = store.load_engine_state()
    except StateStoreError as exc:
        _LOGGER.error("state: cannot read the saved state, starting fresh: %s", exc)  # noqa: TRY400
        text = None
    if text:
        try:
            state, dropped = household_from_json(text, config)
        except TreadwellError:
            legacy = _from_legacy(text, config, store)
            if legacy is not None:
                return legacy
        else:
            for name in dropped:
                _LOGGER.warning(
                    "state: %s is no longer configured; its saved state is dropped", name
                )
            return _newer_flags(state, store)
    return _with_initial_flags(rules.initial_household(config), settings, store, now)


def _newer_flags(state: rules.HouseholdState, store: Store) -> rules.HouseholdState:
    """A flag stored after the state was saved (by a tool, with the daemon stopped) wins."""
    try:
        saved_at = store.state_saved_at()
        stored = store.runner_flags()
    except StateStoreError:
        return state
    if saved_at is None:
        return state
    runners = dict(state.runners)
    for name, flags in stored.items():
        owner = state.config.default_runner if name == DEFAULT_RUNNER else name
        if owner not in runners or flags.updated_at <= saved_at:
            continue
        if flags.back_pain not in BackPain.__members__.values():
            continue
        _LOGGER.info(
            "state: %s's flag was set to %s while the daemon was stopped", owner, flags.back_pain
        )
        runners[owner] = replace(
            runners[owner], flags=Flags(BackPain(flags.back_pain), flags.expires_at)
        )
    return replace(state, runners=tuple(runners.items()))


def _from_legacy(
    text: str, config: rules.HouseholdConfig, store: Store
) -> rules.HouseholdState | None:
    """State from before runners: `{slug: engine state}`; the runner's part goes to the default."""
    try:
        saved = json.loads(text)
    except ValueError:
        _LOGGER.error("state: the saved state is not JSON, starting fresh")  # noqa: TRY400
        return None
    if not isinstance(saved, dict):
        _LOGGER.error("state: the saved state has an unknown shape, starting fresh")
        return None
    state = rules.initial_household(config)
    engines: dict[str, EngineState] = {}
    for name, slot in state.treadmills:
        if isinstance(saved.get(name), str):
            try:
                engines[name] = state_from_json(saved[name], slot.engine.config)
            except TreadwellError as exc:
                _LOGGER.error("state: cannot restore %s's state, it starts fresh: %s", name, exc)  # noqa: TRY400
    if not engines:
        return None
    # Every engine carried the same flag; the newest run's engine has the freshest history.
    newest = max(engines.values(), key=lambda e: e.last_run_id or "")
    runner = rules.RunnerState(
        flags=newest.flags,
        history=newest.history,
        physio_suggested=newest.physio_suggested,
        last_run_id=newest.last_run_id,
        pending=tuple(dict.fromkeys(k for e in engines.values() for k in e.pending)),
        issued=tuple(dict.fromkeys(i for e in engines.values() for i in e.issued)),
    )
    default = config.default_runner
    slots = tuple(
        (
            name,
            rules.TreadmillSlot(
                engine=_bare(engines[name]) if name in engines else slot.engine,
                run_runner=default if name in engines and engines[name].running else None,
            ),
        )
        for name, slot in state.treadmills
    )
    runners = tuple((n, runner if n == default else r) for n, r in state.runners)
    try:
        store.adopt_legacy(default)
    except StateStoreError as exc:
        _LOGGER.error("state: earlier runs not given to %s: %s", default, exc)  # noqa: TRY400
    _LOGGER.info("state: saved state from before runners now belongs to %s", default)
    return rules.HouseholdState(config=config, runners=runners, treadmills=slots)


def _bare(engine: EngineState) -> EngineState:
    return replace(
        engine,
        flags=Flags(),
        history=(),
        physio_suggested=False,
        last_run_id=None,
        pending=(),
        issued=(),
    )


def _with_initial_flags(
    state: rules.HouseholdState, settings: Settings, store: Store, now: datetime
) -> rules.HouseholdState:
    """A fresh household: the stored flags (from before runners) or the configured one."""
    try:
        stored = store.runner_flags()
    except StateStoreError:
        stored = {}
    default = state.config.default_runner
    runners = dict(state.runners)
    for name, flags in stored.items():
        owner = default if name == DEFAULT_RUNNER and name not in runners else name
        if owner in runners and flags.back_pain in BackPain.__members__.values():
            runners[owner] = replace(
                runners[owner], flags=Flags(BackPain(flags.back_pain), flags.expires_at)
            )
    initial = settings.flags
    if not stored and initial.back_pain != "none":
        expires = now + timedelta(days=initial.days) if initial.days else None
        runners[default] = replace(
            runners[default], flags=Flags(BackPain(initial.back_pain), expires)
        )
    return replace(state, runners=tuple(runners.items()))


def household_json(state: rules.HouseholdState) -> str:
    """The state as saved."""
    return household_to_json(state)

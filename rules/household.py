"""Pure. The household: runners, the treadmills they run on, and the one incline policy.

Theory: a person, not a treadmill, has a back. Each runner owns their back-pain flag and its
expiry, their check-in history, the physical-therapist escalation, their scheduled post-run
prompts and the ids of the prompts they were given. Each treadmill owns its run state machine,
incline help and form baseline (an `EngineState`). To handle an event on a treadmill, the
household lends the treadmill's engine the runner's part (`_attach`), lets the engine decide
(`engine.evaluate`), and takes the runner's part back (`_detach`). Events about a runner alone
(a flag, a check-in) are evaluated on every treadmill that runner is on, or on a detached
engine when they are on none, so a red flag stops incline help wherever that person runs.

Who runs on a treadmill, decided when a run starts and kept until it ends: the runner whose
bound strap is connected (and who is not running elsewhere); otherwise the treadmill's
selected runner; otherwise the household's default runner.

Every incline request (the engine's automation, a dashboard command, anything added later)
passes `_gate`, the one place that knows the limits: it comes back as `SetIncline` with the
limits the wire value must respect, or as `InclineRefused` with the reason. The shell carries
the action out and checks nothing again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, assert_never

from treadwell.rules import checkins, engine
from treadwell.rules.actions import (
    Action,
    CancelScheduled,
    FlagsChanged,
    InclineSource,
    PublishPrompt,
    RunEnded,
    RunStarted,
    SchedulePrompt,
    SetIncline,
)
from treadwell.rules.checkins import CheckinEntry
from treadwell.rules.events import (
    CheckinReceived,
    Event,
    FlagSet,
    MachineStarted,
    MachineStopped,
    ReadingReceived,
    TimerFired,
    TreadmillConnected,
    TreadmillDisconnected,
)
from treadwell.rules.model import BackPain, Flags, PainKind, RulesConfig, RulesInputError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from dataclasses import replace  # checked as the standard one
else:
    from treadwell.rules.evolve import replace  # the same results, faster

__all__ = [
    "CancelIncline",
    "HouseholdConfig",
    "HouseholdState",
    "InclineRefused",
    "InclineRequested",
    "InclineSource",
    "Order",
    "RunnerChanged",
    "RunnerCheckin",
    "RunnerFlagSet",
    "RunnerProfile",
    "RunnerSelected",
    "RunnerState",
    "StrapPresence",
    "TreadmillEvent",
    "TreadmillProfile",
    "TreadmillSlot",
    "checkin_run",
    "evaluate",
    "initial_household",
    "limits_for",
    "needs_commit",
]

_EPS = 1e-9
# Neither the rules nor a dashboard take a deck below level: declines do not help a back, and
# a negative grade once drove a deck to its maximum.
FLOOR_PCT = 0.0


# -- configuration --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunnerProfile:
    """A household member's settings.

    Attributes:
        name: The runner's slug (topics, ids).
        max_incline_pct: Their ceiling: nothing above it is ever set while they run.
        automation_allowed: Their consent to Treadwell setting the incline by itself.
    """

    name: str
    max_incline_pct: float = 3.0
    automation_allowed: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise RulesInputError("a runner needs a name")
        if not (math.isfinite(self.max_incline_pct) and self.max_incline_pct >= 0):
            raise RulesInputError(
                f"runner {self.name}: max_incline_pct must be >= 0, got {self.max_incline_pct}"
            )


@dataclass(frozen=True, slots=True)
class TreadmillProfile:
    """A treadmill's settings.

    Attributes:
        name: The treadmill's slug.
        max_incline_pct: The treadmill owner's ceiling, whoever runs.
        automation_allowed: Whether automation may drive this deck at all.
        dashboard_control: Whether a dashboard may set this deck's incline.
    """

    name: str
    max_incline_pct: float = 3.0
    automation_allowed: bool = False
    dashboard_control: bool = True


@dataclass(frozen=True, slots=True)
class HouseholdConfig:
    """The rules' thresholds plus who lives here and what they run on.

    Raises:
        RulesInputError: No runners, no treadmills, duplicate names or an unknown default.
    """

    rules: RulesConfig
    runners: tuple[RunnerProfile, ...]
    treadmills: tuple[TreadmillProfile, ...]
    default_runner: str

    def __post_init__(self) -> None:
        names = [r.name for r in self.runners]
        decks = [t.name for t in self.treadmills]
        if not names or not decks:
            raise RulesInputError("a household needs at least one runner and one treadmill")
        if len(set(names)) != len(names) or len(set(decks)) != len(decks):
            raise RulesInputError("runner and treadmill names must be unique")
        if self.default_runner not in names:
            raise RulesInputError(f"default runner {self.default_runner!r} is not a runner")

    def runner(self, name: str) -> RunnerProfile:
        """The profile of runner `name` (the default runner's for an unknown name)."""
        for profile in self.runners:
            if profile.name == name:
                return profile
        return self.runner(self.default_runner)

    def treadmill(self, name: str) -> TreadmillProfile:
        """The profile of treadmill `name`.

        Raises:
            RulesInputError: No treadmill has that name.
        """
        for profile in self.treadmills:
            if profile.name == name:
                return profile
        raise RulesInputError(f"no treadmill called {name!r}")

    def engine_config(self, runner: str, treadmill: str) -> RulesConfig:
        """The engine's thresholds for `runner` on `treadmill`: both ceilings, both consents."""
        return _engine_config(self, runner, treadmill)


def _engine_config(config: HouseholdConfig, runner: str, treadmill: str) -> RulesConfig:
    """`HouseholdConfig.engine_config`, remembered: it is asked for on every reading.

    The configuration is frozen, so the same (configuration, runner, treadmill) always gives
    the same thresholds. The memo holds the configuration it was filled for and is matched
    by identity: hashing a whole configuration would cost about as much as deriving.
    """
    held, table = _ENGINE_CONFIGS[0]
    if held is not config:
        table = {}
        _ENGINE_CONFIGS[0] = (config, table)
    found = table.get((runner, treadmill))
    if found is None:
        person, deck = config.runner(runner), config.treadmill(treadmill)
        found = replace(
            config.rules,
            max_incline_pct=min(person.max_incline_pct, deck.max_incline_pct),
            automation_allowed=person.automation_allowed and deck.automation_allowed,
        )
        table[(runner, treadmill)] = found
    return found


_ENGINE_CONFIGS: list[tuple[HouseholdConfig | None, dict[tuple[str, str], RulesConfig]]] = [
    (None, {})
]


# -- state ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunnerState:
    """What the household remembers about one runner (see the module docstring)."""

    flags: Flags = field(default_factory=Flags)
    history: tuple[CheckinEntry, ...] = ()
    physio_suggested: bool = False
    last_run_id: str | None = None
    pending: tuple[str, ...] = ()
    issued: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TreadmillSlot:
    """One treadmill: its engine (without the runner's part), who runs, how many runs began.

    Attributes:
        engine: The treadmill's engine state; its runner fields are lent, never kept.
        selected: The runner chosen for this treadmill (None: no choice made).
        run_runner: Who the run in progress belongs to (None: no run).
        runs_started: Runs begun on this treadmill, for unique run ids.
    """

    engine: engine.EngineState
    selected: str | None = None
    run_runner: str | None = None
    runs_started: int = 0


@dataclass(frozen=True, slots=True)
class HouseholdState:
    """Every runner's and every treadmill's state, by name."""

    config: HouseholdConfig
    runners: tuple[tuple[str, RunnerState], ...]
    treadmills: tuple[tuple[str, TreadmillSlot], ...]
    present: tuple[str, ...] = ()
    """Runners whose bound strap is connected now."""

    def runner(self, name: str) -> RunnerState:
        """Runner `name`'s state (a fresh one for a runner not seen yet)."""
        for runner_name, runner in self.runners:
            if runner_name == name:
                return runner
        return RunnerState()

    def slot(self, name: str) -> TreadmillSlot:
        """Treadmill `name`'s slot.

        Raises:
            RulesInputError: No treadmill has that name.
        """
        for slot_name, slot in self.treadmills:
            if slot_name == name:
                return slot
        raise RulesInputError(f"no treadmill called {name!r}")

    def runner_on(self, treadmill: str) -> str:
        """Who runs on `treadmill` now, or would if a run started now."""
        return self._runner_of(self.slot(treadmill))

    def _runner_of(self, slot: TreadmillSlot) -> str:
        """`runner_on` for a slot the caller has found already."""
        if slot.run_runner is not None:  # a run in progress (most readings): no need to look
            return slot.run_runner
        return self._runner_for(slot, self._busy())

    def runners_on(self) -> dict[str, str]:
        """`runner_on` for every treadmill at once (one pass, not one per treadmill)."""
        busy = self._busy()
        return {name: self._runner_for(slot, busy) for name, slot in self.treadmills}

    def _busy(self) -> set[str | None]:
        """Whose runs are in progress (None stands for the treadmills without one)."""
        return {s.run_runner for _, s in self.treadmills}

    def _runner_for(self, slot: TreadmillSlot, busy: set[str | None]) -> str:
        # A slot without a run of its own only adds None to `busy`, which names no runner:
        # so one `busy` for the whole household serves every such slot.
        if slot.run_runner is not None:
            return slot.run_runner
        strapped = [r for r in self.present if r not in busy]
        if slot.selected in strapped:
            return slot.selected
        if strapped:
            return strapped[0]
        if slot.selected is not None and slot.selected in _names(self.config):
            return slot.selected
        return self.config.default_runner

    def treadmills_of(self, runner: str) -> tuple[str, ...]:
        """The treadmills `runner` is on (running, or the one a run would be theirs on)."""
        return tuple(name for name, _ in self.treadmills if self.runner_on(name) == runner)


def _names(config: HouseholdConfig) -> tuple[str, ...]:
    return tuple(r.name for r in config.runners)


def initial_household(config: HouseholdConfig) -> HouseholdState:
    """A household with no flags, no runs and nothing selected."""
    return HouseholdState(
        config=config,
        runners=tuple((r.name, RunnerState()) for r in config.runners),
        treadmills=tuple(
            (t.name, TreadmillSlot(_fresh_engine(config, t.name))) for t in config.treadmills
        ),
    )


def _fresh_engine(config: HouseholdConfig, treadmill: str) -> engine.EngineState:
    return engine.initial_state(config.engine_config(config.default_runner, treadmill))


# -- events and actions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreadmillEvent:
    """Something happened on treadmill `treadmill` (a reading, a status, a link change)."""

    treadmill: str
    event: (
        ReadingReceived
        | MachineStopped
        | MachineStarted
        | TreadmillConnected
        | TreadmillDisconnected
    )


@dataclass(frozen=True, slots=True)
class RunnerFlagSet:
    """`runner` set their back-pain flag, optionally until `expires_at`."""

    runner: str
    back_pain: BackPain
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunnerCheckin:
    """`runner` answered "how is your back?" about run `run_id` (None: their latest).

    `other_kinds` are further kinds named at once (see `CheckinReceived`).
    """

    runner: str
    pain: int
    kind: PainKind
    run_id: str | None = None
    other_kinds: tuple[PainKind, ...] = ()


@dataclass(frozen=True, slots=True)
class RunnerSelected:
    """Treadmill `treadmill`'s runner was chosen (None: back to the default)."""

    treadmill: str
    runner: str | None


@dataclass(frozen=True, slots=True)
class StrapPresence:
    """`runner`'s bound strap connected (`present`) or went away."""

    runner: str
    present: bool


@dataclass(frozen=True, slots=True)
class InclineRequested:
    """Someone asked for `incline_pct` on `treadmill`."""

    treadmill: str
    incline_pct: float
    source: InclineSource = InclineSource.DASHBOARD


Order = (
    TreadmillEvent
    | RunnerFlagSet
    | RunnerCheckin
    | RunnerSelected
    | StrapPresence
    | InclineRequested
    | TimerFired
)
"""Anything the household can be told. `TimerFired("tick")` lets time pass on every treadmill."""


@dataclass(frozen=True, slots=True)
class InclineRefused:
    """An incline request that breaks a rule; nothing is sent to the treadmill."""

    treadmill: str
    incline_pct: float
    reason: str
    source: InclineSource


@dataclass(frozen=True, slots=True)
class CancelIncline:
    """Stop any incline procedure in flight on `treadmill` (a red flag came up)."""

    treadmill: str
    reason: str


@dataclass(frozen=True, slots=True)
class RunnerChanged:
    """Who runs on `treadmill` (or would, if a run started now) changed to `runner`."""

    treadmill: str
    runner: str


@dataclass(frozen=True, slots=True)
class Routed:
    """An action and whom it concerns: the runner, and the treadmill where there is one."""

    action: Action | InclineRefused | CancelIncline | RunnerChanged
    runner: str | None
    treadmill: str | None


# -- limits ---------------------------------------------------------------------------------


def limits_for(state: HouseholdState, treadmill: str) -> tuple[float, float]:
    """The lowest and highest incline that may be set on `treadmill` for whoever runs on it.

    The smallest of the runner's ceiling, the treadmill's own ceiling and the top of its
    range; never below level nor below its range. High below low means: nothing may be set.
    """
    config = state.config
    person = config.runner(state.runner_on(treadmill))
    deck = config.treadmill(treadmill)
    high = min(person.max_incline_pct, deck.max_incline_pct)
    low = FLOOR_PCT
    known = state.slot(treadmill).engine.treadmill
    if known is not None:
        high = min(high, known.max_incline_pct)
        low = max(low, known.min_incline_pct)
    return low, high


def _gate(  # noqa: PLR0917 - the request's parts, in the order they are read
    state: HouseholdState,
    treadmill: str,
    incline_pct: float,
    source: InclineSource,
    run_id: str,
    now: datetime,
) -> Routed:
    """The incline policy: a `SetIncline` within every limit, or a refusal with its reason."""
    runner = state.runner_on(treadmill)
    deck = state.config.treadmill(treadmill)
    person = state.config.runner(runner)
    known = state.slot(treadmill).engine.treadmill
    low, high = limits_for(state, treadmill)
    reason: str | None = None
    flag = state.runner(runner).flags.effective(now)
    if _blocks_incline(flag):
        advice = (
            "stop running and see a healthcare provider"
            if flag is BackPain.RED
            else "no incline changes until the back is checked"
        )
        reason = f"refused: {runner}'s red back-pain flag ({flag}) is on; {advice}"
    elif source is InclineSource.AUTOMATION and not (
        person.automation_allowed and deck.automation_allowed
    ):
        reason = f"refused: incline automation is not allowed for {runner} on {treadmill}"
    elif source is InclineSource.DASHBOARD and not deck.dashboard_control:
        reason = f"refused: dashboard incline control is off for {treadmill}"
    elif known is None:
        reason = f"refused: {treadmill} is not connected"
    elif not known.can_set_incline:
        reason = f"refused: {treadmill} cannot set its incline"
    elif high < low or high <= FLOOR_PCT:
        # A ceiling of 0 % means "never incline": not even a command to stay level is sent.
        reason = f"refused: no incline may be set on {treadmill} for {runner}"
    elif not low - _EPS <= incline_pct <= high + _EPS:
        reason = f"refused: {incline_pct:g}% is outside your limits ({low:g}% to {high:g}%)"
    if reason is not None:
        return Routed(InclineRefused(treadmill, incline_pct, reason, source), runner, treadmill)
    # Within float noise of a limit counts as on it; the wire value never crosses one.
    action = SetIncline(
        min(max(incline_pct, low), high),
        run_id,
        treadmill=treadmill,
        min_pct=low,
        max_pct=high,
        source=source,
    )
    return Routed(action, runner, treadmill)


def _blocks_incline(flag: BackPain) -> bool:
    """Either red-flag level: no incline help or change until the back is checked."""
    return flag.is_red_flag


# -- evaluate -------------------------------------------------------------------------------


def evaluate(
    state: HouseholdState, order: Order, now: datetime
) -> tuple[HouseholdState, tuple[Routed, ...]]:
    """Handle `order` at `now` (timezone-aware); return the new state and routed actions.

    Raises:
        RulesInputError: `now` is naive, or the order names an unknown treadmill.
    """
    if now.utcoffset() is None:
        raise RulesInputError(f"evaluate needs a timezone-aware now, got naive {now!r}")
    out: list[Routed] = []
    previous = state
    who_moved: bool | None = None  # whether `runner_on` may answer differently now
    match order:
        case TreadmillEvent(treadmill, event):
            state, who_moved = _on_treadmill(state, treadmill, event, now, out)
        case TimerFired(key):
            state = _timer(state, key, now, out)
        case RunnerFlagSet(runner, back_pain, expires_at):
            state = _runner_event(state, runner, FlagSet(back_pain, expires_at), now, out)
        case RunnerCheckin(runner, pain, kind, run_id, more):
            checkin = CheckinReceived(pain, kind, more, run_id)
            state = _runner_event(state, runner, checkin, now, out)
        case RunnerSelected(treadmill, runner):
            state.slot(treadmill)  # refuse an unknown treadmill
            selected = runner if runner in _names(state.config) else None
            state = _put_slot(state, treadmill, replace(state.slot(treadmill), selected=selected))
        case StrapPresence(runner, present):
            rest = tuple(r for r in state.present if r != runner)
            keep = present and runner in _names(state.config)
            state = replace(state, present=(*rest, runner) if keep else rest)
        case InclineRequested(treadmill, incline_pct, source):
            run_id = state.slot(treadmill).engine.run_id or ""
            out.append(_gate(state, treadmill, incline_pct, source, run_id, now))
        case _:
            assert_never(order)
    if who_moved is None:
        who_moved = _who_runs_may_differ(previous, state)
    if who_moved:
        before = previous.runners_on()
        for name, runner in state.runners_on().items():
            if before[name] != runner:
                out.append(Routed(RunnerChanged(name, runner), runner, name))
    return state, tuple(_one_flag_change_each(out))


def _who_runs_may_differ(before: HouseholdState, after: HouseholdState) -> bool:
    """False when nothing `runner_on` reads has changed (most readings): no need to ask it."""
    if before.present != after.present:
        return True
    return any(
        b is not a and (b.run_runner != a.run_runner or b.selected != a.selected)
        for (_, b), (_, a) in zip(before.treadmills, after.treadmills, strict=True)
    )


def _one_flag_change_each(out: list[Routed]) -> list[Routed]:
    """Keep the last `FlagsChanged` per runner: one flag event evaluated on several decks."""
    last = {r.runner: i for i, r in enumerate(out) if isinstance(r.action, FlagsChanged)}
    return [
        r
        for i, r in enumerate(out)
        if not isinstance(r.action, FlagsChanged) or last[r.runner] == i
    ]


def _put_slot(state: HouseholdState, name: str, slot: TreadmillSlot) -> HouseholdState:
    decks = state.treadmills
    index = [deck for deck, _ in decks].index(name)
    return replace(state, treadmills=(*decks[:index], (name, slot), *decks[index + 1 :]))


def _put_runner(state: HouseholdState, name: str, runner: RunnerState) -> HouseholdState:
    runners = dict(state.runners)
    runners[name] = runner
    return replace(state, runners=tuple(runners.items()))


def _attach(  # noqa: PLR0917 - who, where, and what is lent
    state: HouseholdState,
    runner: str,
    treadmill: str | None,
    base: engine.EngineState,
    run_tag: str | None = None,
    mine: RunnerState | None = None,
) -> engine.EngineState:
    """Lend `runner`'s part to an engine state, with their thresholds on `treadmill`.

    `mine` is that part, if the caller holds it already. `run_tag`, if given, replaces the
    engine's run tag in the same step.
    """
    if mine is None:
        mine = state.runner(runner)
    config = (
        state.config.engine_config(runner, treadmill)
        if treadmill is not None
        else state.config.engine_config(runner, state.config.treadmills[0].name)
    )
    return replace(
        base,
        config=config,
        flags=mine.flags,
        history=mine.history,
        physio_suggested=mine.physio_suggested,
        last_run_id=mine.last_run_id,
        pending=mine.pending,
        issued=mine.issued,
        run_tag=base.run_tag if run_tag is None else run_tag,
    )


def _detach(
    engine_state: engine.EngineState, lent: RunnerState | None = None
) -> tuple[RunnerState, engine.EngineState]:
    """Take the runner's part back; the engine keeps only what is the treadmill's.

    `lent` is the part the engine was given: when the engine left every field of it as it
    was (most readings), that very part is handed back, and the caller can tell by identity.
    """
    if (
        lent is not None
        and engine_state.flags is lent.flags
        and engine_state.history is lent.history
        and engine_state.physio_suggested is lent.physio_suggested
        and engine_state.last_run_id is lent.last_run_id
        and engine_state.pending is lent.pending
        and engine_state.issued is lent.issued
    ):
        runner = lent
    else:
        runner = RunnerState(
            flags=engine_state.flags,
            history=engine_state.history,
            physio_suggested=engine_state.physio_suggested,
            last_run_id=engine_state.last_run_id,
            pending=engine_state.pending,
            issued=engine_state.issued,
        )
    bare = replace(
        engine_state,
        flags=Flags(),
        history=(),
        physio_suggested=False,
        last_run_id=None,
        pending=(),
        issued=(),
    )
    return runner, bare


def _on_treadmill(
    state: HouseholdState,
    treadmill: str,
    event: Event,
    now: datetime,
    out: list[Routed],
) -> tuple[HouseholdState, bool]:
    """The treadmill's engine handles `event`; also whether the run's runner changed.

    Only this slot changes, and not its selection or who is strapped in, so `runner_on`
    can answer differently afterwards only if the slot's run changed hands.
    """
    slot = state.slot(treadmill)
    runner = state._runner_of(slot)
    tag = f"{treadmill}-{slot.runs_started + 1}"
    before = state.runner(runner)
    # The very part lent is what `_detach` compares with (a runner not stored yet gets a
    # fresh one on every `runner` call).
    lent = _attach(state, runner, treadmill, slot.engine, run_tag=tag, mine=before)
    after, actions = engine.evaluate(lent, event, now)
    mine, bare = _detach(after, before)
    if mine is not before and mine != before:  # most readings leave the runner's part be
        state = _put_runner(state, runner, mine)
    started = any(isinstance(a, RunStarted) for a in actions)
    after_slot = replace(
        slot,
        engine=bare,
        runs_started=slot.runs_started + started,
        run_runner=runner if bare.run_id is not None else None,
    )
    state = _put_slot(state, treadmill, after_slot)
    _route(state, actions, runner, treadmill, now, out)
    return state, after_slot.run_runner != slot.run_runner


def _route(  # noqa: PLR0917 - the engine's answer and its context
    state: HouseholdState,
    actions: tuple[Action, ...],
    runner: str,
    treadmill: str | None,
    now: datetime,
    out: list[Routed],
) -> None:
    """Name the runner on every action; send the engine's incline wishes through the gate."""
    for action in actions:
        match action:
            case SetIncline(incline_pct, run_id) if treadmill is not None:
                out.append(
                    _gate(state, treadmill, incline_pct, InclineSource.AUTOMATION, run_id, now)
                )
            case SetIncline():  # pragma: no cover - a detached engine has no run to incline
                continue
            case PublishPrompt(prompt):
                out.append(Routed(PublishPrompt(replace(prompt, runner=runner)), runner, treadmill))
            case SchedulePrompt(key, at, prompt):
                routed = SchedulePrompt(key, at, replace(prompt, runner=runner))
                out.append(Routed(routed, runner, treadmill))
            case RunEnded(summary):
                named = replace(summary, runner=runner, treadmill=treadmill)
                out.append(Routed(RunEnded(named), runner, treadmill))
            case RunStarted() | CancelScheduled() | FlagsChanged():
                out.append(Routed(action, runner, treadmill))
            case _:
                assert_never(action)


def _runner_event(
    state: HouseholdState,
    runner: str,
    event: FlagSet | CheckinReceived,
    now: datetime,
    out: list[Routed],
) -> HouseholdState:
    """A flag or check-in: evaluated where the runner is, so every deck hears of it at once."""
    if runner not in _names(state.config):
        raise RulesInputError(f"no runner called {runner!r}")
    was_blocked = _blocks_incline(state.runner(runner).flags.effective(now))
    running = [name for name in state.treadmills_of(runner) if state.slot(name).engine.running]
    if isinstance(event, CheckinReceived) or not running:
        # A check-in is about a finished run; a flag with no run in progress changes no deck.
        scratch = _attach(state, runner, None, engine.initial_state(state.config.rules))
        after, actions = engine.evaluate(scratch, event, now)
        mine, _ = _detach(after)
        state = _put_runner(state, runner, mine)
        _route(state, actions, runner, None, now, out)
        if isinstance(event, CheckinReceived) and mine.flags != scratch.flags:
            # The check-in raised a flag: every run of this runner hears of it too.
            flag = FlagSet(mine.flags.back_pain, mine.flags.expires_at)
            for name in running:
                state, _ = _on_treadmill(state, name, flag, now, out)
    else:
        for name in running:
            state, _ = _on_treadmill(state, name, event, now, out)
    if not was_blocked and _blocks_incline(state.runner(runner).flags.effective(now)):
        reason = f"cancelled: {runner}'s red back-pain flag is on"
        out.extend(
            Routed(CancelIncline(name, reason), runner, name)
            for name in state.treadmills_of(runner)
        )
    return state


def _timer(state: HouseholdState, key: str, now: datetime, out: list[Routed]) -> HouseholdState:
    """A scheduled prompt went out (or a tick): forget the key, let time pass on every deck."""
    if key != "tick":
        for name, mine in state.runners:
            if key in mine.pending:
                pending = tuple(k for k in mine.pending if k != key)
                state = _put_runner(state, name, replace(mine, pending=pending))
    for name, _ in state.treadmills:
        state, _ = _on_treadmill(state, name, TimerFired("tick"), now, out)
    on_a_deck = {state.runner_on(name) for name, _ in state.treadmills}
    for name, mine in state.runners:
        if name in on_a_deck or mine.flags.back_pain is BackPain.NONE:
            continue
        # A runner on no treadmill: their flag still expires when its time comes.
        scratch = _attach(state, name, None, engine.initial_state(state.config.rules))
        after, actions = engine.evaluate(scratch, TimerFired("tick"), now)
        state = _put_runner(state, name, _detach(after)[0])
        _route(state, actions, name, None, now, out)
    return state


def needs_commit(routed: Sequence[Routed]) -> bool:
    """Whether these actions change what must survive a kill (runs, flags, schedules)."""
    durable = (RunStarted, RunEnded, SchedulePrompt, CancelScheduled, FlagsChanged)
    return any(isinstance(item.action, durable) for item in routed)


def checkin_run(state: HouseholdState, runner: str, run_id: str | None) -> str | None:
    """The run a check-in from `runner` is about (`run_id` if theirs, else their latest)."""
    return checkins.run_for_checkin(state.runner(runner).history, run_id)

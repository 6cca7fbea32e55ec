"""Pure. The rules engine: `evaluate(state, event, now) -> (state, actions)`.

It combines the run state machine (`session`), incline help (`incline`), the form cue
(`form`), post-run prompts (`recovery`) and check-in escalation (`checkins`). Each call first
lets time pass (an expired flag is dropped, a run that timed out ends), then handles the event.

Prompt ids are `"{run_id}:{kind}"` or `"{run_id}:{kind}:{n}"` and are issued at most once:
the state remembers the ids of the current and recent runs, and a prompt whose id was already
issued is not issued again, so a re-delivered prompt can always be de-duplicated downstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, assert_never

from treadwell.rules import catalogue, checkins, recovery, session, warmup
from treadwell.rules import form as form_rules
from treadwell.rules import incline as incline_rules
from treadwell.rules import stride as stride_rules
from treadwell.rules.actions import (
    Action,
    CancelScheduled,
    FlagsChanged,
    PublishPrompt,
    RunEnded,
    RunStarted,
    RunSummary,
    SetIncline,
)
from treadwell.rules.checkins import CheckinEntry
from treadwell.rules.events import (
    CheckinReceived,
    Earlier,
    Event,
    FlagSet,
    MachineStarted,
    MachineStopped,
    ReadingReceived,
    TimerFired,
    TreadmillConnected,
    TreadmillDisconnected,
)
from treadwell.rules.form import FormState
from treadwell.rules.incline import InclineState
from treadwell.rules.model import (
    BackPain,
    Flags,
    Prompt,
    PromptKind,
    Reading,
    RulesConfig,
    RulesInputError,
    Treadmill,
)
from treadwell.rules.session import Run, Session
from treadwell.rules.stride import StrideState
from treadwell.rules.warmup import WarmupState

if TYPE_CHECKING:
    from dataclasses import replace  # checked as the standard one
    from datetime import datetime
else:
    from treadwell.rules.evolve import replace  # the same results, faster

__all__ = ["EngineState", "evaluate", "initial_state"]


@dataclass(frozen=True, slots=True)
class EngineState:
    """Everything the engine remembers; round-trips through JSON (see `serialization`).

    Attributes:
        config: The thresholds (not persisted: supplied again on load).
        flags: The back-pain flag as set (see `Flags.effective` for what applies now).
        treadmill: The connected treadmill's incline capabilities, if any.
        session: The run state machine.
        incline: Incline help in the current run.
        form: Heart-rate baseline for the form cue.
        suggested_incline_pct: The incline currently recommended, or None.
        history: Recent finished runs and their check-ins.
        physio_suggested: A physical therapist was suggested in the current pain episode.
        last_run_id: The most recent finished run (check-ins belong to it).
        pending: Keys of scheduled prompts that have not fired yet.
        issued: Ids of prompts issued for the current and recent runs.
        stride: Overstriding in the current run (`stride`).
        warmup: The warm-up offered before a run, and the one the current run got (`warmup`).
        run_tag: Goes into the id of the next run (`session.run_id_for`): the household
            sets it so run ids are unique across treadmills and restarts.
    """

    config: RulesConfig
    flags: Flags = field(default_factory=Flags)
    treadmill: Treadmill | None = None
    session: Session = field(default_factory=Session)
    incline: InclineState = field(default_factory=InclineState)
    form: FormState = field(default_factory=FormState)
    suggested_incline_pct: float | None = None
    history: tuple[CheckinEntry, ...] = ()
    physio_suggested: bool = False
    last_run_id: str | None = None
    pending: tuple[str, ...] = ()
    issued: tuple[str, ...] = ()
    stride: StrideState = field(default_factory=StrideState)
    warmup: WarmupState = field(default_factory=WarmupState)
    run_tag: str = ""

    @property
    def run_id(self) -> str | None:
        """The current run's id, or None when no run is on."""
        return self.session.run_id

    @property
    def running(self) -> bool:
        """Is a run on (running or paused)?"""
        return self.session.run_id is not None


def initial_state(config: RulesConfig) -> EngineState:
    """A fresh engine: no flag, no treadmill, no runs."""
    return EngineState(config=config)


def evaluate(
    state: EngineState, event: Event, now: datetime
) -> tuple[EngineState, tuple[Action, ...]]:
    """Let time pass until `now` (timezone-aware UTC), then handle `event`.

    Raises:
        RulesInputError: `now` is naive.
    """
    if now.utcoffset() is None:
        raise RulesInputError(f"evaluate needs a timezone-aware now, got naive {now!r}")
    out: list[Action] = []
    state = _expire_flags(state, now, out)
    signal = session.timeout_signal(state.session, now, state.config)
    if signal is not None:
        state = _signal(state, signal, now, out)
    match event:
        case ReadingReceived(reading, earlier):
            state = _reading(state, reading, now, out, earlier)
        case MachineStopped(paused):
            state = _signal(
                state, session.Signal.PAUSE if paused else session.Signal.STOP, now, out
            )
        case MachineStarted():
            state = _signal(state, session.Signal.RESUME, now, out)
        case TreadmillConnected(treadmill):
            state = replace(state, treadmill=treadmill)
            state = replace(state, suggested_incline_pct=_suggestion(state, now))
            state = _warmup_on_connect(state, now, out)
        case TreadmillDisconnected():
            state = replace(state, treadmill=None)
        case FlagSet(back_pain, expires_at):
            state = _set_flags(state, Flags(back_pain, expires_at), now, out)
        case CheckinReceived():
            state = _checkin(state, event, now, out)
        case TimerFired(key):
            state = replace(state, pending=tuple(k for k in state.pending if k != key))
        case _:
            assert_never(event)
    return state, tuple(out)


# -- helpers -------------------------------------------------------------------------------


def _publish(state: EngineState, prompt: Prompt, out: list[Action]) -> EngineState:
    """Issue `prompt` unless its id was issued before."""
    if prompt.id in state.issued:
        return state
    out.append(PublishPrompt(prompt))
    return replace(state, issued=(*state.issued, prompt.id))


def _suggestion(state: EngineState, now: datetime) -> float | None:
    """The incline to show as recommended: only in a run, with an ache flag, not overridden."""
    if not state.running:
        return None
    return _suggested_in_run(state, state.flags.effective(now), state.incline)


def _suggested_in_run(state: EngineState, flag: BackPain, incline: InclineState) -> float | None:
    """`_suggestion` during a run, given the flag in effect and the incline help as it is now."""
    if flag is not BackPain.ACHE or incline.overridden:
        return None
    return incline_rules.target_incline(state.config, state.treadmill)


def _expire_flags(state: EngineState, now: datetime, out: list[Action]) -> EngineState:
    flags = state.flags
    if flags.back_pain is BackPain.NONE or flags.effective(now) is not BackPain.NONE:
        return state
    return _set_flags(state, Flags(), now, out)


def _set_flags(state: EngineState, flags: Flags, now: datetime, out: list[Action]) -> EngineState:
    state = replace(state, flags=flags)
    out.append(FlagsChanged(flags))
    if state.run_id is not None:
        state = _red_flag(
            state, flags.effective(now), state.run_id, now, out, n=1, from_checkin=False
        )
    return replace(state, suggested_incline_pct=_suggestion(state, now))


def _red_flag(
    state: EngineState, flag: BackPain, run_id: str | None, now: datetime, out: list[Action],
    *, n: int, from_checkin: bool,
) -> EngineState:  # fmt: skip
    """Publish the prompt for a red-flag level (stop, or get checked); nothing for others."""
    prompt = checkins.red_flag_prompt(flag, run_id, n, now, from_checkin=from_checkin)
    return state if prompt is None else _publish(state, prompt, out)


# -- runs ----------------------------------------------------------------------------------


def _reading(
    state: EngineState,
    reading: Reading,
    now: datetime,
    out: list[Action],
    earlier: Earlier | None,
) -> EngineState:
    # The common reading (a run goes on, nothing to say) changes several parts of the state:
    # they are carried as locals and put in with one copy of the state at the end.
    offer, prompt = warmup.on_reading(
        state.warmup, reading, running=state.running, flag=state.flags.effective(now),
        now=now, config=state.config,
    )  # fmt: skip
    if prompt is not None:
        state = _publish(replace(state, warmup=offer), prompt, out)
    moved = state.session
    if reading.speed_kmh is not None:
        signal = session.signal_for(moved, reading.speed_kmh, now, state.config)
        moved, change = session.advance(moved, signal, now, state.run_tag)
        if change is not session.Change.NONE:
            before = state.session
            state = _changed(replace(state, warmup=offer, session=moved), before, change, now, out)
            offer, moved = state.warmup, state.session
    recorded = session.record(moved, reading, now, state.config, earlier)
    run = recorded.run
    if run is None:
        return replace(state, warmup=offer, session=recorded)
    return _during_run(state, reading, run, now, out, offer, recorded)


def _signal(
    state: EngineState, signal: session.Signal, now: datetime, out: list[Action]
) -> EngineState:
    before = state.session
    after, change = session.advance(before, signal, now, state.run_tag)
    return _changed(replace(state, session=after), before, change, now, out)


def _changed(
    state: EngineState, before: Session, change: session.Change, now: datetime, out: list[Action]
) -> EngineState:
    """What a move of the run state machine (from `before` to `state.session`) sets off."""
    match change, state.session.run, before.run:
        case session.Change.STARTED, Run() as run, _:
            return _run_started(state, run, now, out)
        case session.Change.ENDED, _, Run() as run:
            return _run_ended(state, before, run, now, out)
        case _:
            return state


def _run_started(state: EngineState, run: Run, now: datetime, out: list[Action]) -> EngineState:
    run_id = run.run_id
    out.append(RunStarted(run_id, run.started_at))
    pending = state.pending
    if state.last_run_id is not None and recovery.hydration_key(state.last_run_id) in pending:
        # Running again: the last run's drink reminder is stale; this run brings its own.
        key = recovery.hydration_key(state.last_run_id)
        out.append(CancelScheduled(key))
        pending = tuple(k for k in pending if k != key)
    state = replace(
        state,
        pending=pending,
        # The interval between incline actions spans runs: a quick restart is no loophole.
        incline=InclineState(last_action_at=state.incline.last_action_at),
        form=FormState(),
        stride=StrideState(),
        issued=_recent_ids(state),
    )
    state = replace(state, suggested_incline_pct=_suggestion(state, now))
    flag = state.flags.effective(now)
    state = _red_flag(state, flag, run_id, now, out, n=1, from_checkin=False)
    offer, prompt = warmup.at_run_start(
        state.warmup, run_id, flag=flag, now=now, config=state.config
    )
    state = replace(state, warmup=offer)
    return state if prompt is None else _publish(state, prompt, out)


def _recent_ids(state: EngineState) -> tuple[str, ...]:
    """Issued ids worth remembering: those of runs still in the check-in history."""
    runs = {entry.run_id for entry in state.history}
    return tuple(i for i in state.issued if i.split(":", 1)[0] in runs)


def _during_run(  # noqa: PLR0917 - the reading, and the parts `_reading` carries
    state: EngineState,
    reading: Reading,
    run: Run,
    now: datetime,
    out: list[Action],
    offer: WarmupState,
    recorded: Session,
) -> EngineState:
    """A reading in a run: incline help, the form and stride cues; one copy of the state."""
    run_id, started_at, config = run.run_id, run.started_at, state.config
    flag = state.flags.effective(now)
    inc, decision = incline_rules.decide(
        state.incline,
        incline_pct=reading.incline_pct,
        flag=flag,
        run_started_at=started_at,
        now=now,
        config=config,
        treadmill=state.treadmill,
    )
    cue_state, reason = form_rules.decide(
        state.form,
        reading=reading,
        distance_m=run.stats.distance_m,
        run_started_at=started_at,
        now=now,
        config=config,
    )
    tracked, cue = stride_rules.decide(state.stride, reading, now, config)
    state = replace(
        state,
        warmup=offer,
        session=recorded,
        incline=inc,
        suggested_incline_pct=_suggested_in_run(state, flag, inc),
        form=cue_state,
        stride=tracked,
    )
    if decision is not None:
        if decision.set_it:
            out.append(SetIncline(decision.incline_pct, run_id))
        n = inc.suggestions
        prompt = recovery.make_prompt(
            f"{run_id}:{PromptKind.INCLINE}" + (f":{n}" if n > 1 else ""),
            PromptKind.INCLINE,
            catalogue.incline(decision.incline_pct, automated=decision.set_it),
            run_id,
            now,
            suggested_incline_pct=decision.incline_pct,
        )
        state = _publish(state, prompt, out)
    if cue is not None:
        text = catalogue.stride(cue.cadence_spm, cue.speed_kmh)
        prompt_id = f"{run_id}:{PromptKind.STRIDE}"
        state = _publish(
            state, recovery.make_prompt(prompt_id, PromptKind.STRIDE, text, run_id, now), out
        )
    if reason is None or flag is not BackPain.ACHE:
        return state
    text = catalogue.form_cue(heart_rate_drift=reason is form_rules.FormReason.HEART_RATE_DRIFT)
    prompt = recovery.make_prompt(f"{run_id}:{PromptKind.FORM}", PromptKind.FORM, text, run_id, now)
    return _publish(state, prompt, out)


def _summary(state: EngineState, before: Session, run: Run, now: datetime) -> RunSummary:
    ended_at = before.last_moving_at or now
    ids = tuple(i for i in state.issued if i.startswith(f"{run.run_id}:"))
    adopted = state.warmup.adopted_id
    if adopted is not None and adopted not in ids:
        ids = (adopted, *ids)
    return session.summarize(run, ended_at, ids)


def _run_ended(
    state: EngineState, before: Session, run: Run, now: datetime, out: list[Action]
) -> EngineState:
    summary = _summary(state, before, run, now)
    ended = RunEnded(summary)
    out.append(ended)
    config = state.config
    state = replace(
        state,
        last_run_id=summary.run_id,
        suggested_incline_pct=None,
        history=checkins.add_run(state.history, summary.run_id, config.escalate_window_runs),
    )
    runs = {entry.run_id for entry in state.history}
    pending = tuple(k for k in state.pending if k.split(":", 1)[0] in runs)
    prompts, scheduled = recovery.run_end_actions(
        summary, state.flags.effective(now), now, config,
        overstrided=stride_rules.persisted(state.stride, config),
    )  # fmt: skip
    for prompt in prompts:
        state = _publish(state, prompt, out)
    out.extend(scheduled)
    # The summary counts every prompt of the run: those after it and the scheduled ones too.
    later = tuple(p.id for p in prompts if p.id in state.issued) + tuple(a.key for a in scheduled)
    full = replace(summary, prompt_ids=(*summary.prompt_ids, *later))
    out[out.index(ended)] = RunEnded(full)
    state = replace(state, warmup=replace(state.warmup, adopted_id=None), stride=StrideState())
    return replace(state, pending=(*pending, *(action.key for action in scheduled)))


# -- check-ins -----------------------------------------------------------------------------


def _checkin(
    state: EngineState, event: CheckinReceived, now: datetime, out: list[Action]
) -> EngineState:
    run_id = checkins.run_for_checkin(state.history, event.run_id) or state.last_run_id
    if run_id is not None:
        key = recovery.checkin_key(run_id)
        if key in state.pending:
            out.append(CancelScheduled(key))
            state = replace(state, pending=tuple(k for k in state.pending if k != key))
    level = checkins.level(event.pain, event.kinds, state.config.severe_pain)
    if level is not None:
        if state.flags.effective(now) is not BackPain.RED:  # never lowered by a check-in
            state = _set_flags(state, Flags(level), now, out)
        state = _red_flag(state, level, run_id, now, out, n=2, from_checkin=True)
    most = checkins.most_serious(event.kinds)
    history = checkins.record_checkin(state.history, event.pain, most, run_id)
    state = replace(state, history=history)
    painful = checkins.painful_runs(history)
    if painful == 0:
        return replace(state, physio_suggested=False)
    config = state.config
    if state.physio_suggested or painful < config.escalate_painful_runs:
        return state
    # Painful runs exist, so the history is not empty: its newest run owns this prompt.
    owner = history[-1].run_id
    text = catalogue.see_physio(painful, len(history))
    prompt = recovery.make_prompt(
        f"{owner}:{PromptKind.SEE_PHYSIO}", PromptKind.SEE_PHYSIO, text, owner, now
    )
    return replace(_publish(state, prompt, out), physio_suggested=True)


# -- warm-up before the run and the stride cue (see `warmup` and `stride`) -----------------


def _warmup_on_connect(state: EngineState, now: datetime, out: list[Action]) -> EngineState:
    offer, prompt = warmup.on_connected(
        state.warmup, running=state.running, flag=state.flags.effective(now), now=now,
        config=state.config,
    )  # fmt: skip
    state = replace(state, warmup=offer)
    return state if prompt is None else _publish(state, prompt, out)

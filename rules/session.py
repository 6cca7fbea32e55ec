"""Pure. The run state machine: when a run starts, pauses, resumes and ends.

Theory (in the manner of h11): the session is always in exactly one `Phase`. Every input is
first reduced to one `Signal`, and the next phase is a lookup in `TRANSITIONS`; what happens
on the way (a run id, statistics, an end time) is computed beside the table, never hidden in
it. Inputs and their signals:

    reading at or above the run-start speed   MOVING (or HELD once it has lasted run_start_s)
    reading below it                          STILL
    reading without a speed                   no signal (nothing is known about the belt)
    treadmill status "paused"                 PAUSE
    treadmill status "stopped"                STOP
    treadmill status "started/resumed"        RESUME
    time passing (checked on every event)     TIMEOUT

    IDLE --MOVING--> STARTING --HELD--> RUNNING --PAUSE--> PAUSED
                        |  ^               |  ^              |
                      STILL|             STILL MOVING,      MOVING, RESUME
                        v  |            (kept) RESUME  <-----+
                       IDLE              STOP / TIMEOUT ---> IDLE (the run ends)

A RUNNING session survives the belt standing still (or the treadmill going silent) for less
than `stop_timeout_s`; a pause the treadmill reports is kept for `pause_tolerance_s`. The end
time of a run is the last moment the belt was moving, not the moment the timeout was noticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from treadwell.rules.actions import RunSummary

if TYPE_CHECKING:
    from dataclasses import replace  # checked as the standard one

    from treadwell.rules.events import Earlier
    from treadwell.rules.model import Reading, RulesConfig
else:
    from treadwell.rules.evolve import replace  # the same results, faster

__all__ = [
    "TRANSITIONS",
    "Change",
    "Phase",
    "Run",
    "RunStats",
    "Session",
    "Signal",
    "advance",
    "record",
    "run_id_for",
    "signal_for",
    "summarize",
    "timeout_signal",
]

# Gaps between readings longer than this do not count as time at a speed or incline.
MAX_SAMPLE_GAP_S = 10.0


class Phase(StrEnum):
    """Where the session is."""

    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"


class Signal(StrEnum):
    """One input, reduced to what the state machine cares about."""

    MOVING = "moving"
    HELD = "held"
    STILL = "still"
    PAUSE = "pause"
    STOP = "stop"
    RESUME = "resume"
    TIMEOUT = "timeout"


class Change(StrEnum):
    """What a transition meant for the run."""

    NONE = "none"
    STARTED = "started"
    ENDED = "ended"


_EXPLICIT: dict[tuple[Phase, Signal], Phase] = {
    (Phase.IDLE, Signal.MOVING): Phase.STARTING,
    (Phase.IDLE, Signal.HELD): Phase.STARTING,
    (Phase.STARTING, Signal.HELD): Phase.RUNNING,
    (Phase.STARTING, Signal.STILL): Phase.IDLE,
    (Phase.STARTING, Signal.PAUSE): Phase.IDLE,
    (Phase.STARTING, Signal.STOP): Phase.IDLE,
    (Phase.STARTING, Signal.TIMEOUT): Phase.IDLE,
    (Phase.RUNNING, Signal.PAUSE): Phase.PAUSED,
    (Phase.RUNNING, Signal.STOP): Phase.IDLE,
    (Phase.RUNNING, Signal.TIMEOUT): Phase.IDLE,
    (Phase.PAUSED, Signal.MOVING): Phase.RUNNING,
    (Phase.PAUSED, Signal.HELD): Phase.RUNNING,
    (Phase.PAUSED, Signal.RESUME): Phase.RUNNING,
    (Phase.PAUSED, Signal.STOP): Phase.IDLE,
    (Phase.PAUSED, Signal.TIMEOUT): Phase.IDLE,
}
# Every other (phase, signal) pair keeps the phase: the table is total, nothing is an error.
TRANSITIONS: dict[tuple[Phase, Signal], Phase] = {
    (phase, signal): _EXPLICIT.get((phase, signal), phase) for phase in Phase for signal in Signal
}


@dataclass(frozen=True, slots=True)
class RunStats:
    """Running totals for the current run.

    `stopped_s` adds up the spells the belt was known to stand still (a reading below the
    run-start speed, or a pause the treadmill reported, until the next moving reading);
    `still_since` is when the current spell began. Sampling gaps do not count as stopped.
    """

    distance_m: float = 0.0
    moving_s: float = 0.0
    in_window_s: float = 0.0
    hr_sum: int = 0
    hr_count: int = 0
    hr_max: int | None = None
    last_speed_kmh: float | None = None
    last_incline_pct: float | None = None
    last_total_distance_m: float | None = None
    stopped_s: float = 0.0
    still_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """The run in progress: its id, when it started, and its totals so far."""

    run_id: str
    started_at: datetime
    last_reading_at: datetime
    stats: RunStats = field(default_factory=RunStats)


@dataclass(frozen=True, slots=True)
class Session:
    """The run state machine's state.

    `since` is when the current phase's clock started: the belt starting to move (STARTING)
    or the pause being reported (PAUSED). `last_moving_at` is the last moving reading.
    `run` is set exactly while the phase is RUNNING or PAUSED.
    """

    phase: Phase = Phase.IDLE
    since: datetime | None = None
    last_moving_at: datetime | None = None
    run: Run | None = None

    @property
    def run_id(self) -> str | None:
        """The id of the run in progress, or None."""
        return None if self.run is None else self.run.run_id


def run_id_for(started_at: datetime, tag: str = "") -> str:
    """The run id for a run that started at `started_at`: deterministic, readable, sortable.

    `tag` (the treadmill and its run counter, given by the household) makes ids unique across
    treadmills whose runs start in the same second, and across restarts.
    """
    stamp = "run-" + started_at.strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{tag}" if tag else stamp


def signal_for(session: Session, speed_kmh: float, now: datetime, config: RulesConfig) -> Signal:
    """Reduce a reading's belt speed to a signal."""
    if speed_kmh < config.run_start_speed_kmh:
        return Signal.STILL
    since = (session.since or now) if session.phase is Phase.STARTING else now
    if now - since >= timedelta(seconds=config.run_start_s):
        return Signal.HELD
    return Signal.MOVING


def timeout_signal(session: Session, now: datetime, config: RulesConfig) -> Signal | None:
    """TIMEOUT when the current phase has lasted too long at `now`, else None."""
    match session.phase:
        case Phase.RUNNING | Phase.STARTING:
            last, limit = session.last_moving_at, config.stop_timeout_s
        case Phase.PAUSED:
            last, limit = session.since, config.pause_tolerance_s
        case _:
            return None
    return Signal.TIMEOUT if now - (last or now) >= timedelta(seconds=limit) else None


def advance(
    session: Session, signal: Signal, now: datetime, tag: str = ""
) -> tuple[Session, Change]:
    """Apply one signal at `now`; return the new session and what it meant for the run.

    `tag` goes into the id of a run that starts (see `run_id_for`).
    """
    target = TRANSITIONS[session.phase, signal]
    moving = signal in {Signal.MOVING, Signal.HELD}
    if target is Phase.IDLE:
        change = Change.ENDED if session.phase in {Phase.RUNNING, Phase.PAUSED} else Change.NONE
        return Session(), change
    if target is Phase.STARTING:
        since = session.since if session.phase is Phase.STARTING else now
        return replace(session, phase=target, since=since, last_moving_at=now), Change.NONE
    if target is Phase.PAUSED:
        since = session.since if session.phase is Phase.PAUSED else now
        run = session.run
        if run is not None and run.stats.still_since is None:
            run = replace(run, stats=replace(run.stats, still_since=now))
        return replace(session, phase=target, since=since, run=run), Change.NONE
    # RUNNING
    if session.phase is Phase.STARTING:
        start = session.since or now
        # The belt has been moving since `start`: that time is the run's too.
        lead = RunStats(moving_s=(now - start).total_seconds())
        run = Run(run_id_for(start, tag), start, last_reading_at=now, stats=lead)
        return Session(Phase.RUNNING, last_moving_at=now, run=run), Change.STARTED
    last_moving = now if moving or signal is Signal.RESUME else session.last_moving_at
    return replace(session, phase=target, since=None, last_moving_at=last_moving), Change.NONE


def record(
    session: Session,
    reading: Reading,
    now: datetime,
    config: RulesConfig,
    earlier: Earlier | None = None,
) -> Session:
    """Fold a reading into the run's statistics (only while a run is on).

    `earlier`: readings before it that it closes (`events.ReadingReceived`). They differ from
    it only in the odometer and heart rate, so only the per-reading heart-rate sums need them.
    """
    run = session.run
    if run is None:
        return session
    stats = run.stats
    gap = (now - run.last_reading_at).total_seconds()
    dt = min(max(gap, 0.0), MAX_SAMPLE_GAP_S)
    distance = stats.distance_m + _distance_delta(stats, reading, dt)
    moving = stats.last_speed_kmh is not None and stats.last_speed_kmh >= config.run_start_speed_kmh
    last_incline = stats.last_incline_pct
    in_window = last_incline is not None and (
        config.incline_window_min_pct <= last_incline <= config.incline_window_max_pct
    )
    # Time in the window counts only while moving: standing on the rails is not running uphill.
    moving_s = stats.moving_s + (dt if moving else 0.0)
    in_window_s = stats.in_window_s + (dt if moving and in_window else 0.0)
    hr = reading.heart_rate_bpm
    hr_sum, hr_count, hr_max = _heart_rates(stats, hr, earlier)
    stopped_s, still_since = _stillness(stats, reading.speed_kmh, now, config)
    stats = RunStats(
        distance_m=distance,
        moving_s=moving_s,
        in_window_s=in_window_s,
        hr_sum=hr_sum,
        hr_count=hr_count,
        hr_max=hr_max,
        last_speed_kmh=_or(reading.speed_kmh, stats.last_speed_kmh),
        last_incline_pct=_or(reading.incline_pct, last_incline),
        last_total_distance_m=_or(reading.total_distance_m, stats.last_total_distance_m),
        stopped_s=stopped_s,
        still_since=still_since,
    )
    return replace(session, run=replace(run, stats=stats, last_reading_at=now))


def _heart_rates(
    stats: RunStats, hr: int | None, earlier: Earlier | None
) -> tuple[int, int, int | None]:
    """The heart-rate sum, count and maximum with this reading and those it closes."""
    total, count, most = stats.hr_sum, stats.hr_count, stats.hr_max
    if hr is not None:
        total, count, most = total + hr, count + 1, max(hr, most or hr)
    if earlier is not None and (before := earlier.heart_rate_bpm) is not None:
        n = earlier.count
        total, count, most = total + before * n, count + n, max(before, most or before)
    return total, count, most


def _stillness(
    stats: RunStats, speed_kmh: float | None, now: datetime, config: RulesConfig
) -> tuple[float, datetime | None]:
    """Stopped time so far and the start of the current still spell, after this reading."""
    if speed_kmh is None:
        return stats.stopped_s, stats.still_since
    if speed_kmh < config.run_start_speed_kmh:
        return stats.stopped_s, stats.still_since or now
    if stats.still_since is None:
        return stats.stopped_s, None
    return stats.stopped_s + (now - stats.still_since).total_seconds(), None


def _or(value: float | None, fallback: float | None) -> float | None:
    return fallback if value is None else value


def _distance_delta(stats: RunStats, reading: Reading, dt: float) -> float:
    """Distance since the previous reading: the treadmill's odometer if it has one, else speed.

    A total that goes backwards is a counter reset (a new workout on the console): no distance.
    """
    total, previous = reading.total_distance_m, stats.last_total_distance_m
    if total is not None and previous is not None:
        return max(total - previous, 0.0)
    if total is None and stats.last_speed_kmh is not None:
        return stats.last_speed_kmh * dt / 3.6
    return 0.0


def summarize(run: Run, ended_at: datetime, prompt_ids: tuple[str, ...]) -> RunSummary:
    """The summary of a finished run, as the runner saw it.

    `duration_s` is the run from its start to the last moving moment (`ended_at`) without the
    spells the belt stood still (pauses, standing on the rails), like a console's clock; the
    average speed is over that time. `moving_s` is the time sampled at running speed. Figures
    are rounded to what a display shows: seconds and metres to 0.1, speed to 0.01 km/h,
    heart rate to 0.1 bpm.
    """
    stats = run.stats
    ended_at = max(ended_at, run.started_at)
    span = (ended_at - run.started_at).total_seconds()
    duration = max(span - stats.stopped_s, 0.0)
    speed = stats.distance_m / 1000 / (duration / 3600) if duration > 0 else None
    hr = stats.hr_sum / stats.hr_count if stats.hr_count else None
    return RunSummary(
        run_id=run.run_id,
        started_at=run.started_at,
        ended_at=ended_at,
        duration_s=round(duration, 1),
        moving_s=round(min(stats.moving_s, span), 1),
        distance_m=round(stats.distance_m, 1),
        average_speed_kmh=None if speed is None else round(speed, 2),
        incline_time_in_window_s=round(stats.in_window_s, 1),
        average_hr_bpm=None if hr is None else round(hr, 1),
        max_hr_bpm=stats.hr_max,
        prompt_ids=prompt_ids,
    )

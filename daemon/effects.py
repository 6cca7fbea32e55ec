"""I/O. The rules' actions carried out: prompts, schedules, run records, retained topics, inclines.

Nothing here decides: every action comes from the household's rules already checked (an
incline within its limits, a refusal with its reason). Two steps per event:

1. `publish_prompts`: prompts go to the outbox at once (the short path a runner waits on);
2. `settle` (`write`, then `carry_out`): everything else. The run records, the household
   state and the prompts to schedule are written in ONE transaction (`Store.commit`), so a
   kill at any instant leaves a run either open or finished, never both, and never loses a
   scheduled prompt: the scheduler gets the prompts after the commit, and the store forgets
   them once it has them. Between the two the daemon lets the broker take the prompts, so the
   slower writes of `carry_out` never hold a prompt's handshake.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, assert_never

from treadwell.daemon import messages, topics
from treadwell.daemon.store import Commit, Intent, RunFinish, RunStart, StateStoreError
from treadwell.rules.actions import (
    CancelScheduled,
    FlagsChanged,
    PublishPrompt,
    RunEnded,
    RunStarted,
    SchedulePrompt,
    SetIncline,
)
from treadwell.rules.household import CancelIncline, InclineRefused, Routed, RunnerChanged

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from treadwell.daemon.autoexport import AutoExporter
    from treadwell.daemon.channel import TreadmillChannel
    from treadwell.daemon.clock import Clock
    from treadwell.daemon.ha_totals import TotalsPublisher
    from treadwell.daemon.inclines import InclineProcedures
    from treadwell.daemon.mqtt import MqttBridge
    from treadwell.daemon.samples import SampleRecorder
    from treadwell.daemon.scheduler import PromptScheduler
    from treadwell.daemon.store import Store
    from treadwell.rules.model import Prompt

_LOGGER = logging.getLogger(__name__)

KEY_SEPARATOR = "|"
"""Between the runner and the rules' key in a scheduler job's key."""


def runner_topic(base: str, runner: str, leaf: str) -> str:
    """`{base}/runners/<runner>/<leaf>`."""
    return topics.runner(base, runner, leaf)


class Effects:
    """Carries out routed actions (see the module docstring)."""

    def __init__(
        self,
        *,
        base: str,
        default_runner: str,
        bridge: MqttBridge,
        scheduler: PromptScheduler,
        store: Store,
        inclines: InclineProcedures,
        channels: dict[str, TreadmillChannel],
        clock: Clock,
        publish_state: Callable[[str], None],
        samples: SampleRecorder,
        exporter: AutoExporter,
        totals: TotalsPublisher,
    ) -> None:
        self._samples = samples
        self._exporter = exporter
        self._totals = totals
        self._base = base
        self._default = default_runner
        self._bridge = bridge
        self._scheduler = scheduler
        self._store = store
        self._inclines = inclines
        self._channels = channels
        self._clock = clock
        self._publish_state = publish_state
        self.store_failures = 0
        """Commits the store refused in a row (the daemon is unhealthy past a few)."""

    # -- step 1 ----------------------------------------------------------------------------

    def publish_prompts(self, routed: Sequence[Routed]) -> None:
        """Hand every prompt among `routed` to the outbox, in order."""
        for item in routed:
            if isinstance(item.action, PublishPrompt):
                self.publish_prompt(item.action.prompt)

    def publish_prompt(self, prompt: Prompt) -> None:
        """One prompt to `{base}/prompt` and to its runner's own prompt topic."""
        _LOGGER.info(
            "prompt %s (%s) for %s: %s", prompt.id, prompt.kind, prompt.runner, prompt.title
        )
        self.publish_prompt_bytes(prompt.id, prompt.runner, messages.prompt_payload_from(prompt))

    def publish_prompt_bytes(self, prompt_id: str, runner: str | None, payload: bytes) -> None:
        """A prompt already encoded (a scheduled one coming due)."""
        self._bridge.publish_prompt(prompt_id, payload)
        if runner is not None:
            topic = runner_topic(self._base, runner, "prompt")
            self._bridge.publish_prompt(f"{prompt_id}@{runner}", payload, topic=topic)

    # -- step 2 ----------------------------------------------------------------------------

    def settle(self, routed: Sequence[Routed], state_json: str | None) -> None:
        """Write the event's records and state in one transaction, then act on the rest."""
        self.carry_out(routed, self.write(routed, state_json))

    def write(self, routed: Sequence[Routed], state_json: str | None) -> Commit:
        """Step 2a: the event's records, state and prompts to schedule, in one transaction.

        Returns what was written, for `carry_out`.
        """
        commit = _commit_for(routed, state_json, self._clock)
        if commit.starts or commit.finishes or commit.intents or commit.state is not None:
            try:
                self._store.commit(commit)
            except StateStoreError as exc:
                self.store_failures += 1
                _LOGGER.error("state: not saved: %s", exc)  # noqa: TRY400
            else:
                self.store_failures = 0
        return commit

    def carry_out(self, routed: Sequence[Routed], written: Commit) -> None:
        """Step 2b: the scheduler takes the written prompts; every other action is done.

        The scheduler's own database and a run's end (its samples, its export, the totals)
        write to disk too: the daemon calls this once the broker has the event's prompts.
        """
        self.hand_over(written.intents)
        for item in routed:
            self._act(item)

    def hand_over(self, intents: Sequence[Intent]) -> None:
        """Give written prompts to the scheduler, then let the store forget them."""
        if not intents:
            return
        for intent in intents:
            self._scheduler.schedule(intent.key, intent.at, intent.payload)
        try:
            self._store.drop_intents([intent.key for intent in intents])
        except StateStoreError as exc:
            # They are scheduled; the next start schedules them again (same keys: replaced).
            _LOGGER.warning("state: scheduled prompts not yet forgotten: %s", exc)

    def _act(self, item: Routed) -> None:
        action, runner = item.action, item.runner or self._default
        match action:
            case RunStarted(run_id):
                _LOGGER.info("%s: run %s started, %s's", item.treadmill, run_id, runner)
                self._run_recorded(item.treadmill, run_id)
            case PublishPrompt() | SchedulePrompt():
                pass  # published in step 1, or written by the commit
            case SetIncline():
                channel = self._channels.get(action.treadmill)
                if channel is not None:
                    self._inclines.start(channel, action)
            case InclineRefused(treadmill, incline_pct, reason, source):
                _LOGGER.warning("%s: %s incline %.1f%% %s", treadmill, source, incline_pct, reason)
                if source == "dashboard":
                    self._bridge.report_error(topics.incline_set(self._base, treadmill), reason)
            case CancelIncline(treadmill, reason):
                self._inclines.cancel(treadmill, reason)
            case CancelScheduled(key):
                self._scheduler.cancel(f"{runner}{KEY_SEPARATOR}{key}")
            case RunEnded(summary):
                _LOGGER.info(
                    "%s: %s's run %s ended: %.0f m in %.0f s",
                    summary.treadmill,
                    runner,
                    summary.run_id,
                    summary.distance_m,
                    summary.duration_s,
                )
                self._run_over(summary.treadmill, runner)
                payload = messages.run_payload_from(summary, treadmill=summary.treadmill)
                self._bridge.publish_retained(topics.run(self._base), payload)
                self._bridge.publish_retained(runner_topic(self._base, runner, "run"), payload)
            case FlagsChanged(flags):
                self.publish_flags(runner, flags.back_pain.value, flags.expires_at)
            case RunnerChanged(treadmill, _):
                self._publish_state(treadmill)
            case _:
                assert_never(action)

    def _run_recorded(self, treadmill: str | None, run_id: str) -> None:
        """The run is in the history: its samples go under its stored id."""
        channel = self._channels.get(treadmill or "")
        if channel is None:
            return
        try:
            record = self._store.run_by_key(run_id)
        except StateStoreError as exc:
            _LOGGER.error("state: run %s not found: %s", run_id, exc)  # noqa: TRY400
            record = None
        channel.store_run = None if record is None else record.id

    def _run_over(self, treadmill: str | None, runner: str) -> None:
        """The run ended: its last samples are written, its export queued, totals refreshed."""
        channel = self._channels.get(treadmill or "")
        if channel is None or channel.store_run is None:
            return
        self._samples.finish(channel.store_run)
        self._exporter.on_run_end(channel.store_run, runner)
        self._totals.refresh()
        channel.store_run = None

    def publish_flags(self, runner: str, back_pain: str, expires_at: object) -> None:
        """A runner's flag, retained, on their topic (and on `{base}/flags` for the default)."""
        from datetime import datetime  # noqa: PLC0415

        expiry = expires_at if isinstance(expires_at, datetime) else None
        try:
            self._store.save_flags(back_pain, expiry, runner=runner)
        except StateStoreError as exc:
            _LOGGER.error("state: %s's flag not stored: %s", runner, exc)  # noqa: TRY400
        payload = messages.flags_payload(back_pain=back_pain, expires_at=expiry, runner=runner)
        self._bridge.publish_retained(runner_topic(self._base, runner, "flags"), payload)
        if runner == self._default:
            self._bridge.publish_retained(topics.flags(self._base), payload)


def _commit_for(routed: Sequence[Routed], state_json: str | None, clock: Clock) -> Commit:
    starts: list[RunStart] = []
    finishes: list[RunFinish] = []
    intents: list[Intent] = []
    for item in routed:
        match item.action:
            case RunStarted(run_id, started_at):
                starts.append(RunStart(run_id, item.runner or "", item.treadmill or "", started_at))
            case RunEnded(summary):
                # The run's own end, on the same clock as its start (fast under a speed-up).
                finishes.append(RunFinish(summary.run_id, summary, summary.ended_at))
            case SchedulePrompt(key, at, prompt):
                payload = messages.prompt_payload_from(prompt).decode()
                job = f"{item.runner}{KEY_SEPARATOR}{key}"
                intents.append(Intent(job, clock.to_wall(at), payload))
            case _:
                pass
    return Commit(state_json, tuple(starts), tuple(finishes), tuple(intents))

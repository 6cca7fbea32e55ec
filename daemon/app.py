"""I/O. The composition root: BLE links -> the household's rules -> MQTT, scheduler and SQLite.

Theory: every input (a link event, an MQTT command, a scheduled prompt coming due, a tick, an
incline procedure's outcome) goes into one ordered stream (`daemon/dispatch.py`: a queue and
one task; a reading with nothing before it is decided at once, in its notification's
callback) and is decided, one at a time, by `_decide`, the only code that touches the
household's state: the rules see a single, ordered stream, exactly as their tests do. On a
steady run most readings repeat the last; `daemon/repeats.py` holds such a repeat back for
under a second and hands the latest to the rules, closing the others, before anything else.
Deciding an input means: turn it into an order (`daemon/inputs.py` for link events,
`_order_for` for commands), call the household's pure `evaluate`, and carry out what comes
back (`daemon/effects.py`): prompts first, then one transaction for records, state and
schedules, then the rest (inclines run in their own tasks, `daemon/inclines.py`, and report
back through the queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from treadwell.daemon import messages, topics
from treadwell.daemon.autoexport import AutoExporter
from treadwell.daemon.channel import TreadmillChannel
from treadwell.daemon.clock import Clock
from treadwell.daemon.devices import build_links, discovery_messages
from treadwell.daemon.diagnostics import Diagnostics
from treadwell.daemon.dispatch import Dispatch, Rest
from treadwell.daemon.effects import KEY_SEPARATOR, Effects
from treadwell.daemon.ha_totals import TotalsPublisher
from treadwell.daemon.household import household_json, load_household
from treadwell.daemon.inclines import InclineDone, InclineProcedures
from treadwell.daemon.inputs import LinkInputs
from treadwell.daemon.mqtt import BridgeSettings, MqttBridge
from treadwell.daemon.orders import order_for
from treadwell.daemon.outbox import Outbox
from treadwell.daemon.repeats import Repeats
from treadwell.daemon.samples import SampleRecorder
from treadwell.daemon.scheduler import PromptScheduler
from treadwell.daemon.store import StateStoreError, Store
from treadwell.drivers.events import LinkConnected, LinkEvent, TreadmillReading
from treadwell.rules import household
from treadwell.rules.actions import PublishPrompt, RunEnded, RunStarted
from treadwell.rules.events import ReadingReceived, TimerFired
from treadwell.rules.repeats import hold_window

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from treadwell.daemon.config import Settings
    from treadwell.daemon.store import Commit
    from treadwell.drivers.backend import BleBackend
    from treadwell.rules.household import Routed

_LOGGER = logging.getLogger(__name__)

_TICK_S = 5.0
_SAVE_EVERY_S = 10.0
_READY_WAIT_S = 5.0
_STALL_S = 30.0  # the dispatcher's heartbeat older than this (real seconds): unhealthy
_PROMPT_HANDOVER_S = 0.5  # the most the bookkeeping waits for the broker to take prompts
_STORE_FAILURES = 3  # commits refused in a row: unhealthy


@dataclass(frozen=True, slots=True)
class _Due:
    """A scheduled prompt came due (its runner-qualified key)."""

    key: str


@dataclass(frozen=True, slots=True)
class _Tick:
    """Time passed: lets the rules end runs on a treadmill that went silent."""


_Input = LinkEvent | messages.Command | _Due | _Tick | InclineDone
# One decision of an input: an order and when it is decided, or a command whose order is
# made when its turn comes.
_Step = tuple[household.Order, "datetime"] | messages.Command


class Daemon:
    """The running Treadwell service (see the module docstring).

    Args:
        settings: The validated configuration.
        backend: The bleak backend classes (real adapter or the virtual world).
        clock: Where `now` comes from (sped up in the demo).
        on_ready: Called once MQTT is up (or has had its first chance) and the links started.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backend: BleBackend,
        clock: Clock | None = None,
        on_ready: Callable[[], object] | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock or Clock()
        self._on_ready = on_ready
        self._base = settings.mqtt.base_topic
        self._dirty = False
        self._dispatcher: asyncio.Task[None] | None = None
        state_dir = settings.state_dir
        self._store = Store.in_dir(state_dir)
        self._outbox = Outbox(state_dir / "treadwell.sqlite")
        self._scheduler = PromptScheduler(
            state_dir / "jobs.sqlite",
            self._on_due,
            misfire_grace_s=settings.rules.prompt_grace_s,
            name=settings.mqtt.client_id,
        )
        self.house = load_household(settings, self._store, self._clock.now())
        wiring = build_links(settings, backend, self._take)
        self._links = wiring.links
        self._channels: dict[str, TreadmillChannel] = wiring.channels
        runners = tuple(name for name, _ in self.house.runners)
        self._bridge = MqttBridge(
            BridgeSettings.from_config(
                settings.mqtt, devices=tuple(self._channels), runners=runners
            ),
            outbox=self._outbox,
            on_command=self._put,
            on_ha_online=self._publish_all_state,
            discovery=lambda: discovery_messages(settings, self._channels, runners),
        )
        self._now = self._clock.now
        self._repeats = Repeats()
        self._inputs_in_order: Dispatch[_Input] = Dispatch(
            self._decide,
            at_once=TreadmillReading,
            sender=self._bridge,
            handover_s=_PROMPT_HANDOVER_S,
        )
        # Per-second samples, automatic exports and totals (daemon/samples.py, autoexport.py).
        self._samples = SampleRecorder.in_dir(
            state_dir, commit_every_s=settings.storage.commit_every_s
        )
        self._totals = TotalsPublisher(
            state_dir, base=self._base, publish=self._bridge.publish_retained, runners=runners
        )
        self._exporter = AutoExporter(
            state_dir, settings.export, settings.storage, on_written=self._totals.refresh
        )
        self._diagnostics = Diagnostics(state_dir, base=self._base, bridge=self._bridge)
        self._inclines = InclineProcedures(self._put)
        self._inputs = LinkInputs(
            channels=self._channels,
            strap_runners=wiring.strap_runners,
            strap_pairs=wiring.strap_pairs,
            runner_on=self._runner_on,
            availability=lambda slug, up: self._bridge.set_device_availability(slug, online=up),
            now=self._clock.now,
        )
        self._effects = Effects(
            base=self._base,
            default_runner=self.house.config.default_runner,
            bridge=self._bridge,
            scheduler=self._scheduler,
            store=self._store,
            inclines=self._inclines,
            channels=self._channels,
            clock=self._clock,
            publish_state=self._publish_state,
            samples=self._samples,
            exporter=self._exporter,
            totals=self._totals,
        )

    @property
    def bridge(self) -> MqttBridge:
        """The MQTT bridge (for status in tests and the demo)."""
        return self._bridge

    @property
    def channels(self) -> dict[str, TreadmillChannel]:
        """The treadmills by slug."""
        return self._channels

    @property
    def healthy(self) -> bool:
        """False once the dispatcher died, stalled, or the store keeps refusing to save."""
        task = self._dispatcher
        if task is not None and task.done():
            return False
        if self._effects.store_failures >= _STORE_FAILURES:
            return False
        beat = self._inputs_in_order.heartbeat
        if beat is None:
            return True
        return asyncio.get_running_loop().time() - beat < _STALL_S

    # -- running ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; then close everything cleanly."""
        self._scheduler.start()
        self._reschedule_written()
        self._reattach_runs()
        try:
            async with asyncio.TaskGroup() as group:
                bridge = group.create_task(self._bridge.run(stop))
                workers = [group.create_task(link.run()) for link in self._links]
                self._dispatcher = group.create_task(self._inputs_in_order.run())
                workers += [self._dispatcher, group.create_task(self._ticker())]
                workers.append(group.create_task(self._exporter.run()))
                workers.append(group.create_task(self._totals.run()))
                self._publish_all_state()
                await self._wait_ready(stop)
                await stop.wait()
                self._inclines.cancel_all()
                for task in workers:
                    task.cancel()
                await bridge
        finally:
            self._save()
            self._samples.close()
            self._exporter.close()
            self._scheduler.shutdown()
            self._outbox.close()
            self._store.close()
            gc.unfreeze()  # another daemon in this process (a test's) starts afresh

    def _reattach_runs(self) -> None:
        """Runs a restart finds in progress keep recording samples under their stored id."""
        for slug, channel in self._channels.items():
            run_id = self.house.slot(slug).engine.run_id
            if run_id is None:
                continue
            try:
                record = self._store.run_by_key(run_id)
            except StateStoreError:
                continue
            channel.store_run = None if record is None else record.id

    def _reschedule_written(self) -> None:
        """Prompts a kill left written but not yet handed to the scheduler."""
        try:
            intents = self._store.intents()
        except StateStoreError as exc:
            _LOGGER.error("state: cannot read the prompts to schedule: %s", exc)  # noqa: TRY400
            return
        self._effects.hand_over(intents)

    async def _wait_ready(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_READY_WAIT_S):
                await self._bridge.wait_connected()
        if not self._bridge.connected:
            _LOGGER.warning("MQTT: not connected yet; carrying on and retrying in the background")
        _settle_heap()
        if self._on_ready is not None and not stop.is_set():
            self._on_ready()

    def _take(self, item: LinkEvent) -> None:
        """An input from a link (a reading may be decided at once: daemon/dispatch.py)."""
        self._inputs_in_order.take(item)

    def _put(self, item: _Input) -> None:
        """An input for the dispatcher's queue."""
        self._inputs_in_order.put(item)

    async def _ticker(self) -> None:
        interval = max(0.2, min(_TICK_S, self._clock.seconds(_TICK_S)))
        since_save = 0.0
        while True:
            await asyncio.sleep(interval)
            self._put(_Tick())
            since_save += interval
            if since_save >= _SAVE_EVERY_S and self._dirty:
                since_save = 0.0
                self._save()

    def _decide(self, item: _Input) -> Rest | None:
        """Decide `item` and carry it out; what is left once the broker has the prompts, if any.

        Prompts a decision publishes go out before anything else of it (see `_evaluate`):
        what is returned is to be called after `MqttBridge.prompts_handed_over`. Readings the
        rules need not see one by one are held back (`daemon/repeats.py`); whatever else
        reaches the rules is decided after the held ones.
        """
        republish: str | None = None
        todo: list[_Step]
        match item:
            case TreadmillReading(device, _):
                reading_order, reading = self._inputs.reading_order(item)
                republish = device
                todo = list(self._repeats.on_reading(reading_order, reading, self._now()))
            case _Tick():
                todo = [*self._repeats.flush(), (TimerFired("tick"), self._now())]
            case _Due(key):
                due = TimerFired(key.partition(KEY_SEPARATOR)[2])
                todo = [*self._repeats.flush(), (due, self._now())]
            case InclineDone():
                self._incline_done(item)
                return None
            case (
                messages.FlagsSetCommand()
                | messages.CheckinCommand()
                | messages.InclineSetCommand()
                | messages.RunnerSelectCommand()
            ):
                # Its order reads the household: made once the held readings are decided.
                todo = [*self._repeats.flush(), item]
            case _:
                order, republish = self._inputs.order_for(item)
                todo = [] if order is None else [*self._repeats.flush(), (order, self._now())]
        return self._work_through(todo, item, republish)

    def _work_through(self, todo: list[_Step], item: _Input, republish: str | None) -> Rest | None:
        """Decide each step in turn; once one must wait for the broker, the rest is its rest.

        A step that fails is logged and the next one is taken: a held reading that cannot
        be decided must not cost the command or tick behind it.
        """
        for index, step in enumerate(todo):
            try:
                if isinstance(step, tuple):
                    order, at = step
                else:
                    order, at = self._order_for(step), self._now()
                rest = self._evaluate(order, at)
            except Exception:
                _LOGGER.exception("daemon: failed to handle %r", step)
                continue
            if rest is not None:
                return functools.partial(self._then, rest, todo[index + 1 :], item, republish)
        self._after_input(item, republish)
        return None

    def _then(
        self, rest: Callable[[], None], todo: list[_Step], item: _Input, republish: str | None
    ) -> Rest | None:
        try:
            rest()
        except Exception:
            _LOGGER.exception("daemon: failed to finish handling %r", item)
        return self._work_through(todo, item, republish)

    def _after_input(self, item: _Input, republish: str | None) -> None:
        if (
            isinstance(item, LinkConnected)
            and item.info is not None
            and item.device in self._channels
        ):
            self._diagnostics.on_connect(item.device, item.info, self._channels[item.device].link)
        if republish is not None:
            self._publish_state(republish)
        # Bookkeeping (the per-second samples) after the state is on its way.
        self._inputs.record(item, self._samples)

    def _evaluate(self, order: household.Order, now: datetime) -> Callable[[], None] | None:
        """Decide `order` at `now`; what is left to do once the broker has the prompts, if any."""
        before = self.house
        self.house, routed = household.evaluate(self.house, order, now)
        if self.house is not before:
            self._dirty = True
        if isinstance(order, household.TreadmillEvent) and isinstance(order.event, ReadingReceived):
            slug, reading = order.treadmill, order.event.reading
            hold = hold_window(self.house.slot(slug).engine, reading, now)
            self._repeats.decided(slug, reading, now, hold)
        else:
            self._repeats.other_decided()
        changed = [
            r.treadmill
            for r in routed
            if isinstance(r.action, RunStarted | RunEnded) and r.treadmill in self._channels
        ]
        starts = any(isinstance(r.action, RunStarted) for r in routed)
        if starts:
            # A run's start (its record, the run counter in its id) is written before its
            # warm-up goes out, so a kill in between can never reuse the run's id.
            self._effects.settle(
                [r for r in routed if isinstance(r.action, RunStarted)], self._state()
            )
            routed = tuple(r for r in routed if not isinstance(r.action, RunStarted))
            self._dirty = False
        self._effects.publish_prompts(routed)
        rest = [r for r in routed if not isinstance(r.action, PublishPrompt)]
        written = None
        if rest:
            durable = household.needs_commit(rest)
            written = self._effects.write(rest, self._state() if durable else None)
            if durable:
                self._dirty = False
        if len(rest) < len(routed) and (rest or changed):
            # The run's end is on disk; now let the broker take the prompts before anything
            # else goes out or is written. The bookkeeping's disk writes (the scheduler's
            # database, the run's samples and export) would hold the event loop in the middle
            # of their QoS 2 handshake; and a message sent just before a prompt can hold the
            # prompt at a broker with Nagle's algorithm on (docs/mqtt.md, "Latency").
            return functools.partial(self._carry_out, changed, rest, written)
        self._carry_out(changed, rest, written)
        return None

    def _carry_out(self, changed: list[str], rest: list[Routed], written: Commit | None) -> None:
        """What a decision sets off once its prompts are out: state messages, then the rest."""
        for slug in changed:
            self._publish_state(slug)
        if written is not None:
            self._effects.carry_out(rest, written)

    def _order_for(self, command: messages.Command) -> household.Order:
        return order_for(
            command,
            self.house,
            self._now(),
            store=self._store,
            bridge=self._bridge,
            base=self._base,
        )

    def _incline_done(self, done: InclineDone) -> None:
        channel = self._channels.get(done.slug)
        if channel is None:
            return
        if done.error is None:
            _LOGGER.info("%s: incline set to %.1f%%", done.slug, done.incline_pct)
            return
        _LOGGER.warning(
            "%s: could not set the incline to %.1f%%: %s", done.slug, done.incline_pct, done.error
        )
        self._bridge.report_error(topics.incline_set(self._base, done.slug), done.error)

    # -- scheduled prompts -----------------------------------------------------------------

    async def _on_due(self, key: str, payload: str) -> None:
        """The scheduler's callback: hand the prompt to the outbox at once (durably)."""
        data = json.loads(payload)
        data["created_at"] = self._clock.now().isoformat()
        prompt_bytes = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        _LOGGER.info("prompt %s (%s) is due", data.get("id"), data.get("kind"))
        runner = data.get("runner")
        self._effects.publish_prompt_bytes(
            str(data["id"]), runner if isinstance(runner, str) else None, prompt_bytes
        )
        self._put(_Due(key))

    # -- state -----------------------------------------------------------------------------

    def _publish_state(self, slug: str) -> None:
        channel = self._channels[slug]
        payload = channel.state_payload(
            asyncio.get_running_loop().time(), self.house.slot(slug), self.house.runner_on(slug)
        )
        self._bridge.publish_state(slug, payload)

    def _publish_all_state(self) -> None:
        for slug, channel in self._channels.items():
            self._bridge.set_device_availability(slug, online=channel.connected)
            self._publish_state(slug)
        for name, runner in self.house.runners:
            flags = runner.flags
            self._effects.publish_flags(name, flags.back_pain.value, flags.expires_at)

    def _runner_on(self, slug: str) -> str:
        """Who runs on `slug` in the household of now (`self.house` is replaced per input)."""
        return self.house.runner_on(slug)

    def _state(self) -> str:
        return household_json(self.house)

    def _save(self) -> None:
        self._effects.settle((), self._state())
        self._dirty = False


def _settle_heap() -> None:
    """Keep what startup built out of every later full garbage collection.

    A full collection walks every object the collector tracks, and most of the daemon's are
    its modules, configuration and connections, which live as long as the process: at five
    treadmills one such collection held the event loop about 30 ms, every ten seconds or so,
    delaying every reading that came meanwhile (`bench/README.md`, "Garbage collection").
    Collected once here, what is left is moved out of the collector's sight (`gc.freeze`);
    later collections walk only what was made since. Objects frozen here are never freed,
    which for what lives until the process ends costs nothing.
    """
    gc.collect()
    gc.freeze()


__all__ = ["Daemon", "TreadmillChannel"]

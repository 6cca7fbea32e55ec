"""I/O. The composition root: BLE links -> rules engine -> MQTT, scheduler and SQLite.

Theory: every input (a link event, an MQTT command, a scheduled prompt coming due, a tick)
goes into one queue and is handled, in order, by one task (`_dispatch`). That task is the only
one that touches the rules engine's state, so the engine sees a single, ordered stream of
events exactly as its tests do. Handling an event means: turn it into a rules event, call
`evaluate(state, event, now)`, and carry out the actions it returns (publish or schedule a
prompt, set an incline, record a run). Anything slow (a control-point procedure) runs in its
own task and reports back through the same queue, so the dispatcher never waits on Bluetooth.

Each treadmill has its own engine state (`TreadmillChannel`); the back-pain flag is the
runner's, so a flag command goes to every engine. The states are saved to SQLite after
changes, so a restart (or a kill -9) mid-run resumes the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, assert_never

from treadwell.daemon import messages
from treadwell.daemon.autoexport import AutoExporter
from treadwell.daemon.channel import (
    MIN_AUTOMATION_INCLINE_PCT,
    TreadmillChannel,
    load_engine_states,
    restore_engine,
    save_engine_states,
    status_event,
)
from treadwell.daemon.clock import Clock
from treadwell.daemon.config import slugify
from treadwell.daemon.discovery import build_device_discovery, build_runner_totals_discovery
from treadwell.daemon.ha_totals import TotalsPublisher
from treadwell.daemon.mqtt import BridgeSettings, MqttBridge
from treadwell.daemon.outbox import Outbox
from treadwell.daemon.samples import DEFAULT_RUNNER, SampleRecorder
from treadwell.daemon.scheduler import PromptScheduler
from treadwell.daemon.store import StateStoreError, Store
from treadwell.drivers.discovery import DeviceKind, DeviceTarget
from treadwell.drivers.errors import (
    NotConnectedError,
    TreadwellError,
)
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
from treadwell.drivers.footpod import FootpodLink
from treadwell.drivers.heart_rate import HeartRateLink
from treadwell.drivers.treadmill import TreadmillLink
from treadwell.rules import events as rules_events
from treadwell.rules.actions import (
    Action,
    CancelScheduled,
    FlagsChanged,
    PublishPrompt,
    RunEnded,
    RunStarted,
    SchedulePrompt,
    SetIncline,
)
from treadwell.rules.engine import evaluate
from treadwell.rules.model import BackPain, PainKind, Prompt

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

    from treadwell.daemon.config import Settings
    from treadwell.drivers.backend import BleBackend
    from treadwell.drivers.link import BleLink

_LOGGER = logging.getLogger(__name__)

_TICK_S = 5.0
_SAVE_EVERY_S = 10.0
_READY_WAIT_S = 5.0
_KEY_SEPARATOR = "|"


@dataclass(frozen=True, slots=True)
class _Due:
    """A scheduled prompt came due."""

    key: str
    payload: str


@dataclass(frozen=True, slots=True)
class _Tick:
    """Time passed: lets the engine end runs on a treadmill that went silent."""


@dataclass(frozen=True, slots=True)
class _InclineDone:
    """A control-point procedure we started has finished (error None) or failed."""

    slug: str
    incline_pct: float
    error: str | None


_Input = LinkEvent | messages.Command | _Due | _Tick | _InclineDone


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
        self._backend = backend
        self._clock = clock or Clock()
        self._on_ready = on_ready
        self._base = settings.mqtt.base_topic
        self._queue: asyncio.Queue[_Input] = asyncio.Queue()
        self._channels: dict[str, TreadmillChannel] = {}
        self._straps: dict[str, str] = {}  # strap label -> treadmill slug
        self._links: list[BleLink] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._incline_tasks: dict[str, asyncio.Task[None]] = {}
        self._dirty = False
        self._deferred: list[tuple[TreadmillChannel, Action]] = []
        self.healthy = True
        state_dir = settings.state_dir
        self._store = Store.in_dir(state_dir)
        self._outbox = Outbox(state_dir / "treadwell.sqlite")
        self._scheduler = PromptScheduler(
            state_dir / "jobs.sqlite",
            self._on_due,
            misfire_grace_s=settings.rules.prompt_grace_s,
            name=settings.mqtt.client_id,
        )
        self._bridge = MqttBridge(
            BridgeSettings.from_config(
                settings.mqtt, devices=tuple(t.slug for t in settings.treadmills)
            ),
            outbox=self._outbox,
            on_command=self._on_command,
            on_ha_online=self._publish_all_state,
            discovery=self._discovery,
        )
        # Per-second samples and automatic exports (daemon/samples.py, daemon/autoexport.py).
        self._samples = SampleRecorder.in_dir(
            state_dir, commit_every_s=settings.storage.commit_every_s
        )
        self._totals = TotalsPublisher(
            state_dir, base=self._base, publish=self._bridge.publish_retained
        )
        self._exporter = AutoExporter(
            state_dir, settings.export, settings.storage, on_written=self._totals.refresh
        )
        self._build_links()

    @property
    def bridge(self) -> MqttBridge:
        """The MQTT bridge (for status in tests and the demo)."""
        return self._bridge

    @property
    def channels(self) -> dict[str, TreadmillChannel]:
        """The treadmills by slug."""
        return self._channels

    # -- setup ---------------------------------------------------------------------------

    def _build_links(self) -> None:
        saved = load_engine_states(self._store)
        flags = self._stored_flags()
        for treadmill in self.settings.treadmills:
            config = self.settings.rules.to_rules_config(treadmill)
            target = DeviceTarget(DeviceKind.TREADMILL, treadmill.address, treadmill.match_name)
            link = TreadmillLink(
                target, label=treadmill.slug, backend=self._backend, on_event=self._queue.put_nowait
            )
            engine = restore_engine(saved.get(treadmill.slug), config, flags, self._clock.now())
            channel = TreadmillChannel(treadmill, config, link, engine)
            self._channels[treadmill.slug] = channel
            self._links.append(link)
        slugs = list(self._channels)
        for index, strap in enumerate(self.settings.straps):
            # Strap i goes with treadmill i; extra straps go with the first treadmill.
            self._straps[strap.slug] = slugs[min(index, len(slugs) - 1)]
            target = DeviceTarget(DeviceKind.HEART_RATE, strap.address, strap.match_name)
            self._links.append(
                HeartRateLink(
                    target, label=strap.slug, backend=self._backend, on_event=self._queue.put_nowait
                )
            )
        for footpod in self.settings.footpods:
            target = DeviceTarget(DeviceKind.FOOTPOD, footpod.address, footpod.match_name)
            self._links.append(
                FootpodLink(
                    target,
                    label=footpod.slug,
                    backend=self._backend,
                    on_event=self._queue.put_nowait,
                )
            )

    def _stored_flags(self) -> rules_events.FlagSet | None:
        now = self._clock.now()
        try:
            flags = self._store.load_flags()
        except StateStoreError:
            flags = None
        if flags is not None:
            return rules_events.FlagSet(BackPain(flags.back_pain), flags.expires_at)
        initial = self.settings.flags
        if initial.back_pain == "none":
            return None
        expires = now + timedelta(days=initial.days) if initial.days else None
        return rules_events.FlagSet(BackPain(initial.back_pain), expires)

    def _discovery(self) -> list[tuple[str, bytes]]:
        if not self.settings.mqtt.discovery:
            return []
        out = []
        for channel in self._channels.values():
            info = channel.link.info
            rng = info.incline_range if info is not None else None
            topic, payload = build_device_discovery(
                base=self._base,
                discovery_prefix=self.settings.mqtt.discovery_prefix,
                daemon_id=self.settings.mqtt.client_id,
                device_slug=channel.slug,
                device_name=channel.settings.name,
                sw_version=_version(),
                incline_min=max(rng.min_pct, MIN_AUTOMATION_INCLINE_PCT) if rng else 0.0,
                incline_max=min(rng.max_pct, channel.settings.max_incline_pct)
                if rng
                else channel.settings.max_incline_pct,
                incline_step=rng.step_pct if rng else 0.5,
            )
            out.append((topic, json.dumps(payload, separators=(",", ":")).encode()))
        for runner in self._totals.runners:
            topic, payload = build_runner_totals_discovery(
                base=self._base,
                discovery_prefix=self.settings.mqtt.discovery_prefix,
                daemon_id=self.settings.mqtt.client_id,
                runner_slug=slugify(runner) or DEFAULT_RUNNER,
                runner_name=runner,
                sw_version=_version(),
            )
            out.append((topic, json.dumps(payload, separators=(",", ":")).encode()))
        return out

    # -- running -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; then close everything cleanly."""
        self._recover_runs()
        self._scheduler.start()
        try:
            async with asyncio.TaskGroup() as group:
                bridge = group.create_task(self._bridge.run(stop))
                workers = [group.create_task(link.run()) for link in self._links]
                workers.append(group.create_task(self._dispatch()))
                workers.append(group.create_task(self._ticker()))
                workers.append(group.create_task(self._exporter.run()))
                workers.append(group.create_task(self._totals.run()))
                self._publish_all_state()
                await self._wait_ready(stop)
                await stop.wait()
                for task in workers:
                    task.cancel()
                for task in list(self._tasks):
                    task.cancel()
                await bridge
        finally:
            self._save_states()
            self._scheduler.shutdown()
            self._outbox.close()
            self._samples.close()
            self._exporter.close()
            self._store.close()

    async def _wait_ready(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_READY_WAIT_S):
                await self._bridge.wait_connected()
        if not self._bridge.connected:
            _LOGGER.warning("MQTT: not connected yet; carrying on and retrying in the background")
        if self._on_ready is not None and not stop.is_set():
            self._on_ready()

    async def _ticker(self) -> None:
        interval = max(0.2, min(_TICK_S, self._clock.seconds(_TICK_S)))
        since_save = 0.0
        while True:
            await asyncio.sleep(interval)
            self._queue.put_nowait(_Tick())
            since_save += interval
            if since_save >= _SAVE_EVERY_S and self._dirty:
                since_save = 0.0
                self._save_states()

    async def _dispatch(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                self._handle(item)
                if self._deferred:
                    # Prompts are in the outbox: let the sender publish them before the
                    # slower bookkeeping (scheduling, run records) of the same event runs.
                    await asyncio.sleep(0)
                    self._run_deferred()
            except Exception:
                # One bad event must not stop the daemon; say loudly what happened.
                _LOGGER.exception("daemon: failed to handle %r", item)
                self._deferred.clear()

    def _run_deferred(self) -> None:
        deferred, self._deferred = self._deferred, []
        for channel, action in deferred:
            self._act(channel, action)
        self._save_states()

    def _handle(self, item: _Input) -> None:
        match item:
            case _Tick():
                for channel in self._channels.values():
                    self._feed(channel, rules_events.TimerFired("tick"))
            case _Due(key, payload):
                self._deliver_due(key, payload)
            case _InclineDone(slug, incline_pct, error):
                self._incline_done(slug, incline_pct, error)
            case (
                messages.FlagsSetCommand()
                | messages.CheckinCommand()
                | messages.InclineSetCommand()
            ):
                self._command(item)
            case _:
                self._link_event(item)

    def _feed(self, channel: TreadmillChannel, event: rules_events.Event) -> None:
        before = channel.engine
        channel.engine, actions = evaluate(channel.engine, event, self._clock.now())
        if channel.engine is not before:
            self._dirty = True
        prompts = [a for a in actions if isinstance(a, PublishPrompt)]
        for prompt in prompts:
            self._act(channel, prompt)
        rest = [a for a in actions if not isinstance(a, PublishPrompt)]
        if not rest:
            return
        if prompts:
            self._deferred.extend((channel, other) for other in rest)
            return
        for other in rest:
            self._act(channel, other)
        self._save_states()

    # -- link events ---------------------------------------------------------------------

    def _link_event(self, event: LinkEvent) -> None:
        match event:
            case TreadmillReading(device, data):
                channel = self._channels[device]
                now = asyncio.get_running_loop().time()
                channel.arbiter.on_treadmill(data.heart_rate_bpm, now)
                channel.latest = data
                reading = channel.reading(data, now)
                self._feed(channel, rules_events.ReadingReceived(reading))
                self._samples.on_reading(
                    channel.store_run,
                    DEFAULT_RUNNER,
                    self._clock.now(),
                    data,
                    reading.heart_rate_bpm,
                )
                self._publish_state(channel)
            case HeartRateReading(device, measurement):
                channel = self._channels[self._straps[device]]
                channel.arbiter.on_strap(measurement, asyncio.get_running_loop().time())
                self._samples.add_rr(measurement.rr_intervals_ms)
            case RscReading(device, measurement):
                for channel in self._channels.values():
                    channel.cadence_spm = measurement.cadence_spm
                self._samples.on_footpod(measurement.cadence_spm, measurement.stride_length_m)
            case LinkConnected(device, DeviceKind.TREADMILL, _, _, info):
                channel = self._channels[device]
                channel.connected = True
                if info is not None:
                    treadmill = channel.rules_treadmill(info)
                    self._feed(channel, rules_events.TreadmillConnected(treadmill))
                self._bridge.set_device_availability(device, online=True)
                self._publish_state(channel)
            case LinkConnected():
                pass  # straps and footpods: the link logs it; their data speaks for itself
            case LinkDisconnected(device, DeviceKind.TREADMILL, reason):
                channel = self._channels[device]
                channel.connected = False
                _LOGGER.warning("%s: disconnected (%s)", device, reason)
                self._feed(channel, rules_events.TreadmillDisconnected())
                self._bridge.set_device_availability(device, online=False)
                self._publish_state(channel)
            case LinkDisconnected(device, DeviceKind.HEART_RATE, _):
                self._channels[self._straps[device]].arbiter.strap_lost()
            case LinkDisconnected():
                pass
            case MachineStatusChanged(device, status):
                run_event = status_event(status)
                if run_event is not None:
                    self._feed(self._channels[device], run_event)
            case ControlStateChanged(device, granted):
                _LOGGER.info("%s: control %s", device, "granted" if granted else "lost")
            case InclineConfirmed(device, incline_pct):
                _LOGGER.info("%s: the deck reached %.1f%%", device, incline_pct)
            case TrainingStatusChanged():
                pass
            case _:
                assert_never(event)

    # -- commands ------------------------------------------------------------------------

    def _on_command(self, command: messages.Command) -> None:
        """Called by the bridge for every valid command: check safety now, act in order."""
        if isinstance(command, messages.InclineSetCommand):
            channel = self._channels.get(command.device)
            if channel is None:
                raise NotConnectedError(f"no treadmill called {command.device!r}")
            channel.check_manual_incline(command.incline_pct, self._clock.now())
        self._queue.put_nowait(command)

    def _command(self, command: messages.Command) -> None:
        now = self._clock.now()
        match command:
            case messages.FlagsSetCommand(back_pain=back_pain, days=days):
                expires = now + timedelta(days=days) if days else None
                for channel in self._channels.values():
                    self._feed(channel, rules_events.FlagSet(BackPain(back_pain), expires))
            case messages.CheckinCommand(pain=pain, kind=kind):
                channel = self._checkin_channel()
                try:
                    self._store.add_checkin(pain, kind, run_id=channel.store_run, at=now)
                except StateStoreError as exc:
                    _LOGGER.error("state: check-in not stored: %s", exc)  # noqa: TRY400
                self._feed(channel, rules_events.CheckinReceived(pain, PainKind(kind)))
            case messages.InclineSetCommand(device=device, incline_pct=incline_pct):
                self._start_incline(self._channels[device], incline_pct)

    def _checkin_channel(self) -> TreadmillChannel:
        """Check-ins belong to the treadmill whose run ended last."""
        return max(self._channels.values(), key=lambda c: c.engine.last_run_id or "")

    # -- actions -------------------------------------------------------------------------

    def _act(self, channel: TreadmillChannel, action: Action) -> None:
        match action:
            case PublishPrompt(prompt):
                self._publish_prompt(prompt)
            case SetIncline(incline_pct, _run_id):
                if channel.settings.automation_allowed:
                    self._start_incline(channel, incline_pct)
            case SchedulePrompt(key, at, prompt):
                payload = messages.prompt_payload_from(prompt).decode()
                self._scheduler.schedule(
                    f"{channel.slug}{_KEY_SEPARATOR}{key}", self._clock.to_wall(at), payload
                )
            case CancelScheduled(key):
                self._scheduler.cancel(f"{channel.slug}{_KEY_SEPARATOR}{key}")
            case RunStarted(run_id, started_at):
                _LOGGER.info("%s: run %s started", channel.slug, run_id)
                try:
                    channel.store_run = self._store.start_run(channel.slug, at=started_at)
                except StateStoreError as exc:
                    _LOGGER.error("state: run not recorded: %s", exc)  # noqa: TRY400
            case RunEnded(summary):
                _LOGGER.info(
                    "%s: run %s ended: %.0f m in %.0f s",
                    channel.slug,
                    summary.run_id,
                    summary.distance_m,
                    summary.duration_s,
                )
                if channel.store_run is not None:
                    try:
                        # The run's own end time, on the same clock as its start (which
                        # runs fast under a speed-up), so history never ends before it began.
                        self._store.finish_run(channel.store_run, summary, at=summary.ended_at)
                    except StateStoreError as exc:
                        _LOGGER.error("state: run summary not recorded: %s", exc)  # noqa: TRY400
                    self._samples.finish(channel.store_run)
                    self._exporter.on_run_end(channel.store_run, DEFAULT_RUNNER)
                    self._totals.refresh()
                channel.store_run = None
                self._bridge.publish_retained(
                    f"{self._base}/run",
                    messages.run_payload_from(summary, treadmill=channel.slug),
                )
            case FlagsChanged(flags):
                try:
                    self._store.save_flags(flags.back_pain.value, flags.expires_at)
                except StateStoreError as exc:
                    _LOGGER.error("state: flags not stored: %s", exc)  # noqa: TRY400
                self._bridge.publish_retained(
                    f"{self._base}/flags", messages.flags_payload_from(flags)
                )
                if flags.effective(self._clock.now()) is BackPain.RED:
                    self._cancel_incline(channel, "cancelled: the red back-pain flag is on")
            case _:
                assert_never(action)

    def _publish_prompt(self, prompt: Prompt) -> None:
        _LOGGER.info("prompt %s (%s): %s", prompt.id, prompt.kind, prompt.title)
        self._bridge.publish_prompt(prompt.id, messages.prompt_payload_from(prompt))

    def _start_incline(self, channel: TreadmillChannel, incline_pct: float) -> None:
        if channel.setting_incline:
            _LOGGER.info("%s: an incline change is already under way", channel.slug)
            return
        if channel.engine.flags.effective(self._clock.now()) is BackPain.RED:
            return  # never an incline change with a red flag, whoever asks
        channel.setting_incline = True
        self._incline_tasks[channel.slug] = self._spawn(self._set_incline(channel, incline_pct))

    def _cancel_incline(self, channel: TreadmillChannel, reason: str) -> None:
        """Stop an incline procedure in flight, so that nothing more of it reaches the deck."""
        task = self._incline_tasks.pop(channel.slug, None)
        if task is not None and not task.done():
            _LOGGER.warning("%s: incline change %s", channel.slug, reason)
            task.cancel(reason)

    async def _set_incline(self, channel: TreadmillChannel, incline_pct: float) -> None:
        try:
            sent = await channel.link.set_incline(incline_pct, limits=channel.limits)
        except TreadwellError as exc:
            self._queue.put_nowait(_InclineDone(channel.slug, incline_pct, str(exc)))
        except asyncio.CancelledError as exc:
            # A red flag came up mid-procedure (or the daemon is stopping): say so, stop.
            reason = str(exc.args[0]) if exc.args else "cancelled"
            self._queue.put_nowait(_InclineDone(channel.slug, incline_pct, reason))
            raise
        else:
            self._queue.put_nowait(_InclineDone(channel.slug, sent, None))

    def _incline_done(self, slug: str, incline_pct: float, error: str | None) -> None:
        channel = self._channels[slug]
        channel.setting_incline = False
        if error is None:
            _LOGGER.info("%s: incline set to %.1f%%", slug, incline_pct)
            return
        _LOGGER.warning("%s: could not set the incline to %.1f%%: %s", slug, incline_pct, error)
        self._bridge.report_error(f"{self._base}/{slug}/incline/set", error)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- scheduled prompts ---------------------------------------------------------------

    async def _on_due(self, key: str, payload: str) -> None:
        """The scheduler's callback: hand the prompt to the outbox at once (durably)."""
        slug, _, rules_key = key.partition(_KEY_SEPARATOR)
        data = json.loads(payload)
        data["created_at"] = self._clock.now().isoformat()
        prompt_bytes = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        _LOGGER.info("prompt %s (%s) is due", data.get("id"), data.get("kind"))
        self._bridge.publish_prompt(str(data["id"]), prompt_bytes)
        self._queue.put_nowait(_Due(f"{slug}{_KEY_SEPARATOR}{rules_key}", payload))

    def _deliver_due(self, key: str, payload: str) -> None:
        del payload
        slug, _, rules_key = key.partition(_KEY_SEPARATOR)
        channel = self._channels.get(slug)
        if channel is not None:
            self._feed(channel, rules_events.TimerFired(rules_key))

    # -- state ---------------------------------------------------------------------------

    def _publish_state(self, channel: TreadmillChannel) -> None:
        loop_now = asyncio.get_running_loop().time()
        self._bridge.publish_state(channel.slug, channel.state_payload(loop_now))

    def _publish_all_state(self) -> None:
        for channel in self._channels.values():
            self._bridge.set_device_availability(channel.slug, online=channel.connected)
            self._publish_state(channel)
        flags = next(iter(self._channels.values())).engine.flags if self._channels else None
        if flags is not None:
            self._bridge.publish_retained(
                f"{self._base}/flags",
                messages.flags_payload(
                    back_pain=flags.back_pain.value, expires_at=flags.expires_at
                ),
            )

    def _save_states(self) -> None:
        if save_engine_states(self._store, self._channels.values()):
            self._dirty = False

    def _recover_runs(self) -> None:
        """Re-attach a run a crash left open, or close it as interrupted."""
        for channel in self._channels.values():
            try:
                record = self._store.open_run(channel.slug)
            except StateStoreError:
                continue
            if record is None:
                continue
            if channel.engine.run_id is not None:
                channel.store_run = record.id
                _LOGGER.info(
                    "%s: resuming run %s after a restart", channel.slug, channel.engine.run_id
                )
            else:
                self._store.close_stale_runs(older_than=timedelta(0))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("treadwell")
    except PackageNotFoundError:
        return "0.0.0"


__all__ = ["Daemon", "TreadmillChannel"]

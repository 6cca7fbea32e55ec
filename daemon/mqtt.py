"""I/O. The MQTT bridge: one aiomqtt connection, one sender, one receiver, a reconnect loop.

The shell around `BridgeCore` (daemon/mqtt_core.py, the sending rules): it connects, asks
the core what to publish next, publishes it and tells the core once the broker has it.

* Producers never touch the connection: the synchronous `publish_*` methods update the core
  (or the SQLite outbox, for prompts) and wake the sender, the only publisher.
* Prompts go out with QoS 2, in order, marked sent after the broker completes the exchange.
  Every connection uses a fresh client (no paho-side outgoing state carries over, so nothing
  is sent twice), while the broker keeps the session (`clean_session=False`, a stable client
  id), including QoS 1 commands sent while the daemon was away.
* Incoming messages wait in a bounded queue (daemon/mqtt_inbox.py). State is sent while a
  prompt waits for its acknowledgement, and that wait fails only when nothing arrives.
* `{base}/status` is `online` (retained) on every connect; the last will says `offline`, and a
  clean stop or an unexpected error (daemon/mqtt_failure.py) publishes `offline` itself,
  because a clean DISCONNECT suppresses the will.
* Sessions that the broker keeps ending right after they open mean another client uses the
  same client id (daemon/mqtt_pacing.py); the bridge says so once and backs off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time
from typing import TYPE_CHECKING, Final

import aiomqtt

from treadwell.daemon import topics
from treadwell.daemon.error_reports import ERROR_REPORT_BURST, ERROR_REPORT_RATE_HZ
from treadwell.daemon.mqtt_core import OFFLINE, ONLINE, PROMPT_QOS, BridgeCore
from treadwell.daemon.mqtt_failure import (
    EXIT_BRIDGE_FAILED,
    BridgeFailedError,
    fail_safe,
    log_connection_failure,
    log_takeover,
    mqtt_errors_only,
)
from treadwell.daemon.mqtt_inbox import MAX_MESSAGES, Inbox, InboxStats, inbox_type, read_burst
from treadwell.daemon.mqtt_outgoing import write_now
from treadwell.daemon.mqtt_pacing import Reconnect
from treadwell.daemon.mqtt_settings import (
    BridgeSettings,
    InsecureCredentialsError,
    check_credentials,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from treadwell.daemon.messages import Command
    from treadwell.daemon.mqtt_core import Publish
    from treadwell.daemon.outbox import Outbox

__all__ = [
    "ERROR_REPORT_BURST",
    "ERROR_REPORT_RATE_HZ",
    "EXIT_BRIDGE_FAILED",
    "INCOMING_QUEUE_MAX",
    "OFFLINE",
    "ONLINE",
    "PROMPT_QOS",
    "BridgeFailedError",
    "BridgeSettings",
    "InsecureCredentialsError",
    "MqttBridge",
    "check_credentials",
]

_LOGGER = logging.getLogger(__name__)
_SAME_INSTANT_S = 1e-6  # monotonic times closer than this are one instant

PUBLISH_TIMEOUT_S = 10.0
DRAIN_S = 2.0
"""On a clean stop, how long queued messages may still go out before `offline`."""
INCOMING_QUEUE_MAX: Final = MAX_MESSAGES
"""Incoming messages waiting to be handled at most; more are dropped unread and counted."""
_RECEIVE_BATCH = 100
"""Incoming messages handled in one go before the receiver lets other tasks run."""
_WRITES_PER_TURN = 32
"""QoS 0 messages written straight to the socket in a row before the sender yields its turn."""


class MqttBridge:
    """The daemon's only MQTT connection.

    Args:
        settings: Broker, identity and topics.
        outbox: Where prompts wait until the broker has them.
        on_command: Called with every valid command. A `TreadwellError` it raises (a safety
            limit, say) is reported on `{base}/error` like a malformed command; any other
            exception stops the bridge (see `run`).
        on_ha_online: Called when Home Assistant comes online, just before the bridge
            re-publishes discovery and state; a chance to refresh state.
        discovery: Returns the retained discovery messages (topic, payload) to publish on
            every connect and whenever Home Assistant comes online.

    Raises:
        InsecureCredentialsError: See `check_credentials`.
    """

    def __init__(
        self,
        settings: BridgeSettings,
        *,
        outbox: Outbox,
        on_command: Callable[[Command], None],
        on_ha_online: Callable[[], None] | None = None,
        discovery: Callable[[], list[tuple[str, bytes]]] = list,
    ) -> None:
        check_credentials(settings)
        self._settings = settings
        self._base = settings.base_topic
        self._core = BridgeCore(
            base=settings.base_topic,
            devices=settings.devices,
            runners=settings.runners,
            outbox=outbox,
            on_command=on_command,
            max_state_rate_hz=settings.max_state_rate_hz,
            discovery_prefix=settings.discovery_prefix,
            discovery=discovery,
            on_ha_online=on_ha_online,
            ha_online_jitter_s=settings.ha_online_jitter_s,
        )
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()  # set when an acknowledgement came or the link went
        self._connected = asyncio.Event()
        self._stopping = False
        self._drain_until = 0.0
        self.connects = 0
        """Successful connections so far."""
        self.incoming = InboxStats()
        """Incoming messages received, dropped, and the most that waited at once."""
        self._inbox: Inbox | None = None
        self._awaiting_ack = 0
        self._idle: tuple[aiomqtt.Client, bool] | None = None
        """While the sender waits for work: its client, and whether a message awaits its ack."""
        self._idle_until: float | None = None
        """While the sender waits: when its timer fires (`time.monotonic`; inf: no timer)."""

    @property
    def connected(self) -> bool:
        """Whether the bridge is connected to the broker right now."""
        return self._connected.is_set()

    @property
    def sender_woken(self) -> bool:
        """Whether the sender has been given work it has not looked at yet."""
        return self._wake.is_set()

    async def wait_connected(self) -> None:
        """Return once the bridge is connected (at once if it is)."""
        await self._connected.wait()

    async def prompts_handed_over(self, limit_s: float) -> bool:
        """Wait until the broker has acknowledged every prompt queued so far.

        Returns at once while disconnected, and after `limit_s` at the most; True when no
        prompt is waiting any more.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit_s):
                while self._connected.is_set() and self._core.prompts_waiting:
                    self._progress.clear()
                    await self._progress.wait()
        return not self._core.prompts_waiting

    def publish_state(self, device_slug: str, payload: bytes) -> None:
        """Publish a treadmill's latest state (QoS 0, retained, latest wins, rate-limited).

        A payload equal to the one already waiting, or (with none waiting) to the last one
        sent, is dropped: state is published on change only.
        """
        self._core.publish_state(device_slug, payload)
        if self._write_state_now():
            if self._core.state_waiting:
                # Another treadmill's state waits for its slot and may be due as well.
                self._wake.set()
        elif not self._sender_sleeps_on(device_slug):
            self._wake.set()  # the sender takes it

    def _sender_sleeps_on(self, device_slug: str) -> bool:
        """Whether the idle sender may sleep on: its timer fires by the time it has work.

        That is when nothing but state can be due and this treadmill's state (if one waits:
        an unchanged one was dropped) is not due before the sender's timer fires; woken, the
        sender would only set the same timer again. At the default state rate most readings
        find their treadmill's state waiting for its slot: a loop turn and a task step less
        for each.
        """
        idle_until = self._idle_until
        if self._idle is None or idle_until is None or self._stopping:
            return False
        if not self._core.only_state_due(time.monotonic()):
            return False
        due = self._core.state_due_at(device_slug)
        # (The timer's end is the same slot computed as now + wait: allow for the rounding.)
        return due is None or due >= idle_until - _SAME_INSTANT_S

    def _write_state_now(self) -> bool:
        """Write the state just queued in this turn, if the idle sender would do only that.

        The sender, woken, would take the next message and write it; when it is idle and
        nothing but state can be due, that message is this state (or one as due), so it is
        written here and the sender sleeps on: a turn of the loop, a wake-up and a timer less
        for every reading. Anything else (a prompt, a retained message, a backed-up socket, a
        state not due yet, a failing write) is left to the sender, which is woken for it.
        """
        idle = self._idle
        if idle is None or self._stopping:
            return False
        client, waiting_for_ack = idle
        now = time.monotonic()
        if not (waiting_for_ack or self._core.only_state_due(now)):
            return False
        item = self._core.next_publish(now, qos0_only=True)
        if item is None:
            return False
        try:
            if not write_now(client, item.topic, item.payload, retain=item.retain):
                return False
        except aiomqtt.MqttError:
            return False  # the sender meets the same failure and ends the session
        self._core.published(item, now)
        return True

    def publish_retained(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish retained state; the latest payload per topic wins and is re-sent on connect."""
        self._core.publish_retained(topic, payload, qos)
        self._wake.set()

    def set_device_availability(self, device_slug: str, *, online: bool) -> None:
        """Publish whether a treadmill's link is up (`{base}/<device>/availability`)."""
        topic = topics.device_availability(self._base, device_slug)
        self.publish_retained(topic, ONLINE if online else OFFLINE)

    def publish_prompt(self, message_id: str, payload: bytes, *, topic: str | None = None) -> None:
        """Queue a prompt for `{base}/prompt` or `topic` (QoS 2, in order, each id once).

        QoS 2 rather than 1: with it the broker hands a prompt to a subscriber exactly once
        even when the broker restarts mid-delivery (a QoS 1 re-delivery would repeat it).

        The prompt goes to the outbox first. If the outbox cannot store it, it is kept in
        memory and still sent while the daemon runs.
        """
        self._core.publish_prompt(message_id, payload, topic)
        self._wake.set()

    def report_error(self, topic: str, error: str) -> None:
        """Publish a rejected command's report on `{base}/error` (rate-limited)."""
        self._core.report_error(topic, error, time.monotonic())
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until `stop` is set, then publish `offline` and disconnect.

        Connection failures are retried with a doubling delay capped at `backoff_max_s`.

        Raises:
            BridgeFailedError: An unexpected error (a bug, not a broker or network problem)
                happened inside the session; `offline` was published first.
        """
        settings = self._settings
        reconnect = Reconnect(
            settings.backoff_initial_s, settings.backoff_max_s, settings.takeover_window_s
        )
        warned = False
        while not stop.is_set():
            error: BaseException | None = None
            try:
                await self._session(stop, reconnect)
            except* aiomqtt.MqttError as group:
                error = group.exceptions[0]
            finally:
                self._connected.clear()
            if stop.is_set():
                break
            delay = reconnect.ended(time.monotonic())
            where = f"{settings.host}:{settings.port}"
            if reconnect.takeover_suspected and not warned:
                log_takeover(settings.client_id, reconnect.short_sessions, delay)
            else:
                log_connection_failure(error, where, delay)
            warned = reconnect.takeover_suspected
            try:
                async with asyncio.timeout(delay):
                    await stop.wait()
            except TimeoutError:
                pass

    def _new_client(self) -> aiomqtt.Client:
        settings = self._settings
        tls_params = None
        if settings.tls:
            tls_params = aiomqtt.TLSParameters(
                ca_certs=_str_or_none(settings.ca_file),
                certfile=_str_or_none(settings.certfile),
                keyfile=_str_or_none(settings.keyfile),
            )
        return aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=settings.password,
            identifier=settings.client_id,
            clean_session=False,
            keepalive=settings.keepalive,
            will=aiomqtt.Will(topics.status(self._base), OFFLINE, qos=1, retain=True),
            tls_params=tls_params,
            tls_insecure=settings.tls_insecure if settings.tls else None,
            timeout=PUBLISH_TIMEOUT_S,
            queue_type=inbox_type(self.incoming, self._dropped, self._set_inbox),
            max_queued_incoming_messages=INCOMING_QUEUE_MAX,
            # Small packets go out at once. With Nagle's algorithm a prompt's QoS 2 handshake
            # (PUBLISH, PUBREC, PUBREL, PUBCOMP) can stall for the peer's delayed ACK (40 ms
            # on Linux) whenever a state message is still unacknowledged on the wire.
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )

    def _dropped(self, topic: str) -> None:
        self._core.dropped(topic)
        self._wake.set()

    def _set_inbox(self, inbox: Inbox) -> None:
        self._inbox = inbox

    async def _session(self, stop: asyncio.Event, reconnect: Reconnect) -> None:
        failure: BridgeFailedError | None = None
        try:
            async with self._new_client() as client:
                reconnect.connected(time.monotonic())
                self.connects += 1
                _LOGGER.info(
                    "MQTT: connected to %s:%d as %s",
                    self._settings.host,
                    self._settings.port,
                    self._settings.client_id,
                )
                try:
                    await self._serve(client, stop)
                except Exception as exc:
                    if mqtt_errors_only(exc):
                        raise
                    failure = await fail_safe(client, topics.status(self._base), exc)
                else:
                    await client.publish(topics.status(self._base), OFFLINE, qos=1, retain=True)
        except aiomqtt.MqttError:
            if failure is None:
                raise  # a failed disconnect must not hide the failure
        if failure is not None:
            raise failure
        _LOGGER.info("MQTT: disconnected from %s:%d", self._settings.host, self._settings.port)

    async def _serve(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """Run sender and receiver until one fails (raises) or `stop` is set (returns)."""
        core = self._core
        await client.subscribe(
            [(topic, 1) for topic in (*topics.command_filters(self._base), core.ha_status_topic)]
        )
        for item in core.connection_made():
            await self._publish(client, item)
        self._connected.set()
        self._wake.set()
        self._stopping = False
        try:
            async with asyncio.TaskGroup() as group:
                sender = group.create_task(self._sender(client))
                receiver = group.create_task(self._receiver(client))
                stopper = group.create_task(stop.wait())
                await asyncio.wait([sender, receiver, stopper], return_when=asyncio.FIRST_COMPLETED)
                # Let the sender finish the message in flight so nothing is half-sent, and
                # send what is queued for up to DRAIN_S.
                self._drain_until = time.monotonic() + DRAIN_S
                self._stopping = True
                self._wake.set()
                receiver.cancel()
                stopper.cancel()
        finally:
            self._connected.clear()
            self._progress.set()

    async def _receiver(self, client: aiomqtt.Client) -> None:
        messages = client.messages
        while True:
            # Waiting through aiomqtt ends the receiver when the connection drops; the rest
            # of a burst is taken straight from the queue, a batch at a time.
            batch = [await anext(messages)]
            inbox = self._inbox
            read_burst(client, inbox, greedy=self._awaiting_ack > 0)
            while inbox is not None and len(batch) < _RECEIVE_BATCH and not inbox.empty():
                batch.append(inbox.get_nowait())
            now = time.monotonic()
            for message in batch:
                self._core.receive(
                    message.topic.value, bytes(message.payload), retained=message.retain, now=now
                )
            self._wake.set()

    async def _sender(self, client: aiomqtt.Client) -> None:
        """Publish what the core hands out; state keeps flowing while an ack is awaited."""
        core = self._core
        inflight: tuple[asyncio.Task[None], Publish] | None = None
        written_now = 0  # QoS 0 messages written since the sender last gave up its turn
        try:
            while True:
                _raise_if_cancelled()
                self._wake.clear()
                if inflight is not None and inflight[0].done():
                    inflight[0].result()  # a failed publish ends the session
                    core.published(inflight[1], time.monotonic())
                    inflight = None
                    self._progress.set()
                if self._stop_requested():
                    if inflight is not None:
                        await asyncio.wait([inflight[0]])  # finish it, so nothing is half-sent
                        continue
                    # Stopping: what is queued (a run's summary, a prompt) goes out first,
                    # for a moment at most, rather than waiting for the next start. The
                    # deadline is checked before picking: a picked message counts as sent.
                    if time.monotonic() >= self._drain_until:
                        return
                    item = core.next_publish(time.monotonic())
                    if item is None:
                        return
                else:
                    item = core.next_publish(time.monotonic(), qos0_only=inflight is not None)
                if item is not None and item.qos == 0:
                    if written_now < _WRITES_PER_TURN and write_now(
                        client, item.topic, item.payload, retain=item.retain
                    ):
                        written_now += 1
                    else:  # backed up (or a long burst): wait for the socket, let others run
                        await client.publish(item.topic, item.payload, qos=0, retain=item.retain)
                        written_now = 0
                    core.published(item, time.monotonic())
                elif item is not None:
                    task = asyncio.create_task(self._publish(client, item))
                    task.add_done_callback(lambda _: self._wake.set())
                    inflight = (task, item)
                else:
                    written_now = 0
                    now = time.monotonic()
                    wait = core.wake_in(now)
                    self._idle = (client, inflight is not None)
                    self._idle_until = math.inf if wait is None else now + wait
                    try:
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(wait):
                                await self._wake.wait()
                    finally:
                        self._idle = self._idle_until = None
        finally:
            if inflight is not None:
                inflight[0].cancel()

    async def _publish(self, client: aiomqtt.Client, item: Publish) -> None:
        """Publish and wait for the broker's acknowledgement for as long as data arrives.

        In a flood the acknowledgement waits behind the commands not read yet; that is a busy
        connection, not a dead one. Only `PUBLISH_TIMEOUT_S` without any incoming message
        ends the session.
        """
        publish = asyncio.ensure_future(
            client.publish(
                item.topic, item.payload, qos=item.qos, retain=item.retain, timeout=math.inf
            )
        )
        self._awaiting_ack += 1
        try:
            while True:
                seen = self.incoming.received
                done, _ = await asyncio.wait([publish], timeout=PUBLISH_TIMEOUT_S)
                if done:
                    return publish.result()
                if self.incoming.received == seen:
                    msg = f"no acknowledgement from the broker in {PUBLISH_TIMEOUT_S:g} s"
                    raise aiomqtt.MqttError(msg)
        finally:
            self._awaiting_ack -= 1
            if not publish.done():
                publish.cancel()

    def _stop_requested(self) -> bool:
        # A method, not the attribute, so type checkers do not assume it is unchanged
        # across the awaits in between.
        return self._stopping


def _raise_if_cancelled() -> None:
    """Honour a cancellation that Python 3.11's `asyncio.wait_for` (in aiomqtt) swallowed.

    When a publish completes in the same turn as the sender is cancelled, `wait_for` returns
    the result and drops the cancellation; the sender would then run on and keep its task
    group (and the daemon's exit) waiting for ever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _str_or_none(path: Path | None) -> str | None:
    return None if path is None else str(path)

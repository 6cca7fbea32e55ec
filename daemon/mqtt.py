"""I/O. The MQTT bridge: one aiomqtt connection, one sender, one receiver, a reconnect loop.

Theory of operation:

* Producers (the rules engine, the BLE links, the scheduler) never touch the connection. They
  call the synchronous `publish_*` methods, which only update in-memory state (or the SQLite
  outbox, for prompts) and wake the sender task. The sender is the only publisher.
* Telemetry (`{base}/<device>/state`) is latest-wins: each device keeps one pending payload,
  sent at most `max_state_rate_hz` times a second and never queued up while offline. A
  payload equal to the one the broker already has is not sent again.
* Slow retained state (`{base}/flags`, `{base}/run`, availability) is latest-wins per topic
  and re-sent after every reconnect, so the broker's copy is always the newest one.
* Prompts are written to the outbox first. The sender publishes pending rows in order with
  QoS 1 and marks each sent after the broker's PUBACK. Outbox rows are published only while
  connected: paho keeps a QoS 1 message that failed with "not connected" and delivers it
  after reconnect on its own, so retrying it would send it twice. For the same reason every
  connection attempt uses a fresh client (no paho-side outgoing state carries over), while
  the broker keeps the session (`clean_session=False` and a stable client id), including
  QoS 1 commands sent while the daemon was away.
* `{base}/status` is `online` (retained) on every connect; the last will says `offline`, and a
  clean stop publishes `offline` itself because a clean DISCONNECT suppresses the will.
* Rejected commands are reported on `{base}/error` one by one up to `ERROR_REPORT_BURST` at
  once and `ERROR_REPORT_RATE_HZ` a second after that (a token bucket). Past the limit they are
  counted, and one summary report (with `suppressed`: the count) follows as soon as the bucket
  allows, so a flood of junk cannot turn the daemon into a flood of errors and every rejected
  command is still accounted for.
* `homeassistant/status` = `online` triggers a re-publish of discovery, then of all retained
  state and the latest telemetry, after a random delay of up to `ha_online_jitter_s`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from treadwell.daemon.messages import CommandError, ErrorReport, command_topics, parse_command
from treadwell.daemon.store import StateStoreError
from treadwell.drivers.errors import TreadwellError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from treadwell.daemon.config import MqttSettings
    from treadwell.daemon.messages import Command
    from treadwell.daemon.outbox import Outbox

_LOGGER = logging.getLogger(__name__)

PROMPT_QOS = 2  # exactly once from the broker to each subscriber, across broker restarts

ONLINE = b"online"
OFFLINE = b"offline"
PUBLISH_TIMEOUT_S = 10.0
_AUTH_FAILURES = frozenset({4, 5, 134, 135})  # MQTT 3.1.1 and 5 "bad credentials / not authorized"
_MAX_ERROR_REPORTS = 100
ERROR_REPORT_BURST = 50
"""Rejected commands reported one by one before the rate limit applies."""
ERROR_REPORT_RATE_HZ = 10.0
"""Reports a second on `{base}/error` once the burst is spent (a summary counts as one)."""


class InsecureCredentialsError(TreadwellError):
    """Credentials would cross the network in clear text, and that was not allowed."""


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """What the bridge needs to know; the daemon maps its configuration onto this.

    Attributes:
        host: Broker host name or address.
        port: Broker port.
        username: MQTT user name, if the broker wants one.
        password: MQTT password (never logged, not in the repr).
        tls: Connect with TLS.
        ca_file: CA bundle to verify the broker with; None uses the system's.
        certfile: Client certificate, for brokers that want one.
        keyfile: The client certificate's key.
        tls_insecure: Skip the broker host name check (self-signed test brokers only).
        base_topic: Root of the daemon's own topics.
        client_id: Stable MQTT client id; the broker keeps the session under it.
        discovery_prefix: Home Assistant's discovery prefix.
        keepalive: MQTT keepalive in seconds.
        allow_insecure_credentials: Allow a password over plain TCP to a non-loopback host.
        devices: Slugs of the configured treadmills (for `{base}/<device>/incline/set`).
        runners: Slugs of the configured runners (for their command topics).
        max_state_rate_hz: At most this many state messages a second per device.
        backoff_initial_s: First delay before reconnecting.
        backoff_max_s: Cap of the doubling reconnect delay.
        ha_online_jitter_s: Upper bound of the random delay before re-publishing discovery.
    """

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    tls_insecure: bool = False
    base_topic: str = "treadwell"
    client_id: str = "treadwell"
    discovery_prefix: str = "homeassistant"
    keepalive: int = 30
    allow_insecure_credentials: bool = False
    devices: tuple[str, ...] = ("treadmill",)
    runners: tuple[str, ...] = ()
    max_state_rate_hz: float = 2.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    ha_online_jitter_s: float = 5.0

    @classmethod
    def from_config(
        cls, mqtt: MqttSettings, *, devices: tuple[str, ...], runners: tuple[str, ...] = ()
    ) -> BridgeSettings:
        """Map the daemon's `[mqtt]` configuration onto bridge settings."""
        password = None if mqtt.password is None else mqtt.password.get_secret_value()
        return cls(
            host=mqtt.host,
            port=mqtt.port,
            username=mqtt.username,
            password=password,
            tls=mqtt.tls,
            ca_file=mqtt.ca_file,
            certfile=mqtt.certfile,
            keyfile=mqtt.keyfile,
            tls_insecure=mqtt.tls_insecure,
            base_topic=mqtt.base_topic,
            client_id=mqtt.client_id,
            discovery_prefix=mqtt.discovery_prefix,
            keepalive=mqtt.keepalive,
            allow_insecure_credentials=mqtt.allow_insecure_credentials,
            devices=devices,
            runners=runners,
            max_state_rate_hz=mqtt.max_state_rate_hz,
        )


def check_credentials(settings: BridgeSettings) -> None:
    """Refuse to send credentials in clear text to another machine.

    Raises:
        InsecureCredentialsError: If a user name or password would go over plain TCP to a
            non-loopback host and `allow_insecure_credentials` is off.
    """
    if settings.username is None and settings.password is None:
        return
    if settings.tls or settings.allow_insecure_credentials or _is_loopback(settings.host):
        return
    raise InsecureCredentialsError(
        f"refusing to send MQTT credentials in clear text to {settings.host}:{settings.port};"
        " enable tls, or set allow_insecure_credentials if the network is trusted"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _ReportLimiter:
    """A token bucket: `burst` reports at once, then `rate_hz` a second."""

    def __init__(self, rate_hz: float, burst: int) -> None:
        self._rate_hz = rate_hz
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last: float | None = None

    def _refill(self, now: float) -> None:
        if self._last is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate_hz)
        self._last = now

    def take(self, now: float) -> bool:
        """Spend a token if there is one."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_s(self, now: float) -> float:
        """Seconds until a token is available."""
        self._refill(now)
        return max(0.0, (1.0 - self._tokens) / self._rate_hz)


class MqttBridge:
    """The daemon's only MQTT connection.

    Args:
        settings: Broker, identity and topics.
        outbox: Where prompts wait until the broker has them.
        on_command: Called with every valid command. A `TreadwellError` it raises (a safety
            limit, say) is reported on `{base}/error` like a malformed command.
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
        self._status_topic = f"{self._base}/status"
        self._ha_status_topic = f"{settings.discovery_prefix}/status"
        self._outbox = outbox
        self._on_command = on_command
        self._on_ha_online = on_ha_online
        self._discovery = discovery
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._stopping = False
        self._connects = 0
        self._state_pending: dict[str, bytes] = {}
        self._state_last: dict[str, bytes] = {}
        self._state_sent_at: dict[str, float] = {}
        self._retained: dict[str, tuple[bytes, int]] = {}
        self._dirty: dict[str, None] = {}  # an ordered set of retained topics to (re)send
        self._errors: deque[bytes] = deque(maxlen=_MAX_ERROR_REPORTS)
        self._report_limiter = _ReportLimiter(ERROR_REPORT_RATE_HZ, ERROR_REPORT_BURST)
        self._suppressed = 0
        self._suppressed_last: tuple[str, str] = ("", "")
        self._flooding = False
        self._unstored: dict[str, bytes] = {}  # prompts the outbox could not take
        self._rediscover_at: float | None = None
        self._outbox_dirty = True
        self._sent_unrecorded: set[int] = set()

    @property
    def connected(self) -> bool:
        """Whether the bridge is connected to the broker right now."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Return once the bridge is connected (at once if it is)."""
        await self._connected.wait()

    def publish_state(self, device_slug: str, payload: bytes) -> None:
        """Publish a treadmill's latest state (QoS 0, retained, latest wins, rate-limited).

        A payload equal to the one already waiting, or (with none waiting) to the last one
        sent, is dropped: state is published on change only.
        """
        queued = self._state_pending.get(device_slug)
        if payload == (queued if queued is not None else self._state_last.get(device_slug)):
            return
        self._state_pending[device_slug] = payload
        self._wake.set()

    def publish_retained(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish retained state; the latest payload per topic wins and is re-sent on connect."""
        self._retained[topic] = (payload, qos)
        self._dirty[topic] = None
        self._wake.set()

    def set_device_availability(self, device_slug: str, *, online: bool) -> None:
        """Publish whether a treadmill's link is up (`{base}/<device>/availability`)."""
        self.publish_retained(f"{self._base}/{device_slug}/availability", _status(online=online))

    def publish_prompt(self, message_id: str, payload: bytes, *, topic: str | None = None) -> None:
        """Queue a prompt for `{base}/prompt` or `topic` (QoS 2, in order, each id once).

        QoS 2 rather than 1: with it the broker hands a prompt to a subscriber exactly once
        even when the broker restarts mid-delivery (a QoS 1 re-delivery would repeat it).

        The prompt goes to the outbox first. If the outbox cannot store it, it is kept in
        memory and still sent while the daemon runs.
        """
        try:
            where = topic or f"{self._base}/prompt"
            self._outbox.add(message_id, where, payload, PROMPT_QOS, retain=False)
        except StateStoreError as exc:
            _LOGGER.error("MQTT: prompt %s kept in memory only: %s", message_id, exc)  # noqa: TRY400
            self._unstored.setdefault(message_id, payload)
        self._outbox_dirty = True
        self._wake.set()

    def report_error(self, topic: str, error: str) -> None:
        """Publish a rejected command's report on `{base}/error` (rate-limited, see above)."""
        # While a summary is pending, later rejections join it: reports stay in order.
        held = self._suppressed > 0 or len(self._errors) >= _MAX_ERROR_REPORTS
        if held or not self._report_limiter.take(time.monotonic()):
            if not self._flooding:
                self._flooding = True
                _LOGGER.warning(
                    "MQTT: commands are rejected faster than %g a second; summing them up",
                    ERROR_REPORT_RATE_HZ,
                )
            self._suppressed += 1
            self._suppressed_last = (topic, error)
            self._wake.set()
            return
        self._flooding = False
        _LOGGER.warning("MQTT: rejected command on %s: %s", topic, error)
        report = ErrorReport(topic=topic, error=error, received_at=datetime.now(UTC))
        self._errors.append(report.to_json())
        self._wake.set()

    def _summarize_suppressed(self) -> float | None:
        """Queue the summary of suppressed reports when allowed; else the seconds to wait."""
        if not self._suppressed:
            return None
        now = time.monotonic()
        if len(self._errors) >= _MAX_ERROR_REPORTS or not self._report_limiter.take(now):
            return self._report_limiter.wait_s(now) or 1.0 / ERROR_REPORT_RATE_HZ
        count, (topic, error) = self._suppressed, self._suppressed_last
        self._suppressed = 0
        _LOGGER.warning("MQTT: %d more commands rejected; the last on %s: %s", count, topic, error)
        summary = ErrorReport(
            topic=topic,
            error=f"{count} more rejected commands not reported one by one; the last: {error}",
            received_at=datetime.now(UTC),
            suppressed=count,
        )
        self._errors.append(summary.to_json())
        return None

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until `stop` is set, then publish `offline` and disconnect.

        Connection failures are retried with a doubling delay capped at `backoff_max_s`.
        """
        self._stopping = False
        delay = self._settings.backoff_initial_s
        while not stop.is_set():
            connects = self._connects
            error: BaseException | None = None
            try:
                await self._session(stop)
            except* aiomqtt.MqttError as group:
                error = group.exceptions[0]
            finally:
                self._connected.clear()
            if stop.is_set():
                break
            if self._connects != connects:
                delay = self._settings.backoff_initial_s
            self._log_failure(error, delay)
            try:
                async with asyncio.timeout(delay):
                    await stop.wait()
            except TimeoutError:
                pass
            delay = min(delay * 2, self._settings.backoff_max_s)

    def _log_failure(self, error: BaseException | None, delay: float) -> None:
        where = f"{self._settings.host}:{self._settings.port}"
        rc = getattr(error, "rc", None)  # an int or paho's (unhashable) ReasonCode
        code = getattr(rc, "value", rc)
        # Log the text, not the exception: a log record that keeps the exception keeps its
        # traceback and with it paho's half-open TLS socket after a failed handshake.
        reason = str(error)
        # Only a refused CONNECT carries a CONNACK code; a failed publish carries paho's own
        # error numbers, where 4 means "not connected" (the broker went away), not "bad
        # credentials".
        refused = isinstance(error, MqttConnectError)
        if refused and isinstance(code, int) and code in _AUTH_FAILURES:
            _LOGGER.error(
                "MQTT %s: the broker refused the credentials (%s); retrying in %.1f s",
                where,
                reason,
                delay,
            )
        else:
            _LOGGER.warning("MQTT %s: %s; reconnecting in %.1f s", where, reason, delay)

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
            will=aiomqtt.Will(self._status_topic, OFFLINE, qos=1, retain=True),
            tls_params=tls_params,
            tls_insecure=settings.tls_insecure if settings.tls else None,
            timeout=PUBLISH_TIMEOUT_S,
        )

    async def _session(self, stop: asyncio.Event) -> None:
        async with self._new_client() as client:
            self._connects += 1
            _LOGGER.info(
                "MQTT: connected to %s:%d as %s",
                self._settings.host,
                self._settings.port,
                self._settings.client_id,
            )
            await client.publish(self._status_topic, ONLINE, qos=1, retain=True)
            topics = [*command_topics(self._base), self._ha_status_topic]
            await client.subscribe([(topic, 1) for topic in topics])
            await self._publish_discovery(client)
            self._dirty = dict.fromkeys(self._retained)
            self._outbox_dirty = True
            self._connected.set()
            self._wake.set()
            try:
                await self._serve(client, stop)
            finally:
                self._connected.clear()
            await client.publish(self._status_topic, OFFLINE, qos=1, retain=True)
        _LOGGER.info("MQTT: disconnected from %s:%d", self._settings.host, self._settings.port)

    async def _serve(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """Run sender and receiver until one fails (raises) or `stop` is set (returns)."""
        self._stopping = False
        async with asyncio.TaskGroup() as group:
            sender = group.create_task(self._sender(client))
            receiver = group.create_task(self._receiver(client))
            stopper = group.create_task(stop.wait())
            await asyncio.wait([sender, receiver, stopper], return_when=asyncio.FIRST_COMPLETED)
            # Let the sender finish the message in flight so nothing is half-sent.
            self._stopping = True
            self._wake.set()
            receiver.cancel()
            stopper.cancel()

    async def _publish_discovery(self, client: aiomqtt.Client) -> None:
        for topic, payload in self._discovery():
            await client.publish(topic, payload, qos=1, retain=True)

    async def _receiver(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = message.topic.value
            data = bytes(message.payload)
            if topic == self._ha_status_topic:
                if data == ONLINE:
                    jitter = secrets.randbelow(1001) / 1000 * self._settings.ha_online_jitter_s
                    self._rediscover_at = asyncio.get_running_loop().time() + jitter
                    self._wake.set()
                continue
            self._handle_command(topic, data, retained=message.retain)

    def _handle_command(self, topic: str, payload: bytes, *, retained: bool) -> None:
        if retained:
            self.report_error(topic, "retained commands are ignored; publish without retain")
            return
        try:
            command = parse_command(
                topic,
                payload,
                base=self._base,
                devices=self._settings.devices,
                runners=self._settings.runners,
            )
        except CommandError as exc:
            self.report_error(topic, exc.message)
            return
        try:
            self._on_command(command)
        except TreadwellError as exc:
            self.report_error(topic, str(exc))

    async def _sender(self, client: aiomqtt.Client) -> None:
        while not self._stopping:
            self._wake.clear()
            next_due = await self._flush(client)
            if self._stop_requested():
                return
            try:
                async with asyncio.timeout(next_due):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _stop_requested(self) -> bool:
        # A method, not the attribute, so type checkers do not assume it is unchanged
        # across the awaits in between.
        return self._stopping

    async def _flush(self, client: aiomqtt.Client) -> float | None:
        """Send what is due; return how long until more is due (None: nothing scheduled)."""
        now = asyncio.get_running_loop().time()
        waits: list[float] = []
        if self._rediscover_at is not None:
            if now >= self._rediscover_at:
                self._rediscover_at = None
                await self._rediscover(client)
            else:
                waits.append(self._rediscover_at - now)
        await self._flush_retained(client)
        await self._flush_prompts(client)
        summary_wait = self._summarize_suppressed()
        if summary_wait is not None:
            waits.append(summary_wait)
        while self._errors and not self._stopping:
            await client.publish(f"{self._base}/error", self._errors[0], qos=1)
            self._errors.popleft()
        state_wait = await self._flush_states(client)
        if state_wait is not None:
            waits.append(state_wait)
        return min(waits, default=None)

    async def _rediscover(self, client: aiomqtt.Client) -> None:
        _LOGGER.info("MQTT: Home Assistant is online; re-publishing discovery")
        await self._publish_discovery(client)
        if self._on_ha_online is not None:
            self._on_ha_online()
        self._dirty = dict.fromkeys(self._retained)
        for device, payload in self._state_last.items():
            self._state_pending.setdefault(device, payload)

    async def _flush_retained(self, client: aiomqtt.Client) -> None:
        while self._dirty and not self._stopping:
            topic = next(iter(self._dirty))
            payload, qos = self._retained[topic]
            await client.publish(topic, payload, qos=qos, retain=True)
            if self._retained[topic] == (payload, qos):
                del self._dirty[topic]

    async def _flush_prompts(self, client: aiomqtt.Client) -> None:
        if self._outbox_dirty:
            self._outbox_dirty = False
            try:
                pending = self._outbox.pending()
            except StateStoreError as exc:
                _LOGGER.error("MQTT: prompts wait, the outbox cannot be read: %s", exc)  # noqa: TRY400
                pending = []
            for item in pending:
                if self._stopping:
                    self._outbox_dirty = True
                    return
                if item.seq in self._sent_unrecorded:
                    continue
                await client.publish(item.topic, item.payload, qos=item.qos, retain=item.retain)
                self._record_sent(item.seq)
        while self._unstored and not self._stopping:
            message_id, payload = next(iter(self._unstored.items()))
            await client.publish(f"{self._base}/prompt", payload, qos=PROMPT_QOS)
            del self._unstored[message_id]

    def _record_sent(self, seq: int) -> None:
        try:
            self._outbox.mark_sent(seq)
        except StateStoreError as exc:
            # Remember it here so it is not sent again while the daemon runs.
            _LOGGER.error("MQTT: prompt %d was sent but cannot be marked: %s", seq, exc)  # noqa: TRY400
            self._sent_unrecorded.add(seq)

    async def _flush_states(self, client: aiomqtt.Client) -> float | None:
        interval = 1.0 / self._settings.max_state_rate_hz
        waits: list[float] = []
        for device in list(self._state_pending):
            if self._stopping:
                break
            now = asyncio.get_running_loop().time()
            last = self._state_sent_at.get(device)
            if last is not None and now - last < interval:
                waits.append(last + interval - now)
                continue
            payload = self._state_pending.pop(device)
            self._state_sent_at[device] = now
            await client.publish(f"{self._base}/{device}/state", payload, qos=0, retain=True)
            self._state_last[device] = payload
        return min(waits, default=None)


def _status(*, online: bool) -> bytes:
    return ONLINE if online else OFFLINE


def _str_or_none(path: Path | None) -> str | None:
    return None if path is None else str(path)

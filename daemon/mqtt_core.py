"""Pure logic with the outbox as its only I/O. The MQTT bridge's sending rules, without a socket.

`BridgeCore` decides what goes to the broker and in which order; `daemon/mqtt.py` (the shell)
only carries its decisions out over aiomqtt. Time comes in as an argument (seconds on a
monotonic clock), so every rule is testable without a broker or a clock:

* Telemetry (`{base}/<device>/state`) is latest-wins: each device keeps one pending payload,
  sent at most `max_state_rate_hz` times a second and never queued up while offline. A
  payload equal to the one the broker already has is not sent again.
* Slow retained state (`{base}/flags`, `{base}/run`, availability) is latest-wins per topic
  and re-sent after every reconnect, so the broker's copy is always the newest one.
* Prompts are written to the outbox first and fed from it in order, each marked sent after
  the broker has acknowledged it. A prompt the outbox cannot store is kept in memory.
* Rejected commands are reported on `{base}/error`, rate-limited and summed up in a flood
  (`daemon/error_reports.py`).
* A command is applied only when it arrives live. After applying one, the core clears any
  retained copy on its topic (an empty retained message) so that it cannot come back on the
  next subscribe; a retained copy that does come back is refused, reported and cleared.
* `homeassistant/status` = `online` schedules a re-publish of discovery, then of all retained
  state and the latest telemetry, after a random delay of up to `ha_online_jitter_s`.
"""

from __future__ import annotations

import enum
import logging
import math
import random
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from treadwell.daemon import topics
from treadwell.daemon.error_reports import ErrorReports
from treadwell.daemon.messages import CommandError, parse_command
from treadwell.daemon.store import StateStoreError
from treadwell.drivers.errors import TreadwellError

if TYPE_CHECKING:
    from collections.abc import Callable

    from treadwell.daemon.messages import Command
    from treadwell.daemon.outbox import Outbox, OutboxItem

_LOGGER = logging.getLogger(__name__)

PROMPT_QOS = 2  # exactly once from the broker to each subscriber, across broker restarts
ONLINE = b"online"
OFFLINE = b"offline"
RETAINED_REFUSED = (
    "a retained command is not applied when it is replayed on subscribe; the retained copy"
    " has been cleared (publish commands without retain)"
)


class Source(enum.Enum):
    """Which rule a publish comes from (the core needs it back in `published`)."""

    CONNECT = enum.auto()
    DISCOVERY = enum.auto()
    RETAINED = enum.auto()
    CLEAR = enum.auto()
    PROMPT = enum.auto()
    UNSTORED = enum.auto()
    ERROR = enum.auto()
    STATE = enum.auto()


@dataclass(frozen=True, slots=True)
class Publish:
    """One message the shell is to publish, then confirm with `BridgeCore.published`."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    source: Source
    key: str | int = ""


class BridgeCore:
    """The sending rules of the MQTT bridge (see the module docstring).

    Args:
        base: The daemon's base topic.
        devices: Slugs of the configured treadmills.
        runners: Slugs of the configured runners (empty: runner names are not checked).
        outbox: Where prompts wait until the broker has them.
        on_command: Called with every valid command; a `TreadwellError` it raises is reported.
        max_state_rate_hz: At most this many state messages a second per device.
        discovery_prefix: Home Assistant's discovery prefix.
        discovery: Returns the retained discovery messages (topic, payload).
        on_ha_online: Called when Home Assistant comes online, before the re-publish.
        ha_online_jitter_s: Upper bound of the random delay before that re-publish.
        jitter: Returns a number in [0, 1); the fraction of `ha_online_jitter_s` to wait.
        wall_clock: The time of day, for `received_at` in error reports.
    """

    def __init__(
        self,
        *,
        base: str,
        devices: tuple[str, ...],
        runners: tuple[str, ...] = (),
        outbox: Outbox,
        on_command: Callable[[Command], None],
        max_state_rate_hz: float = 2.0,
        discovery_prefix: str = "homeassistant",
        discovery: Callable[[], list[tuple[str, bytes]]] = list,
        on_ha_online: Callable[[], None] | None = None,
        ha_online_jitter_s: float = 5.0,
        jitter: Callable[[], float] = random.random,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.base = base
        self.ha_status_topic = topics.ha_status(discovery_prefix)
        self._devices = devices
        self._runners = runners
        self._outbox = outbox
        self._on_command = on_command
        self._state_interval = 1.0 / max_state_rate_hz
        self._discovery = discovery
        self._on_ha_online = on_ha_online
        self._ha_jitter_s = ha_online_jitter_s
        self._jitter = jitter
        self._state_pending: dict[str, bytes] = {}
        self._state_last: dict[str, bytes] = {}
        self._state_sent_at: dict[str, float] = {}
        self._retained: dict[str, tuple[bytes, int]] = {}
        self._dirty: dict[str, None] = {}  # an ordered set of retained topics to (re)send
        self._clears: dict[str, None] = {}  # command topics whose retained copy to clear
        self._echoes: dict[str, int] = {}  # our own clears still to come back to us
        self._urgent: deque[tuple[str, bytes]] = deque()  # discovery to re-publish
        self._prompts: deque[OutboxItem] = deque()
        self._outbox_dirty = True
        self._sent_unrecorded: set[int] = set()
        self._unstored: dict[str, tuple[str, bytes]] = {}  # prompts the outbox could not take
        self._reports = ErrorReports(wall_clock)
        self._rediscover_at: float | None = None

    # -- producers -----------------------------------------------------------------------

    def publish_state(self, device: str, payload: bytes) -> None:
        """Queue a device's latest state unless the broker has it or it is already waiting."""
        queued = self._state_pending.get(device)
        if payload == (queued if queued is not None else self._state_last.get(device)):
            return
        self._state_pending[device] = payload

    def publish_retained(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Queue retained state; the latest payload per topic wins and is re-sent on connect."""
        self._retained[topic] = (payload, qos)
        self._dirty[topic] = None

    def publish_prompt(self, message_id: str, payload: bytes, topic: str | None = None) -> None:
        """Store a prompt for `topic` (default `{base}/prompt`) in the outbox, or in memory."""
        where = topic or topics.prompt(self.base)
        try:
            self._outbox.add(message_id, where, payload, PROMPT_QOS)
        except StateStoreError as exc:
            _LOGGER.error("MQTT: prompt %s kept in memory only: %s", message_id, exc)  # noqa: TRY400
            self._unstored.setdefault(message_id, (where, payload))
        self._outbox_dirty = True

    def report_error(self, topic: str, error: str, now: float) -> None:
        """Report a rejected command on `{base}/error`, rate-limited."""
        self._reports.report(topic, error, now)

    def dropped(self, topic: str) -> None:
        """Count a command dropped unread (the incoming queue was full); it joins the summary."""
        self._reports.dropped(topic)

    @property
    def suppressed(self) -> int:
        """Rejected or dropped commands counted but not yet reported."""
        return self._reports.suppressed

    # -- connection and incoming messages ------------------------------------------------

    def connection_made(self) -> list[Publish]:
        """A new connection: what to publish before anything else; re-send all retained state.

        These go out before the rest and need no `published` call.
        """
        self._dirty = dict.fromkeys(self._retained)
        self._prompts.clear()
        self._outbox_dirty = True
        self._urgent.clear()
        return [
            Publish(topics.status(self.base), ONLINE, 1, True, Source.CONNECT),
            *(Publish(t, p, 1, True, Source.CONNECT) for t, p in self._discovery()),
        ]

    def receive(self, topic: str, payload: bytes, *, retained: bool, now: float) -> None:
        """Handle one incoming message: Home Assistant's status or a command."""
        if topic == self.ha_status_topic:
            if payload == ONLINE:
                self._rediscover_at = now + self._jitter() * self._ha_jitter_s
            return
        if not payload and self._echoes.get(topic, 0) > 0:
            self._echoes[topic] -= 1  # our own clearing of a retained copy, coming back
            return
        if retained:
            self.report_error(topic, RETAINED_REFUSED, now)
            self._clears[topic] = None
            return
        try:
            command = parse_command(
                topic, payload, base=self.base, devices=self._devices, runners=self._runners
            )
        except CommandError as exc:
            self.report_error(topic, exc.message, now)
            return
        try:
            self._on_command(command)
        except TreadwellError as exc:
            self.report_error(topic, str(exc), now)
            return
        self._clears[topic] = None

    # -- outgoing ------------------------------------------------------------------------

    @property
    def prompts_waiting(self) -> bool:
        """Whether a prompt handed to the bridge is not yet acknowledged by the broker."""
        return bool(self._prompts) or self._outbox_dirty or bool(self._unstored)

    @property
    def state_waiting(self) -> bool:
        """Whether a treadmill's state is queued and not yet handed out."""
        return bool(self._state_pending)

    def only_state_due(self, now: float) -> bool:
        """Whether nothing but treadmill state can be due now.

        Then `next_publish` does nothing but hand out state, and the state it hands out is
        the message that would go first.
        """
        rediscover = self._rediscover_at is not None and now >= self._rediscover_at
        return not (
            self._urgent
            or self._dirty
            or self._clears
            or self._prompts
            or self._outbox_dirty
            or self._unstored
            or self._reports.waiting
            or rediscover
        )

    def next_publish(self, now: float, *, qos0_only: bool = False) -> Publish | None:
        """The next message to publish now, if any; confirm it with `published`.

        Publish what it returns at once: a clearing message counts as sent when picked (the
        broker may hand it back to the daemon before it acknowledges it). With `qos0_only`
        (while a message waits for its acknowledgement) only telemetry is handed out.
        """
        if qos0_only:  # telemetry may pass a message waiting for its acknowledgement
            return self._next_state(now)
        self._maybe_rediscover(now)
        for pick in (
            self._next_urgent,
            self._next_retained,
            self._next_clear,
            self._next_prompt,
            self._next_error,
        ):
            item = pick(now)
            if item is not None:
                return item
        return self._next_state(now)

    def published(self, item: Publish, now: float) -> None:
        """The broker has `item` (or, for QoS 0, it is on its way)."""
        match item.source:
            case Source.CONNECT:
                pass
            case Source.DISCOVERY:
                self._urgent.popleft()
            case Source.RETAINED:
                if self._retained.get(item.topic) == (item.payload, item.qos):
                    self._dirty.pop(item.topic, None)
            case Source.CLEAR:
                pass  # counted when picked: its echo can arrive before the acknowledgement
            case Source.PROMPT:
                self._prompts.popleft()
                self._record_sent(int(item.key))
            case Source.UNSTORED:
                self._unstored.pop(str(item.key), None)
            case Source.ERROR:
                self._reports.sent()
            case Source.STATE:
                self._state_sent_at[item.topic] = now
                self._state_last[str(item.key)] = item.payload
                if self._state_pending.get(str(item.key)) == item.payload:
                    del self._state_pending[str(item.key)]

    def state_due_at(self, device: str) -> float | None:
        """When `device`'s waiting state may go out (None: none waits; -inf: at once)."""
        return self._state_due(device) if device in self._state_pending else None

    def _state_due(self, device: str) -> float:
        """When a state for `device` may go out: its slot after the last one (-inf: none sent)."""
        last = self._state_sent_at.get(topics.device_state(self.base, device))
        return -math.inf if last is None else last + self._state_interval

    def wake_in(self, now: float) -> float | None:
        """Seconds until something not due yet becomes due (None: nothing scheduled)."""
        waits: list[float] = []
        if self._rediscover_at is not None:
            waits.append(max(0.0, self._rediscover_at - now))
        if (report_wait := self._reports.wake_in(now)) is not None:
            waits.append(report_wait)
        for device in self._state_pending:
            due = self._state_due(device)
            if due > -math.inf:
                waits.append(max(0.0, due - now))
        return min(waits, default=None)

    def _maybe_rediscover(self, now: float) -> None:
        if self._rediscover_at is None or now < self._rediscover_at:
            return
        self._rediscover_at = None
        _LOGGER.info("MQTT: Home Assistant is online; re-publishing discovery")
        if self._on_ha_online is not None:
            self._on_ha_online()
        self._urgent.extend(self._discovery())
        self._dirty = dict.fromkeys(self._retained)
        for device, payload in self._state_last.items():
            self._state_pending.setdefault(device, payload)

    def _next_urgent(self, _now: float) -> Publish | None:
        if not self._urgent:
            return None
        topic, payload = self._urgent[0]
        return Publish(topic, payload, 1, True, Source.DISCOVERY)

    def _next_retained(self, _now: float) -> Publish | None:
        if not self._dirty:
            return None
        topic = next(iter(self._dirty))
        payload, qos = self._retained[topic]
        return Publish(topic, payload, qos, True, Source.RETAINED)

    def _next_clear(self, _now: float) -> Publish | None:
        if not self._clears:
            return None
        topic = next(iter(self._clears))
        del self._clears[topic]
        self._echoes[topic] = self._echoes.get(topic, 0) + 1
        return Publish(topic, b"", 1, True, Source.CLEAR)

    def _next_prompt(self, _now: float) -> Publish | None:
        if not self._prompts and self._outbox_dirty:
            self._outbox_dirty = False
            try:
                pending = self._outbox.pending()
            except StateStoreError as exc:
                _LOGGER.error("MQTT: prompts wait, the outbox cannot be read: %s", exc)  # noqa: TRY400
                pending = []
            self._prompts.extend(i for i in pending if i.seq not in self._sent_unrecorded)
        if self._prompts:
            item = self._prompts[0]
            return Publish(item.topic, item.payload, item.qos, item.retain, Source.PROMPT, item.seq)
        if self._unstored:
            message_id, (topic, payload) = next(iter(self._unstored.items()))
            return Publish(topic, payload, PROMPT_QOS, False, Source.UNSTORED, message_id)
        return None

    def _record_sent(self, seq: int) -> None:
        try:
            self._outbox.mark_sent(seq)
        except StateStoreError as exc:
            # Remember it here so it is not sent again while the daemon runs.
            _LOGGER.error("MQTT: prompt %d was sent but cannot be marked: %s", seq, exc)  # noqa: TRY400
            self._sent_unrecorded.add(seq)

    def _next_error(self, now: float) -> Publish | None:
        report = self._reports.next(now)
        if report is None:
            return None
        return Publish(topics.error(self.base), report, 1, False, Source.ERROR)

    def _next_state(self, now: float) -> Publish | None:
        for device, payload in self._state_pending.items():
            topic = topics.device_state(self.base, device)
            last = self._state_sent_at.get(topic)
            if last is None or now - last >= self._state_interval:
                return Publish(topic, payload, 0, True, Source.STATE, device)
        return None

"""I/O. The MQTT bridge's incoming side: a bounded queue, and reading the socket in bursts.

aiomqtt puts every incoming message into a queue and reads one packet from the socket per turn
of the event loop. In a flood of commands that queue grows without bound, and the broker's
acknowledgements of the daemon's own messages wait behind every command not read yet.

`Inbox` is the queue aiomqtt is given: at most `max_messages` messages and about `max_bytes`
of payload (one message always fits, however large, so that it can be reported). What does not
fit is dropped unread and handed to `on_drop`, which counts it in the error report.
`read_burst` reads what the socket has, many packets per turn; the bridge does it greedily
(dropping what does not fit) only while it waits for an acknowledgement, and otherwise stops
when the queue is full, leaving the rest to TCP and the broker.
"""

from __future__ import annotations

import asyncio
import select
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiomqtt
from paho.mqtt.enums import MQTTErrorCode

if TYPE_CHECKING:
    from collections.abc import Callable

MAX_MESSAGES = 1000
"""Incoming messages waiting to be handled at most."""
MAX_BYTES = 4 * 1024 * 1024
"""Payload bytes waiting to be handled at most (beyond one message)."""
READ_BURST = 1000
"""Packets read from the socket at most per call of `read_burst`."""


@dataclass(slots=True)
class InboxStats:
    """Counters over every connection of one bridge.

    Attributes:
        received: Incoming messages so far.
        dropped: Of those, dropped unread because the queue was full.
        peak_messages: The most messages that ever waited at once.
        peak_bytes: The most payload bytes that ever waited at once.
    """

    received: int = 0
    dropped: int = 0
    peak_messages: int = 0
    peak_bytes: int = 0


def inbox_type(
    stats: InboxStats,
    on_drop: Callable[[str], None],
    on_create: Callable[[Inbox], None],
    *,
    max_bytes: int = MAX_BYTES,
) -> type[asyncio.Queue[aiomqtt.Message]]:
    """The queue class to give aiomqtt (`queue_type`); it calls `on_create` with each queue."""

    class BoundInbox(Inbox):
        def __init__(self, maxsize: int = MAX_MESSAGES) -> None:
            super().__init__(stats, on_drop, maxsize=maxsize, max_bytes=max_bytes)
            on_create(self)

    return BoundInbox


class Inbox(asyncio.Queue[aiomqtt.Message]):
    """A queue of incoming messages bounded by count and payload bytes; it drops the excess.

    Args:
        stats: Where to count.
        on_drop: Called with the topic of each message dropped.
        maxsize: At most this many messages.
        max_bytes: At most about this many payload bytes.
    """

    def __init__(
        self,
        stats: InboxStats,
        on_drop: Callable[[str], None],
        *,
        maxsize: int = MAX_MESSAGES,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        super().__init__(maxsize)
        self._stats = stats
        self._on_drop = on_drop
        self._max_bytes = max_bytes
        self.bytes = 0
        """Payload bytes waiting now."""

    def has_room(self) -> bool:
        """Whether another command-sized message fits."""
        return not self.full() and self.bytes < self._max_bytes

    def put_nowait(self, item: aiomqtt.Message) -> None:
        """Queue `item`, or drop and count it when it does not fit."""
        stats = self._stats
        stats.received += 1
        size = _size(item.payload)
        if not self.empty() and (self.full() or self.bytes + size > self._max_bytes):
            stats.dropped += 1
            self._on_drop(item.topic.value)
            return
        super().put_nowait(item)
        self.bytes += size
        stats.peak_messages = max(stats.peak_messages, self.qsize())
        stats.peak_bytes = max(stats.peak_bytes, self.bytes)

    def get_nowait(self) -> aiomqtt.Message:
        """Take the oldest message (`get` comes through here too)."""
        item = super().get_nowait()
        self.bytes -= _size(item.payload)
        return item


def read_burst(client: aiomqtt.Client, inbox: Inbox | None, *, greedy: bool) -> None:
    """Read what the socket has now, up to `READ_BURST` packets.

    With `greedy`, read on when the queue is full (the excess is dropped and counted): the
    acknowledgement the daemon waits for may be behind it. Without, stop when it is full.

    Raises:
        aiomqtt.MqttError: If reading fails; the session then reconnects.
    """
    paho = client._client  # aiomqtt's paho client; aiomqtt's own reader calls the same
    sock = paho.socket()
    for _ in range(READ_BURST):
        if sock is None or inbox is None or not (greedy or inbox.has_room()):
            return
        pending = getattr(sock, "pending", None)
        if not ((pending is not None and pending() > 0) or select.select([sock], [], [], 0)[0]):
            return
        try:
            rc = paho.loop_read()
        except Exception as exc:
            msg = f"reading from the broker failed: {exc}"
            raise aiomqtt.MqttError(msg) from exc
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return  # paho has reported it; the next wait on aiomqtt raises


def _size(payload: object) -> int:
    return len(payload) if isinstance(payload, bytes | bytearray | str) else 0

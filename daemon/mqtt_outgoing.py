"""I/O. The MQTT bridge's outgoing side at QoS 0: written to the broker's socket in the same turn.

`aiomqtt.Client.publish` at QoS 0 queues the packet in paho, has the event loop watch the
socket for writing (one turn later, through `call_soon_threadsafe`), and waits, through
`asyncio.wait_for` (a task of its own on Python 3.11), for the turn in which paho writes it and
calls back. That is three or four turns of the loop, two `epoll_ctl` calls and a handful of
objects for every state message; at twenty treadmills it was most of what the bridge cost.

A QoS 0 message has nothing to wait for, and its packet is the simplest MQTT has: a fixed
header, the topic, and the payload (MQTT 3.1.1 §3.3; with MQTT 5 an empty property list after
the topic). `write_now` builds it and sends it on paho's socket, through paho's own send (which
knows TLS and WebSockets), when paho has nothing queued before it. paho's `publish` would do
the same with much more around it (a message id, a message-info object, topic checks, a debug
log line, its write queue and then `on_publish`, for which paho 2 builds a reason code and an
empty property set): more than the rest of a state message together.

What the socket does not take at once goes to the end of paho's write queue as a packet of its
own, and paho has the loop watch the socket; aiomqtt's writer callback finishes it when the
socket drains. While such a write is pending, `write_now` declines and the bridge publishes
through aiomqtt, which waits for the socket: back-pressure, so a slow broker never makes paho's
queue grow without bound. A send that fails is handed to paho in the same way, so that paho
meets the failure itself and ends the session as it always does.

QoS 1 and 2 messages always go through `aiomqtt.Client.publish`: they wait for the broker.
This reaches into paho's client as aiomqtt holds it (`client._client`; paho's `_sock`,
`_sock_send`, `_out_packet`, `_packet_queue`, `_protocol` and `_last_msg_out`, paho-mqtt 2.x);
tests/daemon/test_mqtt_outgoing.py holds it to that.
"""

from __future__ import annotations

import time

import aiomqtt
from paho.mqtt.client import MQTTMessageInfo, MQTTv5
from paho.mqtt.enums import MQTTErrorCode

__all__ = ["qos0_publish", "write_now"]

_PUBLISH = 0x30  # the PUBLISH packet type with QoS 0 and no DUP flag (MQTT 3.1.1 §3.3.1)
_WRITTEN = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN)
_NO_ID = 0  # QoS 0 packets carry no packet id; paho never hands out 0, so nothing waits on it


def qos0_publish(topic: bytes, payload: bytes, *, retain: bool, v5: bool = False) -> bytes:
    """The bytes of one QoS 0 PUBLISH packet for `topic` and `payload`.

    Raises:
        ValueError: the packet would be longer than MQTT allows (268,435,455 bytes after the
            fixed header), or the topic longer than 65,535 bytes.
    """
    if len(topic) > 0xFFFF:
        raise ValueError(f"a topic of {len(topic)} bytes is longer than MQTT allows")
    remaining = len(topic) + len(payload) + (3 if v5 else 2)
    if remaining > 268_435_455:
        raise ValueError(f"a packet of {remaining} bytes is longer than MQTT allows")
    header = bytearray((_PUBLISH | retain,))
    while remaining > 0x7F:  # the remaining length: 7 bits a byte, low bits first (§2.2.3)
        header.append(remaining & 0x7F | 0x80)
        remaining >>= 7
    header.append(remaining)
    header += len(topic).to_bytes(2, "big")
    return b"".join((header, topic, b"\x00" if v5 else b"", payload))


def write_now(client: aiomqtt.Client, topic: str, payload: bytes, *, retain: bool) -> bool:
    """Publish at QoS 0 and write it to the socket now; False (nothing done) if it is backed up.

    Raises:
        aiomqtt.MqttCodeError: not connected, or the write failed (the connection broke);
            the session then reconnects, as after a failed publish.
    """
    paho = client._client  # aiomqtt's paho client; aiomqtt's own publish calls the same
    if paho._out_packet:
        return False  # earlier messages still wait for the socket
    if paho._sock is None:
        raise aiomqtt.MqttCodeError(MQTTErrorCode.MQTT_ERR_NO_CONN, "Could not publish message")
    packet = qos0_publish(topic.encode(), payload, retain=retain, v5=paho._protocol == MQTTv5)
    try:
        sent = paho._sock_send(packet)
    except BlockingIOError:
        sent = 0  # paho has asked the loop to watch the socket
    except OSError:
        # paho meets the failure itself, in its own write: it closes the session as usual.
        paho._packet_queue(_PUBLISH, packet, _NO_ID, 0, MQTTMessageInfo(_NO_ID))
        rc = paho.loop_write()
        if rc not in _WRITTEN:
            raise aiomqtt.MqttCodeError(rc, "Could not write to the broker") from None
        return True
    if sent:
        paho._last_msg_out = time.monotonic()  # as paho's write does: keep-alive needs no ping
    if sent < len(packet):
        # The rest waits in paho's queue, and paho has the loop watch the socket for it.
        paho._packet_queue(_PUBLISH, packet[sent:], _NO_ID, 0, MQTTMessageInfo(_NO_ID))
    return True

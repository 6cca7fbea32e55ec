"""I/O. The MQTT bridge's outgoing side at QoS 0: handed to paho and written in the same turn.

`aiomqtt.Client.publish` at QoS 0 queues the packet in paho, has the event loop watch the
socket for writing (one turn later, through `call_soon_threadsafe`), and waits, through
`asyncio.wait_for` (a task of its own on Python 3.11), for the turn in which paho writes it and
calls back. That is three or four turns of the loop, two `epoll_ctl` calls and a handful of
objects for every state message; at twenty treadmills it was most of what the bridge cost.

A QoS 0 message has nothing to wait for. `write_now` hands it to paho as already watched (so
paho does not ask the loop to watch the socket) and has paho write it at once. Should the
socket not take all of it, paho then asks the loop to watch the socket as usual, and aiomqtt's
writer callback finishes the write when it drains. While such a write is pending, `write_now`
declines and the bridge publishes through aiomqtt, which waits for the socket: back-pressure,
so a slow broker never makes paho's queue grow without bound.

paho calls `on_publish` for every QoS 0 packet it finishes writing, and with callback API
version 2 it builds a reason code and an empty property set for the call: more than the rest
of the publish together. aiomqtt's callback only wakes its own publishes, and none of those
waits while `write_now` writes (nothing is queued then), so `write_now` lifts the callback for
its own write; the rest of a partial write, finished later by aiomqtt's writer, calls it as
usual, which does no harm.

QoS 1 and 2 messages always go through `aiomqtt.Client.publish`: they wait for the broker.
This reaches into paho's client as aiomqtt holds it (`client._client`, and paho's
`_registered_write` flag, paho-mqtt 2.x); tests/daemon/test_mqtt_outgoing.py holds it to that.
"""

from __future__ import annotations

import aiomqtt
from paho.mqtt.enums import MQTTErrorCode

_WRITTEN = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN)


def write_now(client: aiomqtt.Client, topic: str, payload: bytes, *, retain: bool) -> bool:
    """Publish at QoS 0 and write it to the socket now; False (nothing done) if it is backed up.

    Raises:
        aiomqtt.MqttCodeError: paho refused the message or the write (not connected, the
            connection broke); the session then reconnects, as after a failed publish.
    """
    paho = client._client  # aiomqtt's paho client; aiomqtt's own publish calls the same
    if paho.want_write():
        return False  # earlier messages still wait for the socket
    on_publish = paho.on_publish
    paho.on_publish = None  # nobody waits for this one (see the module docstring)
    try:
        paho._registered_write = True  # queue it without asking the loop to watch the socket
        try:
            info = paho.publish(topic, payload, 0, retain)
        finally:
            paho._registered_write = False
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        rc = paho.loop_write()  # what the socket does not take now, paho has the loop watch for
    finally:
        paho.on_publish = on_publish
    if rc not in _WRITTEN:
        raise aiomqtt.MqttCodeError(rc, "Could not write to the broker")
    return True

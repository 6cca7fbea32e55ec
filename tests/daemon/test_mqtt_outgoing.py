"""QoS 0 messages written in the same turn: they arrive in order; a full socket holds them back."""

from __future__ import annotations

import socket
import uuid
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from tests.support.mqtt_client import subscriber
from treadwell.daemon.mqtt_outgoing import write_now

if TYPE_CHECKING:
    from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt

TOPIC = "tw/out/state"


async def test_messages_written_now_reach_a_subscriber_in_order_and_leave_nothing_queued(
    mosquitto: Mosquitto,
) -> None:
    async with (
        subscriber(mosquitto, TOPIC, qos=0) as sub,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as client,
    ):
        written = [write_now(client, TOPIC, f"{n}".encode(), retain=False) for n in range(200)]
        assert all(written)
        assert not client._client.want_write()  # nothing left for the loop to write
        messages = await sub.wait_on(TOPIC, 200)
    assert [m.payload for m in messages] == [f"{n}".encode() for n in range(200)]


async def test_a_message_written_whole_calls_no_publish_callback(mosquitto: Mosquitto) -> None:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        paho = client._client
        theirs = paho.on_publish
        called: list[int] = []
        paho.on_publish = lambda *args: called.append(args[2])
        assert write_now(client, TOPIC, b"x", retain=False)
        assert called == []  # nothing waits for a QoS 0 message: nothing built to say so
        paho.on_publish = theirs
        await client.publish(TOPIC, b"z", qos=0)  # aiomqtt's own publish still hears back


async def test_with_mqtt_5_the_message_carries_an_empty_property_list_and_arrives(
    mosquitto: Mosquitto,
) -> None:
    topic = f"tw/out/v5/{uuid.uuid4().hex[:8]}"
    v5 = aiomqtt.ProtocolVersion.V5
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, protocol=v5) as client:
        assert write_now(client, topic, b'{"speed_kmh": 9.5}', retain=True)
        await client.publish(topic, b"", qos=1, retain=False)  # the session is in good order
        # Retained: a subscriber that comes later is handed it, flagged so.
        async with subscriber(mosquitto, topic, qos=0) as late:
            (kept,) = await late.wait_on(topic, 1)
        await client.publish(topic, b"", qos=1, retain=True)  # clear it again
    assert kept.payload == b'{"speed_kmh": 9.5}'
    assert kept.retain


async def test_a_message_the_socket_cannot_take_at_once_is_finished_by_the_loop(
    mosquitto: Mosquitto,
) -> None:
    big = bytes(range(256)) * 4096  # 1 MiB: more than the small send buffer below takes
    async with (
        subscriber(mosquitto, TOPIC, qos=0) as sub,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as client,
    ):
        sock = client._client.socket()
        assert isinstance(sock, socket.socket)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        assert write_now(client, TOPIC, big, retain=False)
        assert client._client.want_write()  # the rest waits for the socket
        # Backed up: the next one is declined untouched, and goes through aiomqtt, which
        # waits for the socket (the back-pressure the bridge relies on).
        assert not write_now(client, TOPIC, b"after", retain=False)
        await client.publish(TOPIC, b"after", qos=0)
        messages = await sub.wait_on(TOPIC, 2)
    assert [m.payload for m in messages] == [big, b"after"]


async def test_writing_without_a_connection_is_refused_with_paho_s_reason(
    mosquitto: Mosquitto,
) -> None:
    client = aiomqtt.Client(mosquitto.host, mosquitto.port)  # never connected
    with pytest.raises(aiomqtt.MqttCodeError, match="not currently connected") as raised:
        write_now(client, TOPIC, b"x", retain=False)
    assert raised.value.args == ("Could not publish message",)


async def test_a_write_on_a_broken_connection_is_reported(mosquitto: Mosquitto) -> None:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        sock = client._client.socket()
        assert isinstance(sock, socket.socket)
        sock.shutdown(socket.SHUT_WR)  # the next send fails: EPIPE
        with pytest.raises(aiomqtt.MqttCodeError, match="connection was lost") as raised:
            write_now(client, TOPIC, b"x", retain=False)
        with pytest.raises(aiomqtt.MqttError):  # and the client has seen the connection go
            await anext(client.messages)
    assert raised.value.args == ("Could not write to the broker",)

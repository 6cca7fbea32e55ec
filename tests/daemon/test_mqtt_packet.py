"""The QoS 0 PUBLISH packet `write_now` sends is byte for byte the one paho would send."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.client import Client, MQTTMessageInfo, MQTTv5, MQTTv311
from paho.mqtt.enums import CallbackAPIVersion

from treadwell.daemon.mqtt_outgoing import qos0_publish


def _paho_packet(topic: bytes, payload: bytes, *, retain: bool, v5: bool) -> bytes:
    """What paho's own publish path writes for the message, read off a socket pair."""
    paho = Client(CallbackAPIVersion.VERSION2, protocol=MQTTv5 if v5 else MQTTv311)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        theirs.setblocking(False)
        paho._sock = ours
        paho._send_publish(1, topic, payload, 0, retain, False, MQTTMessageInfo(1))
        assert not paho.want_write()  # written whole
        chunks = []
        while True:
            try:
                chunks.append(theirs.recv(1 << 20))
            except BlockingIOError:
                break
        paho._sock = None
    return b"".join(chunks)


# Remaining lengths around each step of MQTT's variable-length encoding (1 to 3 bytes here).
EDGES = [0, 1, 120, 121, 122, 125, 126, 127, 128, 16_378, 16_379, 16_380, 16_381, 16_382, 70_000]


@pytest.mark.parametrize("v5", [False, True])
@pytest.mark.parametrize("retain", [False, True])
@pytest.mark.parametrize("size", EDGES)
def test_the_packet_matches_paho_s_at_every_length_step(size: int, retain: bool, v5: bool) -> None:
    topic, payload = b"tw/deck/state", bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert qos0_publish(topic, payload, retain=retain, v5=v5) == _paho_packet(
        topic, payload, retain=retain, v5=v5
    )


@settings(max_examples=200, deadline=None)
@given(
    topic=st.text(min_size=1, max_size=80).map(str.encode),
    payload=st.binary(max_size=400),
    retain=st.booleans(),
    v5=st.booleans(),
)
def test_any_topic_and_payload_make_paho_s_packet(
    topic: bytes, payload: bytes, retain: bool, v5: bool
) -> None:
    assert qos0_publish(topic, payload, retain=retain, v5=v5) == _paho_packet(
        topic, payload, retain=retain, v5=v5
    )


def test_a_packet_longer_than_mqtt_allows_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than MQTT allows"):
        qos0_publish(b"t", bytes(268_435_455), retain=False)
    with pytest.raises(ValueError, match="topic of 65536 bytes"):
        qos0_publish(bytes(65_536), b"", retain=False)

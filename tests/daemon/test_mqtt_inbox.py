"""The bridge's bounded incoming queue: what fits waits, the rest is dropped and counted."""

from __future__ import annotations

import aiomqtt
import pytest

from treadwell.daemon.mqtt_inbox import Inbox, InboxStats, inbox_type


def message(payload: bytes, topic: str = "tw/checkin") -> aiomqtt.Message:
    return aiomqtt.Message(topic, payload, 0, False, 0, None)


def test_messages_past_the_count_bound_are_dropped_and_counted() -> None:
    stats = InboxStats()
    dropped: list[str] = []
    inbox = Inbox(stats, dropped.append, maxsize=3)
    for n in range(5):
        inbox.put_nowait(message(f"{n}".encode(), topic=f"tw/{n}/incline/set"))
    assert inbox.qsize() == 3
    assert (stats.received, stats.dropped, stats.peak_messages) == (5, 2, 3)
    assert dropped == ["tw/3/incline/set", "tw/4/incline/set"]
    assert [inbox.get_nowait().payload for _ in range(3)] == [b"0", b"1", b"2"]
    assert inbox.bytes == 0


def test_messages_past_the_byte_bound_are_dropped_but_one_always_fits() -> None:
    stats = InboxStats()
    inbox = Inbox(stats, lambda _: None, maxsize=100, max_bytes=10)
    inbox.put_nowait(message(bytes(1000)))  # larger than the bound, but the queue is empty
    inbox.put_nowait(message(b"x"))
    assert (inbox.qsize(), stats.dropped) == (1, 1)
    assert inbox.get_nowait().payload == bytes(1000)
    for _ in range(12):
        inbox.put_nowait(message(b"x"))
    assert inbox.qsize() == 10
    assert inbox.bytes == 10
    assert stats.peak_bytes == 1000
    assert stats.dropped == 3


async def test_room_comes_back_as_messages_are_taken() -> None:
    stats = InboxStats()
    inbox = Inbox(stats, lambda _: None, maxsize=2)
    inbox.put_nowait(message(b"a"))
    inbox.put_nowait(message(b"b"))
    assert not inbox.has_room()
    assert (await inbox.get()).payload == b"a"  # `get` goes through `get_nowait`
    assert inbox.has_room()
    assert inbox.bytes == 1


def test_the_class_given_to_aiomqtt_shares_the_counters_and_reports_each_queue() -> None:
    stats = InboxStats()
    made: list[Inbox] = []
    queue_type = inbox_type(stats, lambda _: None, made.append)
    first, second = queue_type(maxsize=1), queue_type(maxsize=1)
    first.put_nowait(message(b"1"))
    second.put_nowait(message(b"2"))
    second.put_nowait(message(b"3"))
    assert made == [first, second]
    assert (stats.received, stats.dropped) == (3, 1)


@pytest.mark.parametrize("payload", [b"", b"x" * 4096])
def test_a_message_taken_leaves_no_bytes_behind(payload: bytes) -> None:
    inbox = Inbox(InboxStats(), lambda _: None)
    inbox.put_nowait(message(payload))
    inbox.get_nowait()
    assert inbox.bytes == 0

"""The prompt outbox: order, idempotence, sent marks, pruning, persistence and bad stores."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadwell.daemon.outbox import Outbox
from treadwell.daemon.store import StateStoreError
from treadwell.drivers.errors import TreadwellError

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite") as box:
        yield box


def test_pending_messages_come_back_in_the_order_they_were_added(outbox: Outbox) -> None:
    for n in range(5):
        assert outbox.add(f"p{n}", "tw/prompt", f"payload {n}".encode(), 1)
    items = outbox.pending()
    assert [item.message_id for item in items] == ["p0", "p1", "p2", "p3", "p4"]
    assert [item.payload for item in items] == [f"payload {n}".encode() for n in range(5)]
    assert all(item.topic == "tw/prompt" and item.qos == 1 for item in items)
    assert all(not item.retain for item in items)
    assert all(item.created_at.tzinfo is not None for item in items)
    assert [item.seq for item in items] == sorted(item.seq for item in items)


def test_a_message_id_is_queued_once_even_after_it_was_sent(outbox: Outbox) -> None:
    assert outbox.add("p1", "tw/prompt", b"first", 1)
    assert not outbox.add("p1", "tw/prompt", b"second", 1)
    [item] = outbox.pending()
    assert item.payload == b"first"
    outbox.mark_sent(item.seq)
    assert not outbox.add("p1", "tw/prompt", b"third", 1)
    assert outbox.pending() == []


def test_marking_one_message_sent_leaves_the_others_pending(outbox: Outbox) -> None:
    for n in range(3):
        outbox.add(f"p{n}", "tw/prompt", b"x", 1)
    middle = outbox.pending()[1]
    outbox.mark_sent(middle.seq)
    assert [item.message_id for item in outbox.pending()] == ["p0", "p2"]


def test_retain_flag_and_qos_are_kept(outbox: Outbox) -> None:
    outbox.add("r", "tw/run", b"{}", 0, retain=True)
    [item] = outbox.pending()
    assert item.retain
    assert item.qos == 0


def test_prune_forgets_old_sent_messages_but_never_pending_ones(outbox: Outbox) -> None:
    outbox.add("sent", "tw/prompt", b"a", 1)
    outbox.add("waiting", "tw/prompt", b"b", 1)
    outbox.mark_sent(outbox.pending()[0].seq)
    assert outbox.prune(datetime.now(UTC) - timedelta(days=1)) == 0
    assert outbox.prune(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert [item.message_id for item in outbox.pending()] == ["waiting"]
    # A pruned id is forgotten, so it can be queued again.
    assert outbox.add("sent", "tw/prompt", b"again", 1)


def test_prune_needs_an_aware_cutoff(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        outbox.prune(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_pending_messages_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    with Outbox(path) as box:
        box.add("a", "tw/prompt", b"1", 1)
        box.add("b", "tw/prompt", b"2", 1)
        box.mark_sent(box.pending()[0].seq)
    with Outbox(path) as box:
        assert [item.message_id for item in box.pending()] == ["b"]
        assert not box.add("a", "tw/prompt", b"1", 1)


def test_a_missing_state_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StateStoreError, match="state directory") as info:
        Outbox(tmp_path / "no" / "such" / "dir" / "outbox.sqlite")
    assert isinstance(info.value, TreadwellError)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(b"this is not SQLite " * 100)
    with pytest.raises(StateStoreError, match="outbox"):
        Outbox(path)


def test_a_closed_outbox_reports_errors_as_state_store_errors(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite")
    box.add("a", "tw/prompt", b"1", 1)
    box.close()
    with pytest.raises(StateStoreError):
        box.add("b", "tw/prompt", b"2", 1)
    with pytest.raises(StateStoreError):
        box.pending()
    with pytest.raises(StateStoreError):
        box.mark_sent(1)
    with pytest.raises(StateStoreError):
        box.prune(datetime.now(UTC))


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(st.sampled_from([f"id{n}" for n in range(12)]), max_size=30))
def test_pending_holds_each_id_once_in_first_seen_order(ids: list[str]) -> None:
    with tempfile.TemporaryDirectory() as workdir, Outbox(Path(workdir) / "o.sqlite") as box:
        added = [box.add(message_id, "tw/prompt", message_id.encode(), 1) for message_id in ids]
        expected = list(dict.fromkeys(ids))
        assert [item.message_id for item in box.pending()] == expected
        assert sum(added) == len(expected)

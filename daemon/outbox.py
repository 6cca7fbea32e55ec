"""I/O. A SQLite outbox: prompts wait here until the broker has acknowledged them.

Every prompt is written here before it is published, and marked sent only after the broker's
PUBACK, so a prompt survives a broker outage and a daemon restart and goes out in order.

The MQTT sender calls this from the event loop. Each call is one short statement on a local
file in WAL mode (an INSERT, an UPDATE or a small SELECT of the pending rows), which is
cheaper than handing it to a thread; the outbox never holds more than the prompts of the
last few days.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from treadwell.daemon.sqlite_file import ClosingFile
from treadwell.daemon.store import StateStoreError

if TYPE_CHECKING:
    from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT NULL
)
"""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One queued message.

    Attributes:
        seq: Position in the outbox; messages go out in this order.
        message_id: The caller's id (a prompt's id); unique in the outbox.
        topic: Where to publish.
        payload: What to publish.
        qos: MQTT QoS.
        retain: Whether the broker should retain it.
        created_at: When it was queued (UTC).
    """

    seq: int
    message_id: str
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created_at: datetime


class Outbox(ClosingFile):
    """Messages that must reach the broker, in order, each once.

    Args:
        path: The SQLite file; created with its table when missing.

    Raises:
        StateStoreError: If the file cannot be opened or written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise _store_error(path, "open", exc) from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            self._db.close()
            raise _store_error(path, "create", exc) from exc

    def add(
        self, message_id: str, topic: str, payload: bytes, qos: int = 1, *, retain: bool = False
    ) -> bool:
        """Queue a message unless one with the same id was ever queued.

        Returns:
            True if it was queued now, False if the id was already queued or sent.

        Raises:
            StateStoreError: If the outbox cannot be written.
        """
        created = datetime.now(UTC).isoformat()
        try:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO outbox"
                " (message_id, topic, payload, qos, retain, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (message_id, topic, payload, qos, int(retain), created),
            )
        except sqlite3.Error as exc:
            raise _store_error(self.path, "write", exc) from exc
        return cursor.rowcount == 1

    def pending(self) -> list[OutboxItem]:
        """Messages not yet acknowledged by the broker, oldest first."""
        try:
            rows = self._db.execute(
                "SELECT seq, message_id, topic, payload, qos, retain, created_at"
                " FROM outbox WHERE sent_at IS NULL ORDER BY seq"
            ).fetchall()
        except sqlite3.Error as exc:
            raise _store_error(self.path, "read", exc) from exc
        return [
            OutboxItem(
                seq=seq,
                message_id=message_id,
                topic=topic,
                payload=bytes(payload),
                qos=qos,
                retain=bool(retain),
                created_at=datetime.fromisoformat(created_at),
            )
            for seq, message_id, topic, payload, qos, retain, created_at in rows
        ]

    def mark_sent(self, seq: int) -> None:
        """Record that the broker acknowledged message `seq`."""
        try:
            self._db.execute(
                "UPDATE outbox SET sent_at = ? WHERE seq = ? AND sent_at IS NULL",
                (datetime.now(UTC).isoformat(), seq),
            )
        except sqlite3.Error as exc:
            raise _store_error(self.path, "write", exc) from exc

    def prune(self, older_than: datetime) -> int:
        """Forget sent messages acknowledged before `older_than`; pending ones are kept.

        Their ids are forgotten too, so prune only well after a prompt could be re-issued.

        Returns:
            How many rows were removed.
        """
        if older_than.tzinfo is None:
            msg = "older_than must be timezone-aware"
            raise ValueError(msg)
        cutoff = older_than.astimezone(UTC).isoformat()
        try:
            cursor = self._db.execute(
                "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?", (cutoff,)
            )
        except sqlite3.Error as exc:
            raise _store_error(self.path, "write", exc) from exc
        return cursor.rowcount

    def close(self) -> None:
        """Close the database file."""
        self._db.close()


def _store_error(path: Path, action: str, exc: sqlite3.Error) -> StateStoreError:
    return StateStoreError(
        f"cannot {action} the prompt outbox {path}: {exc}; check that the state directory"
        " exists, is writable by the daemon's user and is not full"
    )

"""I/O. What the daemon's SQLite files share: a write transaction, and closing with `with`.

The state database (`store_db.Database`), the prompt outbox (`outbox.Outbox`) and the
per-second samples (`samples.SampleRecorder`) each own a connection in autocommit mode
(`isolation_level=None`), so a transaction is spelled out: `write_transaction`.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator
    from types import TracebackType

__all__ = ["ClosingFile", "write_transaction"]


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` (the write lock at once), `COMMIT`; `ROLLBACK` on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class ClosingFile:
    """A file that `with` closes: subclasses own a connection and define `close`."""

    def close(self) -> None:
        """Close the file."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

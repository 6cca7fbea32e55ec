"""I/O. Logging to stderr in a form journald understands, with secrets masked.

Under systemd (`$JOURNAL_STREAM` set) each line starts with a `<N>` syslog priority, which
journald strips and stores as the entry's priority, and carries no timestamp (journald
adds its own). By hand, lines carry a local timestamp instead.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterable

MASK = "********"

# Python level -> syslog priority (sd-daemon(3) prefixes).
_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def syslog_priority(levelno: int) -> int:
    """The syslog priority for a Python logging level (nearest level at or below it).

    Args:
        levelno: A logging level number.

    Returns:
        0-7 as used in journald's `<N>` line prefix.
    """
    for level in sorted(_PRIORITY, reverse=True):
        if levelno >= level:
            return _PRIORITY[level]
    return 7


class JournalFormatter(logging.Formatter):
    """`<N>logger: message`, with no timestamp: journald stamps and prioritises lines itself."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Format the record with its syslog priority prefixed on every line."""
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


class SecretFilter(logging.Filter):
    """Replaces known secret strings (such as the MQTT password) in every record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Mask `secret` from now on (empty or very short strings are ignored)."""
        if len(secret) >= 3:
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message if it contains a secret; never drops it."""
        if not self._secrets:
            return True
        message = record.getMessage()
        masked = message
        for secret in self._secrets:
            masked = masked.replace(secret, MASK)
        if masked != message:
            record.msg = masked
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            for secret in self._secrets:
                record.exc_text = record.exc_text.replace(secret, MASK)
        return True


SECRET_FILTER = SecretFilter()
"""The filter installed on Treadwell's handler; call `SECRET_FILTER.add(password)`."""


def setup_logging(
    level: str | int,
    *,
    journald: bool | None = None,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send log records to stderr, journald-friendly, replacing any earlier Treadwell handler.

    Args:
        level: The root level, a name such as "INFO" or a number.
        journald: Force the journald format on or off; None detects `$JOURNAL_STREAM`.
        secrets: Strings to mask wherever they appear (e.g. the MQTT password).
        stream: Where to write (defaults to `sys.stderr`, looked up at call time).

    Returns:
        The installed handler.
    """
    if journald is None:
        journald = bool(os.environ.get("JOURNAL_STREAM"))
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name("treadwell")
    if journald:
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    for secret in secrets:
        SECRET_FILTER.add(secret)
    handler.addFilter(SECRET_FILTER)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "treadwell"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # APScheduler logs every job run at INFO; the prompts are logged by Treadwell itself.
    quiet = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    logging.getLogger("apscheduler").setLevel(quiet)
    return handler

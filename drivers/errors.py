"""Pure. The project's error hierarchy: one root, `TreadwellError`.

Third-party exceptions (bleak, the OS, aiomqtt) are translated into these once, at the edge,
with advice a user can act on.
"""

from __future__ import annotations


class TreadwellError(Exception):
    """Root of every error Treadwell raises on purpose."""


class CodecError(TreadwellError):
    """Bytes that cannot be the characteristic they claim to be (carries them as hex)."""

    def __init__(self, message: str, data: bytes | bytearray | memoryview) -> None:
        self.data = bytes(data)
        super().__init__(f"{message} (data: {self.data.hex(' ') or 'empty'})")

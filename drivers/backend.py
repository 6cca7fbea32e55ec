"""Pure. Which bleak backend classes the drivers use: the platform's own or a custom one.

bleak 3.1 accepts a backend class on both `BleakScanner` and `BleakClient`; the drivers pass
`backend.scanner` and `backend.client` through unchanged, so the same link code runs against
BlueZ on a Raspberry Pi and against the in-process virtual world in tests and the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bleak.backends.client import BaseBleakClient
    from bleak.backends.scanner import BaseBleakScanner


@dataclass(frozen=True, slots=True)
class BleBackend:
    """The bleak scanner and client classes to use.

    Attributes:
        scanner: A `BaseBleakScanner` subclass, or None for bleak's platform default.
        client: A `BaseBleakClient` subclass, or None for bleak's platform default.
        name: A short label for logs and `treadwell scan` ("bleak", "virtual").
    """

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None
    name: str = "bleak"

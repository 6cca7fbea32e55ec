"""Helpers for the virtual world tests: collect notifications and wait for the next one."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bleak import BleakClient

from treadwell.drivers.codec.ftms import parse_control_point_response
from treadwell.drivers.uuids import CONTROL_POINT_UUID

if TYPE_CHECKING:
    from bleak.backends.characteristic import BleakGATTCharacteristic

    from treadwell.drivers.codec.ftms import ControlPointResponse
    from treadwell.drivers.virtual.world import VirtualWorld


class Inbox:
    """A notification callback that keeps every value and lets a test await the next one."""

    def __init__(self) -> None:
        self.items: list[bytes] = []
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()

    def __call__(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        self.items.append(bytes(data))
        self._queue.put_nowait(bytes(data))

    async def next(self, within_s: float = 5.0) -> bytes:
        async with asyncio.timeout(within_s):
            return await self._queue.get()

    async def fresh(self, within_s: float = 5.0) -> bytes:
        """Forget what arrived so far and wait for the next value."""
        while not self._queue.empty():
            self._queue.get_nowait()
        return await self.next(within_s)

    async def nothing_within(self, seconds: float) -> bool:
        try:
            await self.next(seconds)
        except TimeoutError:
            return True
        return False


def client_for(world: VirtualWorld, address: str, **kwargs: object) -> BleakClient:
    return BleakClient(address, backend=world.backend.client, **kwargs)  # type: ignore[arg-type]


async def control(client: BleakClient, inbox: Inbox, request: bytes) -> ControlPointResponse:
    """Write a control-point request and return the indication that answers it."""
    await client.write_gatt_char(CONTROL_POINT_UUID, request, response=True)
    return parse_control_point_response(await inbox.next())

"""I/O. What every virtual peripheral shares: a Bumble device, advertising, links, a ticker.

Each peripheral is a Bumble `Device` with its own `VirtualController` on the world's
`LocalLink`. Time comes from the running loop only (`loop.time()`, `asyncio.sleep`), so a
peripheral runs on a virtual clock such as looptime's, and on the real clock for the demo; the
world's `speedup` divides every period and multiplies every elapsed time.

"Switched off" is a disconnect from the peripheral side with reason 0x08 (connection timeout),
which is what a central sees when a treadmill loses power (docs/virtual-ble.md quirk 7).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from bumble import core, gatt, hci
from bumble.device import Connection, Device

from treadwell.drivers.virtual.controller import VirtualController

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from bumble.link import LocalLink

_LOGGER = logging.getLogger(__name__)

LINK_LOST_REASON = hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR
# While connected, a peripheral advertises slowly (as real ones do), so a second central can
# still find it without the advertising timers dominating a long run on a virtual clock.
CONNECTED_ADVERTISING_INTERVAL_MS = 1000.0
CCCD_NOTIFY = 0x0001
CCCD_INDICATE = 0x0002


def notifying(uuid: str) -> gatt.Characteristic[bytes]:
    """A notify-only characteristic (its value goes out with `VirtualPeripheral.notify`)."""
    return gatt.Characteristic(
        uuid, gatt.Characteristic.Properties.NOTIFY, gatt.Characteristic.READABLE, b""
    )


def read_only(uuid: str, value: bytes) -> gatt.Characteristic[bytes]:
    """A characteristic that can only be read and always reads `value`."""
    return gatt.Characteristic(
        uuid, gatt.Characteristic.Properties.READ, gatt.Characteristic.READABLE, value
    )


class VirtualPeripheral:
    """Base of the virtual treadmill, strap and footpod (not used on its own)."""

    def __init__(
        self,
        *,
        link: LocalLink,
        address: str,
        name: str,
        speedup: float,
        advertising_interval_ms: float,
    ) -> None:
        """Create the Bumble device; `start()` powers it on and advertises."""
        if speedup <= 0:
            raise ValueError(f"speedup must be > 0, got {speedup!r}")
        self.address = address.upper()
        self.name = name
        self.speedup = speedup
        self.advertising_interval_ms = advertising_interval_ms
        self.powered = False
        self._controller = VirtualController(name, link)
        self.device = Device.with_hci(
            name, hci.Address(address), self._controller, self._controller
        )
        self.device.on(Device.EVENT_CONNECTION, self._on_connection)
        self.connections: list[Connection] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._advertising_lock = asyncio.Lock()

    # -- subclass hooks -------------------------------------------------------------------------

    def services(self) -> list[gatt.Service]:
        """The GATT services this peripheral serves."""
        raise NotImplementedError

    def advertising_data(self) -> bytes:
        """The bytes to advertise."""
        raise NotImplementedError

    def period_s(self) -> float:
        """Seconds of simulated time between two ticks."""
        return 1.0

    async def tick(self, dt_s: float) -> None:
        """Advance the simulation by `dt_s` simulated seconds and notify subscribers."""
        del dt_s

    def on_link_lost(self, connection: Connection) -> None:
        """Forget per-connection state (control, subscriptions) when a link goes."""
        del connection

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Power on, serve the GATT database, advertise and start ticking."""
        self.device.add_services(self.services())
        await self.device.power_on()
        await self.power_on()
        self._ticker = asyncio.get_running_loop().create_task(
            self._run_ticker(), name=f"virtual-{self.address}-ticker"
        )

    async def close(self) -> None:
        """Stop ticking, drop every link and power the device off."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self.power_off()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.device.power_off()

    async def power_off(self) -> None:
        """Switch the device off: stop advertising and drop every link from this side."""
        self.powered = False
        async with self._advertising_lock:
            with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
                await self.device.stop_advertising()
        await self.drop_link()

    async def power_on(self) -> None:
        """Switch the device on: advertise, and keep advertising while connected or not."""
        if self.powered:
            return
        self.powered = True
        await self._advertise()

    async def _advertise(self) -> None:
        # Bumble stops advertising on every connection; re-advertising ourselves (instead of
        # Bumble's auto_restart) lets more than one central connect and lets power_off win.
        async with self._advertising_lock:
            if not self.powered:
                return
            interval = self.advertising_interval_ms
            if self.connections:
                interval = max(interval, CONNECTED_ADVERTISING_INTERVAL_MS)
            await self.device.start_advertising(
                advertising_data=self.advertising_data(),
                advertising_interval_min=interval,
                advertising_interval_max=interval,
            )

    async def drop_link(self) -> None:
        """Lose every link as if out of range; the device keeps advertising when powered."""
        for connection in list(self.connections):
            with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
                await connection.disconnect(reason=LINK_LOST_REASON)

    # -- helpers for subclasses ----------------------------------------------------------------

    def now(self) -> float:
        """Simulated seconds: the loop's clock times the speed-up."""
        return asyncio.get_running_loop().time() * self.speedup

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` in a task the peripheral owns (cancelled and awaited on close)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            _LOGGER.warning("%s: background task failed: %r", self.address, error)

    def subscribed(
        self, connection: Connection, characteristic: gatt.Characteristic[bytes], bit: int
    ) -> bool:
        """Whether `connection` enabled notifications/indications (`bit`) on `characteristic`."""
        cccds = self.device.gatt_server.subscribers.get(connection, {})
        value = cccds.get(characteristic.handle, b"\x00\x00")
        return bool(int.from_bytes(value[:2], "little") & bit)

    async def notify(
        self,
        characteristic: gatt.Characteristic[bytes],
        value: bytes,
        *,
        skip: Connection | None = None,
    ) -> None:
        """Notify `value` to every subscribed connection except `skip`."""
        for connection in list(self.connections):
            if connection is skip or not self.subscribed(connection, characteristic, CCCD_NOTIFY):
                continue
            with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
                await self.device.notify_subscriber(connection, characteristic, value)

    async def _run_ticker(self) -> None:
        last = self.now()
        while True:
            await asyncio.sleep(self.period_s() / self.speedup)
            now = self.now()
            await self.tick(now - last)
            last = now

    def _on_connection(self, connection: Connection) -> None:
        self.connections.append(connection)
        connection.on(Connection.EVENT_DISCONNECTION, lambda _reason: self._forget(connection))
        self.spawn(self._advertise())

    def _forget(self, connection: Connection) -> None:
        if connection in self.connections:
            self.connections.remove(connection)
        self.on_link_lost(connection)
        self.spawn(self._advertise())

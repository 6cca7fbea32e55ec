"""I/O. A bleak custom backend (scanner and client) over a Bumble central on a `LocalLink`.

bleak 3.1 takes a backend class on `BleakScanner(backend=...)` and `BleakClient(backend=...)`
but no way to hand that class a Bumble device, so `VirtualCentral.backend()` makes subclasses
that carry the central as a class attribute. The backend mirrors what BlueZ does, so the
drivers meet the same behaviour here as on a Raspberry Pi (docs/virtual-ble.md):

- ATT error responses become `BleakGATTProtocolError`;
- connecting by address scans first and raises `BleakDeviceNotFoundError`;
- a connect that does not complete in time raises `asyncio.TimeoutError`;
- losing the link during a request raises `BleakError`, never a stray `CancelledError`;
- `disconnected_callback` also fires when we disconnect ourselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid as uuid_module
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from bleak.assigned_numbers import gatt_char_props_to_strs
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core, hci
from bumble.device import Advertisement, Connection, Device, Peer

from treadwell.drivers.backend import BleBackend
from treadwell.drivers.virtual.advertising import AdvertisementParser, SeenAdvertisement
from treadwell.drivers.virtual.controller import VirtualController

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bleak.args import SizedBuffer
    from bumble.gatt_client import CharacteristicProxy, DescriptorProxy
    from bumble.link import LocalLink

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

# Real stacks ask for a large ATT MTU on connect; without it Bumble truncates every notification
# longer than 20 bytes silently (docs/virtual-ble.md quirk 7).
REQUESTED_MTU = 517
_DEFAULT_MTU = 23
_ATT_HEADER = 3


class VirtualCentral:
    """The Bumble central every virtual bleak scanner and client of one world shares.

    Bumble allows one scan state and one pending LE connect per device (quirk 8): scans are
    reference-counted and connects serialised behind a lock.
    """

    def __init__(self, device: Device) -> None:
        """Wrap a powered-on Bumble device; use `VirtualCentral.create` instead."""
        self.device = device
        self.connect_lock = asyncio.Lock()
        self._scan_users = 0
        self._scan_lock = asyncio.Lock()
        self._listeners: dict[object, Callable[[SeenAdvertisement], None]] = {}
        self._parser = AdvertisementParser()
        device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)

    @classmethod
    async def create(cls, link: LocalLink, address: str) -> VirtualCentral:
        """Build and power on a central on `link` (inside the loop that will use it).

        Args:
            link: The world's radio.
            address: The central's own random static address, e.g. ``"C0:00:00:00:00:00"``.

        Returns:
            The ready central.
        """
        controller = VirtualController("central", link)
        device = Device.with_hci("treadwell-central", hci.Address(address), controller, controller)
        await device.power_on()
        return cls(device)

    def backend(self) -> BleBackend:
        """Return bleak scanner and client classes bound to this central."""
        scanner = type("VirtualBleakScanner", (VirtualScanner,), {"central": self})
        client = type("VirtualBleakClient", (VirtualClient,), {"central": self})
        return BleBackend(scanner=scanner, client=client, name="virtual")

    def listen(self, listener: Callable[[SeenAdvertisement], None]) -> Callable[[], None]:
        """Call `listener` for every advertisement seen while scanning; returns an unsubscriber."""
        token = object()
        self._listeners[token] = listener
        return lambda: self._listeners.pop(token, None) and None

    async def start_scanning(self) -> None:
        """Scan while at least one user wants to."""
        async with self._scan_lock:
            self._scan_users += 1
            if self._scan_users == 1:
                self._parser.clear()
                await self.device.start_scanning(filter_duplicates=False)

    async def stop_scanning(self) -> None:
        """Release one scan user; stops the radio scan when the last one leaves."""
        async with self._scan_lock:
            self._scan_users = max(0, self._scan_users - 1)
            if self._scan_users == 0 and self.device.is_scanning:
                await self.device.stop_scanning()

    async def find(self, address: str, within_s: float) -> SeenAdvertisement | None:
        """Scan until `address` advertises, or return None after `within_s` seconds."""
        found: asyncio.Future[SeenAdvertisement] = asyncio.get_running_loop().create_future()
        wanted = address.upper()

        def on_seen(seen: SeenAdvertisement) -> None:
            if seen.address == wanted and not found.done():
                found.set_result(seen)

        remove = self.listen(on_seen)
        await self.start_scanning()
        try:
            async with asyncio.timeout(within_s):
                return await found
        except TimeoutError:
            return None
        finally:
            remove()
            await self.stop_scanning()

    async def close(self) -> None:
        """Stop scanning, drop every connection and power the central off."""
        self._listeners.clear()
        with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
            if self.device.is_scanning:
                await self.device.stop_scanning()
        for connection in list(self.device.connections.values()):
            with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
                await connection.disconnect()
        await self.device.power_off()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        seen = self._parser.parse(advertisement)
        if seen is None:
            return
        for listener in list(self._listeners.values()):
            listener(seen)


class VirtualScanner(BaseBleakScanner):
    """bleak scanner backend over a `VirtualCentral` (bound by `VirtualCentral.backend`)."""

    central: ClassVar[VirtualCentral]

    def __init__(
        self,
        detection_callback: Any,  # noqa: ANN401 - bleak's own callback alias
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,  # noqa: ANN401 - platform arguments (bluez=, cb=) do not apply
    ) -> None:
        """Create the scanner; bleak calls this, not user code."""
        del scanning_mode, kwargs
        super().__init__(detection_callback, service_uuids)
        self._remove_listener: Callable[[], None] | None = None

    async def start(self) -> None:
        """Start scanning for devices."""
        if self._remove_listener is not None:
            return
        self.seen_devices = {}
        self._remove_listener = self.central.listen(self._on_seen)
        await self.central.start_scanning()

    async def stop(self) -> None:
        """Stop scanning for devices."""
        if self._remove_listener is None:
            return
        self._remove_listener()
        self._remove_listener = None
        await self.central.stop_scanning()

    def _on_seen(self, seen: SeenAdvertisement) -> None:
        report_seen(self, seen)


def report_seen(scanner: BaseBleakScanner, seen: SeenAdvertisement) -> None:
    """Hand one advertisement to a bleak scanner backend's callbacks, as a platform backend does.

    It is dropped unless it names a service the scanner was asked for (if it was asked for any).
    """
    if not scanner.is_allowed_uuid(seen.data.service_uuids):
        return
    device = scanner.create_or_update_device(
        seen.address, seen.address, seen.data.local_name, seen, seen.data
    )
    scanner.call_detection_callbacks(device, seen.data)


class VirtualClient(BaseBleakClient):
    """bleak client backend over a `VirtualCentral` (bound by `VirtualCentral.backend`)."""

    central: ClassVar[VirtualCentral]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        **kwargs: Any,  # noqa: ANN401 - services=, bluez=, winrt= do not apply
    ) -> None:
        """Create the client; bleak calls this, not user code."""
        del kwargs
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self.address = self.address.upper()
        self._known = isinstance(address_or_ble_device, BLEDevice)
        self._device_name = (
            address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._connection: Connection | None = None
        self._mtu = _DEFAULT_MTU
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        """The advertised name, or the address when it is not known."""
        return self._device_name or self.address

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT MTU."""
        return self._mtu

    @property
    def is_connected(self) -> bool:
        """Whether the link is up."""
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:  # noqa: ANN401
        """Connect, exchange the MTU and discover every service, characteristic and descriptor.

        Raises:
            BleakDeviceNotFoundError: Connecting by address and nothing advertised it in time.
            TimeoutError: The device did not accept the connection in time.
            BleakError: The link failed while setting up.
        """
        del pair
        if self._connection is not None:
            return
        timeout = float(kwargs.get("timeout", self._timeout))
        if not self._known:
            seen = await self.central.find(self.address, timeout)
            if seen is None:
                raise BleakDeviceNotFoundError(
                    self.address, f"Device with address {self.address} was not found."
                )
            self._device_name = seen.data.local_name
        async with asyncio.timeout(timeout):
            await self.central.connect_lock.acquire()
        try:
            connection = await self.central.device.connect(
                hci.Address(self.address), timeout=timeout
            )
        except core.TimeoutError as exc:
            raise TimeoutError(f"{self.address}: connect timed out after {timeout} s") from exc
        except core.ConnectionError as exc:
            raise BleakError(f"{self.address}: connection failed: {exc}") from exc
        finally:
            self.central.connect_lock.release()
        self._connection = connection
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            await self._set_up(connection)
        except BaseException:
            await self.disconnect()
            raise

    async def _set_up(self, connection: Connection) -> None:
        peer = Peer(connection)
        self._mtu = await self._request(peer.request_mtu(REQUESTED_MTU))
        services = await self._request(peer.discover_services())
        collection = BleakGATTServiceCollection()
        for service in services:
            bleak_service = BleakGATTService(service, service.handle, _uuid128(service.uuid))
            collection.add_service(bleak_service)
            for char in await self._request(service.discover_characteristics()):
                bleak_char = BleakGATTCharacteristic(
                    char,
                    char.handle,
                    _uuid128(char.uuid),
                    list(gatt_char_props_to_strs(int(char.properties))),
                    lambda: self._mtu - _ATT_HEADER,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for desc in await self._request(char.discover_descriptors()):
                    collection.add_descriptor(
                        BleakGATTDescriptor(desc, desc.handle, _uuid128(desc.type), bleak_char)
                    )
        self.services = collection

    async def disconnect(self) -> None:
        """Disconnect; `disconnected_callback` fires as for any other disconnection."""
        connection = self._connection
        if connection is None:
            return
        with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
            await connection.disconnect()
        if self._connection is not None:  # the event did not arrive: the link is gone anyway
            self._on_disconnection(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)

    async def pair(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """Virtual devices need no pairing: nothing to do."""
        del args, kwargs

    async def unpair(self) -> None:
        """Virtual devices keep no bonds: nothing to do."""

    async def read_gatt_char(
        self,
        characteristic: BleakGATTCharacteristic,
        *,
        use_cached: bool = False,
        **kwargs: Any,  # noqa: ANN401
    ) -> bytearray:
        """Read a characteristic value from the device."""
        del use_cached, kwargs
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        return bytearray(await self._request(proxy.read_value()))

    async def read_gatt_descriptor(
        self,
        descriptor: BleakGATTDescriptor,
        *,
        use_cached: bool = False,
        **kwargs: Any,  # noqa: ANN401
    ) -> bytearray:
        """Read a descriptor value from the device."""
        del use_cached, kwargs
        proxy: DescriptorProxy = descriptor.obj
        return bytearray(await self._request(proxy.read_value()))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write a characteristic value, with or without a Write Response."""
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        await self._request(proxy.write_value(bytes(data), with_response=response))

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        """Write a descriptor value (always with response)."""
        proxy: DescriptorProxy = descriptor.obj
        await self._request(proxy.write_value(bytes(data), with_response=True))

    async def start_notify(
        self,
        characteristic: BleakGATTCharacteristic,
        callback: NotifyCallback,
        **kwargs: Any,  # noqa: ANN401
    ) -> None:
        """Enable notifications (or indications when that is all it has) and route them."""
        del kwargs
        proxy: CharacteristicProxy[bytes] = characteristic.obj

        def subscriber(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = subscriber
        await self._request(proxy.subscribe(subscriber, prefer_notify=True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications or indications on a characteristic."""
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        subscriber = self._subscribers.pop(characteristic.handle, None)
        await self._request(proxy.unsubscribe(subscriber, force=True))

    async def _request(self, request: Awaitable[_T]) -> _T:
        """Await one GATT request, translating Bumble's errors the way BlueZ reports them."""
        if self._connection is None:
            if asyncio.iscoroutine(request):
                request.close()
            raise BleakError("Not connected")
        try:
            return await request
        except att.ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from exc
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # Quirk 5: Bumble cancels in-flight requests when the link drops.
            raise BleakError(f"{self.address}: disconnected during a GATT request") from None
        except (core.BaseBumbleError, hci.HCI_Error) as exc:
            raise BleakError(f"{self.address}: GATT request failed: {exc}") from exc

    def _on_disconnection(self, reason: int) -> None:
        if self._connection is None:
            return
        _LOGGER.debug("%s: disconnected (reason 0x%02X)", self.address, reason)
        self._connection = None
        self._subscribers.clear()
        self._mtu = _DEFAULT_MTU
        if self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)


def _uuid128(uuid: core.UUID) -> str:
    """Bumble UUID -> the lowercase 128-bit string bleak matches on (short forms never match)."""
    return str(uuid_module.UUID(bytes=bytes(reversed(uuid.to_bytes(force_128=True)))))

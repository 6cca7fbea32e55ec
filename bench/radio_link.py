"""I/O. The measured process's end of the radio: a bleak backend over a Unix socket.

`Radio` is the socket's protocol: it sends requests (JSON) and receives replies, events
(advertisements, a link gone) and notifications (binary: connection id, handle, value), each
frame a 5-byte header (kind, body length) and a body. `Radio.backend()` gives bleak scanner
and client classes bound to it; they behave as the world's own virtual backend does (bleak's
errors, `disconnected_callback` on every disconnection), as `tests/perf/test_radio.py`
checks. The other end is `bench.radio`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import struct
from typing import TYPE_CHECKING, Any, ClassVar

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError

from treadwell.drivers.backend import BleBackend
from treadwell.drivers.virtual.advertising import SeenAdvertisement
from treadwell.drivers.virtual.backend import report_seen

if TYPE_CHECKING:
    from collections.abc import Callable

    from bleak.args import SizedBuffer
    from bleak.backends.device import BLEDevice

HEADER = struct.Struct(">BI")
"""Every frame's header: its kind and the length of its body."""
NOTIFY_PREFIX = struct.Struct(">IH")
"""A notification's body before the value: connection id and handle."""
REQUEST, REPLY, EVENT, NOTIFICATION = range(4)
_ATT_HEADER = 3


def frame(kind: int, body: bytes) -> bytes:
    """One frame of `kind` around `body`."""
    return HEADER.pack(kind, len(body)) + body


def json_frame(kind: int, message: dict[str, Any]) -> bytes:
    """One frame of `kind` carrying `message` as compact JSON."""
    return frame(kind, json.dumps(message, separators=(",", ":")).encode())


class Radio(asyncio.Protocol):
    """The measured process's end of the socket: requests out, replies and device events in."""

    def __init__(self) -> None:
        """Unconnected; use `RadioProcess`."""
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self.notify: dict[tuple[int, int], Callable[[bytearray], None]] = {}
        self.gone: dict[int, Callable[[], None]] = {}
        self.seen: dict[object, Callable[[dict[str, Any]], None]] = {}
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - a stream socket
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail whatever still waits; the links are gone with the radio."""
        del exc
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(BleakError("the radio process went away"))
        self._waiting.clear()
        for callback in list(self.gone.values()):
            callback()
        self.gone.clear()
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        """Cut the stream into frames and hand each where it belongs."""
        buffer = self._buffer
        buffer += data
        offset = 0
        size = len(buffer)
        while size - offset >= HEADER.size:
            kind, length = HEADER.unpack_from(buffer, offset)
            end = offset + HEADER.size + length
            if end > size:
                break
            start = offset + HEADER.size
            if kind == NOTIFICATION:
                key = NOTIFY_PREFIX.unpack_from(buffer, start)
                callback = self.notify.get(key)
                if callback is not None:
                    callback(buffer[start + NOTIFY_PREFIX.size : end])
            else:
                self._message(kind, json.loads(buffer[start:end]))
            offset = end
        del buffer[:offset]

    def _message(self, kind: int, message: dict[str, Any]) -> None:
        if kind == REPLY:
            future = self._waiting.pop(message["id"], None)
            if future is None or future.done():
                return
            if "error" in message:
                future.set_exception(_exception(message["error"]))
            else:
                future.set_result(message.get("result"))
        elif message["event"] == "seen":
            for listener in list(self.seen.values()):
                listener(message)
        else:
            callback = self.gone.pop(message["conn"], None)
            if callback is not None:
                callback()

    async def request(self, op: str, **args: Any) -> Any:  # noqa: ANN401 - JSON
        """Send one request and wait for its reply (raises bleak's errors, as bleak would)."""
        if self._transport is None or self._transport.is_closing():
            raise BleakError("the radio process went away")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self._transport.write(json_frame(REQUEST, {"id": request_id, "op": op, "args": args}))
        try:
            return await future
        finally:
            self._waiting.pop(request_id, None)

    def backend(self) -> BleBackend:
        """bleak scanner and client classes bound to this radio."""
        scanner = type("RadioBleakScanner", (RadioScanner,), {"radio": self})
        client = type("RadioBleakClient", (RadioClient,), {"radio": self})
        return BleBackend(scanner=scanner, client=client, name="radio")

    def close(self) -> None:
        """Close the socket."""
        if self._transport is not None:
            self._transport.close()


def _exception(error: dict[str, Any]) -> Exception:
    kind = error["type"]
    if kind == "protocol":
        return BleakGATTProtocolError(error["code"])
    if kind == "not_found":
        return BleakDeviceNotFoundError("", error["message"])
    if kind == "timeout":
        return TimeoutError(error["message"])
    return BleakError(error["message"])


class RadioScanner(BaseBleakScanner):
    """bleak scanner backend over a `Radio` (bound by `Radio.backend`)."""

    radio: ClassVar[Radio]

    def __init__(
        self,
        detection_callback: Any,  # noqa: ANN401 - bleak's own callback alias
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,  # noqa: ANN401 - platform arguments do not apply
    ) -> None:
        """Create the scanner; bleak calls this, not user code."""
        del scanning_mode, kwargs
        super().__init__(detection_callback, service_uuids)
        self._token: object | None = None

    async def start(self) -> None:
        """Start forwarding advertisements (the radio scans while any scanner does)."""
        if self._token is not None:
            return
        self.seen_devices = {}
        self._token = object()
        self.radio.seen[self._token] = self._on_seen
        if len(self.radio.seen) == 1:
            await self.radio.request("scan", on=True)

    async def stop(self) -> None:
        """Stop forwarding; the radio stops scanning when the last scanner stops."""
        if self._token is None:
            return
        self.radio.seen.pop(self._token, None)
        self._token = None
        if not self.radio.seen:
            with contextlib.suppress(BleakError):
                await self.radio.request("scan", on=False)

    def _on_seen(self, message: dict[str, Any]) -> None:
        data = AdvertisementData(
            local_name=message["name"],
            manufacturer_data={
                int(k): bytes.fromhex(v) for k, v in message["manufacturer"].items()
            },
            service_data={k: bytes.fromhex(v) for k, v in message["service_data"].items()},
            service_uuids=message["uuids"],
            tx_power=message["tx_power"],
            rssi=message["rssi"],
            platform_data=(),
        )
        report_seen(self, SeenAdvertisement(message["address"], data))


class RadioClient(BaseBleakClient):
    """bleak client backend over a `Radio` (bound by `Radio.backend`)."""

    radio: ClassVar[Radio]

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
        self._conn: int | None = None
        self._name = self.address
        self._mtu = 23

    @property
    def name(self) -> str:
        """The device's name as the radio knows it."""
        return self._name

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT MTU."""
        return self._mtu

    @property
    def is_connected(self) -> bool:
        """Whether the link is up."""
        return self._conn is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:  # noqa: ANN401
        """Connect through the radio and take its view of the services."""
        del pair
        if self._conn is not None:
            return
        timeout = float(kwargs.get("timeout", self._timeout))
        reply = await self.radio.request("connect", address=self.address, limit_s=timeout)
        conn: int = reply["conn"]
        self._conn, self._name, self._mtu = conn, reply["name"], reply["mtu"]
        self.radio.gone[conn] = self._on_gone
        self.services = self._collection(reply["services"])

    def _collection(self, services: list[dict[str, Any]]) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for entry in services:
            service = BleakGATTService(None, entry["handle"], entry["uuid"])
            collection.add_service(service)
            for char_entry in entry["chars"]:
                char = BleakGATTCharacteristic(
                    None,
                    char_entry["handle"],
                    char_entry["uuid"],
                    char_entry["properties"],
                    lambda: self._mtu - _ATT_HEADER,
                    service,
                )
                collection.add_characteristic(char)
                for handle, uuid in char_entry["descriptors"]:
                    collection.add_descriptor(BleakGATTDescriptor(None, handle, uuid, char))
        return collection

    async def disconnect(self) -> None:
        """Disconnect; `disconnected_callback` fires as for any other disconnection."""
        conn = self._conn
        if conn is None:
            return
        with contextlib.suppress(BleakError):
            await self.radio.request("disconnect", conn=conn)
        self._on_gone()

    def _on_gone(self) -> None:
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        self.radio.gone.pop(conn, None)
        for key in [key for key in self.radio.notify if key[0] == conn]:
            del self.radio.notify[key]
        if self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def pair(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """Virtual devices need no pairing: nothing to do."""
        del args, kwargs

    async def unpair(self) -> None:
        """Virtual devices keep no bonds: nothing to do."""

    def _connected(self) -> int:
        if self._conn is None:
            raise BleakError("Not connected")
        return self._conn

    async def read_gatt_char(
        self,
        characteristic: BleakGATTCharacteristic,
        *,
        use_cached: bool = False,
        **kwargs: Any,  # noqa: ANN401
    ) -> bytearray:
        """Read a characteristic value from the device."""
        del use_cached, kwargs
        return await self._read(characteristic.handle, descriptor=False)

    async def read_gatt_descriptor(
        self,
        descriptor: BleakGATTDescriptor,
        *,
        use_cached: bool = False,
        **kwargs: Any,  # noqa: ANN401
    ) -> bytearray:
        """Read a descriptor value from the device."""
        del use_cached, kwargs
        return await self._read(descriptor.handle, descriptor=True)

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write a characteristic value, with or without a Write Response."""
        await self._write(characteristic.handle, data, response=response, descriptor=False)

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        """Write a descriptor value (always with response)."""
        await self._write(descriptor.handle, data, response=True, descriptor=True)

    async def _read(self, handle: int, *, descriptor: bool) -> bytearray:
        conn = self._connected()
        value = await self.radio.request("read", conn=conn, handle=handle, descriptor=descriptor)
        return bytearray.fromhex(value)

    async def _write(
        self, handle: int, data: SizedBuffer, *, response: bool, descriptor: bool
    ) -> None:
        conn = self._connected()
        await self.radio.request(
            "write", conn=conn, handle=handle, data=bytes(data).hex(), response=response,
            descriptor=descriptor,
        )  # fmt: skip

    async def start_notify(
        self,
        characteristic: BleakGATTCharacteristic,
        callback: NotifyCallback,
        **kwargs: Any,  # noqa: ANN401
    ) -> None:
        """Enable notifications and route them to `callback`."""
        del kwargs
        conn = self._connected()
        self.radio.notify[(conn, characteristic.handle)] = callback
        try:
            await self.radio.request("notify", conn=conn, handle=characteristic.handle, on=True)
        except BaseException:
            self.radio.notify.pop((conn, characteristic.handle), None)
            raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications on a characteristic."""
        conn = self._connected()
        self.radio.notify.pop((conn, characteristic.handle), None)
        await self.radio.request("notify", conn=conn, handle=characteristic.handle, on=False)

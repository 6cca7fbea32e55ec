"""I/O. The bench's virtual world, in the measured process or in a process of its own.

    .venv/bin/python -m bench.radio --count N --socket PATH     # what `RadioProcess` starts

On a Raspberry Pi the radio work is not the daemon's: the controller runs the link layer and
bluetoothd and the kernel run the host stack, and the daemon reads each notification off
D-Bus. The virtual world emulates both ends of the radio in Python, at about a millisecond
of CPU a notification, so when it shares the measured process it dominates every CPU figure
and holds the event loop while the code under test waits. `RadioProcess` runs it the way a
radio runs instead: in a process of its own, reached over a Unix socket. The measured
process gets a bleak backend (`Radio.backend`) whose scanner and client forward every call
to the world's own virtual bleak backend there and receive advertisements, notifications and
disconnections back, much as bleak's BlueZ backend talks to bluetoothd.

The wire: frames of a 5-byte header (kind, body length) and a body. Requests, replies and
events carry JSON; a notification is binary (connection id, handle, value), so the measured
side decodes it with one `struct` call, as cheaply as any transport could hand it over.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import struct
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError

from treadwell.drivers.backend import BleBackend
from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig, VirtualTreadmill
from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path
    from types import TracebackType

    from bleak.args import SizedBuffer
    from bleak.backends.device import BLEDevice

NOTIFY_HZ = 4.0
SPEED_KMH = 18.0  # 1.25 m per notification at 4 Hz: whole metres name a notification
START_LIMIT_S = 120.0

_HEADER = struct.Struct(">BI")
_NOTIFY = struct.Struct(">IH")
REQUEST, REPLY, EVENT, NOTIFICATION = range(4)
_ATT_HEADER = 3


# -- the world ----------------------------------------------------------------------------


class StampedTreadmill(VirtualTreadmill):
    """A virtual treadmill that notes when it sends each Treadmill Data notification."""

    stamps: list[tuple[int, float]]

    async def tick(self, dt_s: float) -> None:
        """Stamp, then move the belt and notify as usual."""
        sent = time.monotonic()
        await super().tick(dt_s)
        if self.running:
            self.stamps.append((int(self.total_distance_m), sent))


@dataclass(frozen=True, slots=True)
class Pair:
    """One treadmill and the strap that follows it, as the code under test finds them."""

    name: str
    address: str
    strap_name: str
    strap_address: str


class BenchWorld(VirtualWorld):
    """The virtual world with stamped treadmills, each followed by a strap."""

    treadmills: dict[str, StampedTreadmill]

    async def populate(self, count: int) -> dict[str, Pair]:
        """Add `count` treadmills (slugs t0, t1, ...) at a steady 18 km/h, a strap for each."""
        self.treadmills = {}
        pairs = {}
        for index in range(count):
            treadmill = StampedTreadmill(
                TreadmillConfig(
                    name=f"Bench Treadmill {index}",
                    notify_interval_s=1 / NOTIFY_HZ,
                    profile=RunProfile.steady(600.0, SPEED_KMH),
                    advertising_interval_ms=20,
                ),
                link=self._open_link(),
                address=self._address(None),
                speedup=self.speedup,
            )
            treadmill.stamps = []
            await self._started(treadmill)
            strap = await self.add_strap(
                StrapConfig(
                    name=f"Bench Strap {index}", follow=treadmill, advertising_interval_ms=20
                )
            )
            slug = f"t{index}"
            self.treadmills[slug] = treadmill
            pairs[slug] = Pair(treadmill.name, treadmill.address, strap.name, strap.address)
        return pairs

    def stamps(self, start: float, end: float) -> list[tuple[str, int, float]]:
        """(treadmill, whole metres, sent) for every notification sent in [start, end)."""
        return [
            (slug, metres, sent)
            for slug, treadmill in self.treadmills.items()
            for metres, sent in treadmill.stamps
            if start <= sent < end
        ]


class WorldHandle(Protocol):
    """What a bench worker needs of the world, wherever it runs."""

    pairs: dict[str, Pair]

    @property
    def backend(self) -> BleBackend:
        """The bleak backend that reaches the world's devices."""
        ...

    async def stamps(self, start: float, end: float) -> list[tuple[str, int, float]]:
        """(treadmill, whole metres, sent) for every notification sent in [start, end)."""
        ...

    async def press_stop(self, slug: str) -> None:
        """The runner on `slug` presses Stop."""
        ...

    async def set_belt(self, slug: str, speed_kmh: float) -> None:
        """The runner on `slug` sets the belt going."""
        ...

    async def cpu_s(self) -> float | None:
        """The world's own process CPU time, or None when it shares the measured process."""
        ...


class LocalWorld:
    """The world in the measured process (`--in-process`: how the bench ran before)."""

    def __init__(self, world: BenchWorld, pairs: dict[str, Pair]) -> None:
        """Wrap a populated world."""
        self._world = world
        self.pairs = pairs

    @property
    def backend(self) -> BleBackend:
        """The world's in-process virtual backend."""
        return self._world.backend

    async def stamps(self, start: float, end: float) -> list[tuple[str, int, float]]:
        """The world's stamps in [start, end)."""
        return self._world.stamps(start, end)

    async def press_stop(self, slug: str) -> None:
        """Press Stop on the virtual console."""
        self._world.treadmills[slug].press_stop()

    async def set_belt(self, slug: str, speed_kmh: float) -> None:
        """Set the belt on the virtual console."""
        self._world.treadmills[slug].set_belt(speed_kmh)

    async def cpu_s(self) -> float | None:
        """None: the world's CPU is in the measured process's own."""
        return None


@contextlib.asynccontextmanager
async def local_world(count: int) -> AsyncIterator[LocalWorld]:
    """A populated world in this process."""
    async with BenchWorld() as world:
        yield LocalWorld(world, await world.populate(count))


# -- the radio process --------------------------------------------------------------------


def _frame(kind: int, body: bytes) -> bytes:
    return _HEADER.pack(kind, len(body)) + body


def _json_frame(kind: int, message: dict[str, Any]) -> bytes:
    return _frame(kind, json.dumps(message, separators=(",", ":")).encode())


def _advertisement(device: BLEDevice, data: AdvertisementData) -> dict[str, Any]:
    return {
        "event": "seen",
        "address": device.address,
        "name": data.local_name,
        "manufacturer": {str(k): v.hex() for k, v in data.manufacturer_data.items()},
        "service_data": {k: v.hex() for k, v in data.service_data.items()},
        "uuids": data.service_uuids,
        "tx_power": data.tx_power,
        "rssi": data.rssi,
    }


def _services(client: BleakClient) -> list[dict[str, Any]]:
    return [
        {
            "handle": service.handle,
            "uuid": service.uuid,
            "chars": [
                {
                    "handle": char.handle,
                    "uuid": char.uuid,
                    "properties": list(char.properties),
                    "descriptors": [[d.handle, d.uuid] for d in char.descriptors],
                }
                for char in service.characteristics
            ],
        }
        for service in client.services
    ]


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, BleakGATTProtocolError):
        return {"type": "protocol", "code": exc.code}
    if isinstance(exc, BleakDeviceNotFoundError):
        return {"type": "not_found", "message": str(exc)}
    if isinstance(exc, TimeoutError):
        return {"type": "timeout", "message": str(exc)}
    return {"type": "bleak", "message": f"{type(exc).__name__}: {exc}"}


class RadioSession:
    """The world's side of one connection: runs requests, forwards what the devices send."""

    def __init__(self, world: BenchWorld, writer: asyncio.StreamWriter) -> None:
        """Serve `world` to the peer on `writer`."""
        self._world = world
        self._writer = writer
        self._clients: dict[int, BleakClient] = {}
        self._ids = itertools.count(1)
        self._scanner: BleakScanner | None = None
        self._seen: dict[str, BLEDevice] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self, reader: asyncio.StreamReader) -> None:
        """Run every request until the peer goes, then drop its connections."""
        try:
            while True:
                try:
                    header = await reader.readexactly(_HEADER.size)
                except asyncio.IncompleteReadError:
                    return
                _kind, length = _HEADER.unpack(header)
                request = json.loads(await reader.readexactly(length))
                task = asyncio.create_task(self._answer(request))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._scanner is not None:
                with contextlib.suppress(BleakError):
                    await self._scanner.stop()
            for client in list(self._clients.values()):
                with contextlib.suppress(BleakError):
                    await client.disconnect()

    async def _answer(self, request: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": request["id"]}
        try:
            reply["result"] = await getattr(self, f"_op_{request['op']}")(**request["args"])
        except (BleakError, TimeoutError) as exc:
            reply["error"] = _error(exc)
        self._send(_json_frame(REPLY, reply))

    def _send(self, frame: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(frame)

    async def _op_scan(self, on: bool) -> None:
        if on and self._scanner is None:
            self._scanner = BleakScanner(self._on_seen, backend=self._world.backend.scanner)
            await self._scanner.start()
        elif not on and self._scanner is not None:
            scanner, self._scanner = self._scanner, None
            await scanner.stop()

    def _on_seen(self, device: BLEDevice, data: AdvertisementData) -> None:
        self._seen[device.address] = device
        self._send(_json_frame(EVENT, _advertisement(device, data)))

    async def _op_connect(self, address: str, limit_s: float) -> dict[str, Any]:
        conn = next(self._ids)

        def gone(_client: BleakClient) -> None:
            if self._clients.pop(conn, None) is not None:
                self._send(_json_frame(EVENT, {"event": "gone", "conn": conn}))

        client = BleakClient(
            self._seen.get(address, address),
            disconnected_callback=gone,
            backend=self._world.backend.client,
            timeout=limit_s,
        )
        await client.connect()
        self._clients[conn] = client
        return {
            "conn": conn,
            "name": client.name,
            "mtu": client.mtu_size,
            "services": _services(client),
        }

    async def _op_disconnect(self, conn: int) -> None:
        client = self._clients.get(conn)
        if client is not None:
            await client.disconnect()

    def _client(self, conn: int) -> BleakClient:
        client = self._clients.get(conn)
        if client is None:
            raise BleakError("Not connected")
        return client

    async def _op_read(self, conn: int, handle: int, descriptor: bool) -> str:
        client = self._client(conn)
        if descriptor:
            return (await client.read_gatt_descriptor(handle)).hex()
        return (await client.read_gatt_char(_char(client, handle))).hex()

    async def _op_write(
        self, conn: int, handle: int, data: str, response: bool, descriptor: bool
    ) -> None:
        client = self._client(conn)
        if descriptor:
            await client.write_gatt_descriptor(handle, bytes.fromhex(data))
        else:
            await client.write_gatt_char(_char(client, handle), bytes.fromhex(data), response)

    async def _op_notify(self, conn: int, handle: int, on: bool) -> None:
        client = self._client(conn)
        char = _char(client, handle)
        if not on:
            await client.stop_notify(char)
            return
        prefix = _NOTIFY.pack(conn, handle)

        def forward(_char: BleakGATTCharacteristic, value: bytearray) -> None:
            self._send(_frame(NOTIFICATION, prefix + value))

        await client.start_notify(char, forward)

    async def _op_stamps(self, start: float, end: float) -> list[tuple[str, int, float]]:
        return self._world.stamps(start, end)

    async def _op_press_stop(self, slug: str) -> None:
        self._world.treadmills[slug].press_stop()

    async def _op_set_belt(self, slug: str, speed_kmh: float) -> None:
        self._world.treadmills[slug].set_belt(speed_kmh)

    async def _op_cpu(self) -> float:
        return time.process_time()


def _char(client: BleakClient, handle: int) -> BleakGATTCharacteristic:
    char = client.services.get_characteristic(handle)
    if char is None:
        raise BleakError(f"no characteristic with handle {handle}")
    return char


async def radio_main(count: int, path: Path) -> None:
    """Build the world, serve it on `path`, print its devices as one JSON line; stop on TERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with BenchWorld() as world:
        pairs = await world.populate(count)
        sessions: dict[asyncio.StreamWriter, asyncio.Event] = {}

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            ended = sessions[writer] = asyncio.Event()
            try:
                await RadioSession(world, writer).serve(reader)
            finally:
                writer.close()
                ended.set()

        server = await asyncio.start_unix_server(connected, path)
        async with server:
            print(json.dumps({k: _row(p) for k, p in pairs.items()}), flush=True)
            await stop.wait()
            for writer in sessions:  # each session then reads the end of its stream
                writer.transport.abort()
            for ended in sessions.values():
                await ended.wait()


def _row(pair: Pair) -> list[str]:
    """A pair as a JSON-able list."""
    return [pair.name, pair.address, pair.strap_name, pair.strap_address]


# -- the measured process's end -----------------------------------------------------------


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
        while size - offset >= _HEADER.size:
            kind, length = _HEADER.unpack_from(buffer, offset)
            end = offset + _HEADER.size + length
            if end > size:
                break
            start = offset + _HEADER.size
            if kind == NOTIFICATION:
                key = _NOTIFY.unpack_from(buffer, start)
                callback = self.notify.get(key)
                if callback is not None:
                    callback(buffer[start + _NOTIFY.size : end])
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
        self._transport.write(_json_frame(REQUEST, {"id": request_id, "op": op, "args": args}))
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
        if not self.is_allowed_uuid(data.service_uuids):
            return
        address = message["address"]
        device = self.create_or_update_device(address, address, data.local_name, None, data)
        self.call_detection_callbacks(device, data)


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
        conn = self._connected()
        value = await self.radio.request(
            "read", conn=conn, handle=characteristic.handle, descriptor=False
        )
        return bytearray.fromhex(value)

    async def read_gatt_descriptor(
        self,
        descriptor: BleakGATTDescriptor,
        *,
        use_cached: bool = False,
        **kwargs: Any,  # noqa: ANN401
    ) -> bytearray:
        """Read a descriptor value from the device."""
        del use_cached, kwargs
        conn = self._connected()
        value = await self.radio.request(
            "read", conn=conn, handle=descriptor.handle, descriptor=True
        )
        return bytearray.fromhex(value)

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write a characteristic value, with or without a Write Response."""
        conn = self._connected()
        await self.radio.request(
            "write", conn=conn, handle=characteristic.handle, data=bytes(data).hex(),
            response=response, descriptor=False,
        )  # fmt: skip

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        """Write a descriptor value (always with response)."""
        conn = self._connected()
        await self.radio.request(
            "write", conn=conn, handle=descriptor.handle, data=bytes(data).hex(),
            response=True, descriptor=True,
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


class RadioProcess:
    """The bench world in a process of its own, and this process's `Radio` to it.

    `async with RadioProcess(count) as world:` starts `python -m bench.radio`, waits for its
    devices, connects; leaving stops the process (TERM, then KILL after a grace period).
    """

    def __init__(self, count: int, directory: Path) -> None:
        """Describe the world; `directory` holds the socket."""
        self._count = count
        self._path = directory / "radio.sock"
        self._process: asyncio.subprocess.Process | None = None
        self._radio: Radio | None = None
        self.pairs: dict[str, Pair] = {}

    async def __aenter__(self) -> Self:
        """Start the world and connect to it."""
        self._process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bench.radio"),
            *("--count", str(self._count), "--socket", str(self._path)),
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert self._process.stdout is not None  # noqa: S101 - PIPE above
            async with asyncio.timeout(START_LIMIT_S):
                line = await self._process.stdout.readline()
            _check_started(line)
            self.pairs = {k: Pair(*v) for k, v in json.loads(line).items()}
            loop = asyncio.get_running_loop()
            _, self._radio = await loop.create_unix_connection(Radio, str(self._path))
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Disconnect and stop the world."""
        await self.stop()

    async def stop(self) -> None:
        """Close the socket and stop the process (TERM, then KILL after 10 s)."""
        if self._radio is not None:
            self._radio.close()
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

    @property
    def radio(self) -> Radio:
        """The connected radio."""
        if self._radio is None:
            raise RuntimeError("the radio process is not running: use `async with`")
        return self._radio

    @property
    def backend(self) -> BleBackend:
        """bleak backend classes that reach the world through the radio."""
        return self.radio.backend()

    async def stamps(self, start: float, end: float) -> list[tuple[str, int, float]]:
        """The world's stamps in [start, end)."""
        rows = await self.radio.request("stamps", start=start, end=end)
        return [(slug, metres, sent) for slug, metres, sent in rows]

    async def press_stop(self, slug: str) -> None:
        """Press Stop on the virtual console."""
        await self.radio.request("press_stop", slug=slug)

    async def set_belt(self, slug: str, speed_kmh: float) -> None:
        """Set the belt on the virtual console."""
        await self.radio.request("set_belt", slug=slug, speed_kmh=speed_kmh)

    async def cpu_s(self) -> float | None:
        """The radio process's CPU time so far."""
        value: float = await self.radio.request("cpu")
        return value


def _check_started(line: bytes) -> None:
    if not line:
        raise RuntimeError("the radio process ended before its world was ready")


def main(argv: list[str] | None = None) -> int:
    """Run the radio process (started by `RadioProcess`)."""
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--socket", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(radio_main(args.count, args.socket))
    return 0


if __name__ == "__main__":
    sys.exit(main())

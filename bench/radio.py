"""I/O. The bench's virtual world in a process of its own (the radio), served over a socket.

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

The wire (`bench/radio_link.py`, the measured process's end): frames of a 5-byte header
(kind, body length) and a body. Requests, replies and events carry JSON; a notification is
binary (connection id, handle, value), so the measured side decodes it with one `struct`
call, as cheaply as any transport could hand it over. The world itself is `bench/world.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, Self

from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError

from bench.radio_link import (
    EVENT,
    HEADER,
    NOTIFICATION,
    NOTIFY_PREFIX,
    REPLY,
    Radio,
    frame,
    json_frame,
)
from bench.world import BenchWorld, Pair

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

    from bleak.backends.characteristic import BleakGATTCharacteristic
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    from treadwell.drivers.backend import BleBackend

START_LIMIT_S = 120.0


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
                    header = await reader.readexactly(HEADER.size)
                except asyncio.IncompleteReadError:
                    return
                _kind, length = HEADER.unpack(header)
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
        operation = getattr(self, f"_op_{request['op']}", None)
        if operation is None:
            reply["error"] = _error(BleakError(f"the radio has no operation {request['op']!r}"))
        else:
            try:
                reply["result"] = await operation(**request["args"])
            except Exception as exc:  # noqa: BLE001 - every failure is the requester's answer
                reply["error"] = _error(exc)
        self._send(json_frame(REPLY, reply))

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
        self._send(json_frame(EVENT, _advertisement(device, data)))

    async def _op_connect(self, address: str, limit_s: float) -> dict[str, Any]:
        conn = next(self._ids)

        def gone(_client: BleakClient) -> None:
            if self._clients.pop(conn, None) is not None:
                self._send(json_frame(EVENT, {"event": "gone", "conn": conn}))

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
        prefix = NOTIFY_PREFIX.pack(conn, handle)

        def forward(_char: BleakGATTCharacteristic, value: bytearray) -> None:
            self._send(frame(NOTIFICATION, prefix + value))

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
        # The world stamps each notification before it sends it: a full collection of this
        # process's heap (Bumble's objects, the devices) in between would count as the
        # worker's delay. What was built so far lives until the end: out of the collector.
        gc.collect()
        gc.freeze()
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


class RadioProcess:
    """The bench world in a process of its own, and this process's `Radio` to it.

    `async with RadioProcess(count, directory) as world:` starts `python -m bench.radio`,
    waits for its devices, connects; leaving stops the process (TERM, then KILL after a grace
    period).
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

"""I/O. A virtual device that plays a capture back: a user's treadmill, on the virtual link.

The device serves the captured GATT table (Bumble adds the GAP and GATT services and every
CCCD itself), answers reads with the captured values, and plays the captured notifications and
indications on their timeline, starting once a client has subscribed to every characteristic
the timeline plays (or two seconds after its first subscription). Control-point writes
are answered as recorded: the same request gets the same answer; another value of a recorded op
code gets that op code's recorded result; an op code never recorded is answered Op Code Not
Supported. A request recorded without an answer gets none.

Older packet captures (a directory of ``NNNN.hex`` files, see docs/capture-format.md) are read
by `from_hex_directory`: notifying characteristics play their packets one second apart, the
others serve their first packet as a read value.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from typing import TYPE_CHECKING

from bumble import gatt

from treadwell.drivers.capture import (
    Capture,
    CapturedCharacteristic,
    CapturedService,
    CapturedValue,
    CapturedWrite,
    CaptureError,
    full_uuid,
)
from treadwell.drivers.codec.ftms import ResultCode, encode_control_point_response
from treadwell.drivers.virtual.advertising import build_advertising_data
from treadwell.drivers.virtual.peripheral import CCCD_INDICATE, CCCD_NOTIFY, VirtualPeripheral

if TYPE_CHECKING:
    from pathlib import Path

    from bumble.device import Connection
    from bumble.link import LocalLink

_CONTROL_POINT = "2ad9"
_SKIPPED_SERVICES = frozenset({"1800", "1801"})  # Bumble serves its own GAP and GATT
_ADVERTISED = {"1826": 0x1826, "180d": 0x180D, "1814": 0x1814}
_FTMS_TREADMILL_DATA = bytes([0x01, 0x01, 0x00])  # available, machine type treadmill
_SUBSCRIBE_GRACE_S = 2.0
_PROPERTY_BITS = {
    "broadcast": gatt.Characteristic.Properties.BROADCAST,
    "read": gatt.Characteristic.Properties.READ,
    "write-without-response": gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
    "write": gatt.Characteristic.Properties.WRITE,
    "notify": gatt.Characteristic.Properties.NOTIFY,
    "indicate": gatt.Characteristic.Properties.INDICATE,
}
# Where each characteristic of an old .hex directory lives, and whether it notifies.
_HEX_HOMES = {
    "2acc": ("1826", ("read",)),
    "2acd": ("1826", ("notify",)),
    "2ad3": ("1826", ("notify", "read")),
    "2ad4": ("1826", ("read",)),
    "2ad5": ("1826", ("read",)),
    "2ada": ("1826", ("notify",)),
    "2a37": ("180d", ("notify",)),
    "2a53": ("1814", ("notify",)),
    "2a54": ("1814", ("read",)),
}


def from_hex_directory(directory: Path) -> Capture:
    """Read an old per-characteristic packet capture as a `Capture`.

    Raises:
        CaptureError: No usable ``.hex`` file, or a line that is not hex.
    """
    services: dict[str, list[CapturedCharacteristic]] = {}
    reads: dict[str, bytes] = {}
    values: list[CapturedValue] = []
    for path in sorted(directory.glob("*.hex")):
        uuid = path.stem.lower()
        home = _HEX_HOMES.get(uuid)
        if home is None:
            continue  # e.g. control-point examples: nothing a device would serve
        packets = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                packets.append(bytes.fromhex(text))
            except ValueError:
                raise CaptureError(f"{path} line {number}: not hex: {text!r}") from None
        service, properties = home
        services.setdefault(service, []).append(CapturedCharacteristic(uuid, properties))
        if "read" in properties and packets:
            reads[uuid] = packets[0]
        if "notify" in properties:
            values += [
                CapturedValue(float(i + 1), uuid, packet, "notification")
                for i, packet in enumerate(packets)
            ]
    if not services:
        raise CaptureError(f"{directory}: no .hex capture a device would serve")
    if "1826" in services and "2acc" not in reads:
        # The treadmill link reads Fitness Machine Feature first: claim nothing.
        services["1826"].append(CapturedCharacteristic("2acc", ("read",)))
        reads["2acc"] = bytes(8)
    return Capture(
        name=directory.name,
        address="00:00:00:00:00:00",
        redacted=True,
        services=tuple(CapturedService(s, tuple(c)) for s, c in services.items()),
        reads=reads,
        values=tuple(sorted(values, key=lambda v: (v.t, v.uuid))),
        writes=(),
        summary=None,
    )


def load_any(path: Path) -> Capture:
    """A capture file, or an old directory of ``.hex`` packets."""
    from treadwell.drivers.capture import load  # noqa: PLC0415 - same package, no cycle

    return from_hex_directory(path) if path.is_dir() else load(path)


class ReplayDevice(VirtualPeripheral):
    """A captured device on the virtual link; build it with `VirtualWorld.add_replay`."""

    def __init__(
        self,
        capture: Capture,
        *,
        link: LocalLink,
        address: str,
        speedup: float,
        name: str | None = None,
        loop: bool = False,
    ) -> None:
        """Create the device (not yet powered); the world calls `start()`."""
        super().__init__(
            link=link,
            address=address,
            name=name or capture.name or "Treadwell Replay",
            speedup=speedup,
            advertising_interval_ms=100.0,
        )
        self.capture = capture
        self.loop = loop
        self.played = 0
        self.finished = asyncio.Event()
        self.write_log: list[bytes] = []
        self._chars: dict[str, gatt.Characteristic[bytes]] = {}
        self._answers = _answer_book(capture.writes)
        self._listening = asyncio.Event()
        self._grace_started = False
        self.device.on("characteristic_subscription", self._on_subscription)
        self._build()

    def _build(self) -> None:
        for service in self.capture.services:
            for char in service.characteristics:
                self._chars[char.uuid] = self._characteristic(char)

    def _characteristic(self, char: CapturedCharacteristic) -> gatt.Characteristic[bytes]:
        bits = gatt.Characteristic.Properties(0)
        for name in char.properties:
            bits |= _PROPERTY_BITS.get(name, gatt.Characteristic.Properties(0))
        permissions = gatt.Characteristic.READABLE
        if "write" in char.properties or "write-without-response" in char.properties:
            permissions |= gatt.Characteristic.WRITEABLE
            uuid = char.uuid

            def on_write(connection: Connection, value: bytes) -> None:
                self._on_write(connection, uuid, value)

            served: gatt.CharacteristicValue[bytes] | bytes = gatt.CharacteristicValue(
                read=lambda _c: self.capture.reads.get(char.uuid, b""), write=on_write
            )
        else:
            served = self.capture.reads.get(char.uuid, b"")
        return gatt.Characteristic(full_uuid(char.uuid), bits, permissions, served)

    def services(self) -> list[gatt.Service]:
        """The captured services (GAP and GATT left to Bumble)."""
        return [
            gatt.Service(
                full_uuid(service.uuid), [self._chars[c.uuid] for c in service.characteristics]
            )
            for service in self.capture.services
            if service.uuid not in _SKIPPED_SERVICES
        ]

    def advertising_data(self) -> bytes:
        """The name and the services Treadwell looks for (FTMS marked as a treadmill)."""
        present = [s.uuid for s in self.capture.services]
        uuids = tuple(_ADVERTISED[u] for u in present if u in _ADVERTISED)
        data = {0x1826: _FTMS_TREADMILL_DATA} if "1826" in present else {}
        return build_advertising_data(self.name, uuids, data)

    def period_s(self) -> float:
        """The ticker only keeps the base class's rhythm; playback runs in its own task."""
        return 3600.0

    async def start(self) -> None:
        """Power on, advertise, and wait for a subscriber to start the timeline."""
        await super().start()
        self.spawn(self._play())

    # -- playback -------------------------------------------------------------------------------

    def _timeline(self) -> list[CapturedValue]:
        # Control-point values are answers to writes: they go out when a write asks.
        return [
            v for v in self.capture.values if v.uuid != _CONTROL_POINT and v.uuid in self._chars
        ]

    def _on_subscription(
        self, connection: Connection, _char: object, notify: bool, indicate: bool
    ) -> None:
        # The timeline starts once a client listens to everything it plays (a link subscribes
        # one characteristic after the other), or a grace period after its first subscription.
        if not (notify or indicate) or self._listening.is_set():
            return
        wanted = {value.uuid for value in self._timeline()}
        if all(
            self.subscribed(connection, self._chars[uuid], CCCD_NOTIFY | CCCD_INDICATE)
            for uuid in wanted
        ):
            self._listening.set()
        elif not self._grace_started:
            self._grace_started = True
            self.spawn(self._grace())

    async def _grace(self) -> None:
        await asyncio.sleep(_SUBSCRIBE_GRACE_S / self.speedup)
        self._listening.set()

    async def _play(self) -> None:
        timeline = self._timeline()
        if not timeline:
            self.finished.set()
            return
        await self._listening.wait()
        gaps = [b.t - a.t for a, b in itertools.pairwise(timeline)]
        rest = _median(gaps) or 1.0
        while True:
            began = self.now()
            first = timeline[0].t
            for value in timeline:
                delay = (value.t - first) - (self.now() - began)
                if delay > 0:
                    await asyncio.sleep(delay / self.speedup)
                await self._send(self._chars[value.uuid], value.value)
                self.played += 1
            if not self.loop:
                break
            await asyncio.sleep(rest / self.speedup)
        self.finished.set()

    async def _send(self, char: gatt.Characteristic[bytes], value: bytes) -> None:
        if char.properties & gatt.Characteristic.Properties.NOTIFY:
            await self.notify(char, value)
            return
        for connection in list(self.connections):
            if self.subscribed(connection, char, CCCD_INDICATE):
                await self.device.indicate_subscriber(connection, char, value)

    # -- writes ---------------------------------------------------------------------------------

    def _on_write(self, connection: Connection, uuid: str, value: bytes) -> None:
        self.write_log.append(bytes(value))
        if uuid != _CONTROL_POINT:
            return
        answer = self._answers.answer(bytes(value))
        if answer is not None:
            self.spawn(self._answer(connection, answer))

    async def _answer(self, connection: Connection, answer: bytes) -> None:
        char = self._chars[_CONTROL_POINT]
        if connection not in self.connections:
            return
        if char.properties & gatt.Characteristic.Properties.INDICATE:
            if self.subscribed(connection, char, CCCD_INDICATE):
                await self.device.indicate_subscriber(connection, char, answer)
        elif self.subscribed(connection, char, CCCD_NOTIFY):
            await self.device.notify_subscriber(connection, char, answer)


class _AnswerBook:
    """What the captured deck answered to each control-point request."""

    def __init__(self) -> None:
        self.exact: dict[bytes, bytes | None] = {}
        self.by_op: dict[int, bytes] = {}

    def answer(self, request: bytes) -> bytes | None:
        if request in self.exact:
            return self.exact[request]
        if not request:
            return None
        op = request[0]
        recorded = self.by_op.get(op)
        if recorded is not None and len(recorded) >= 3:
            return encode_control_point_response(op, recorded[2])
        return encode_control_point_response(op, ResultCode.OP_CODE_NOT_SUPPORTED)


def _answer_book(writes: tuple[CapturedWrite, ...]) -> _AnswerBook:
    book = _AnswerBook()
    for write in writes:
        if write.uuid != _CONTROL_POINT:
            continue
        book.exact[write.value] = write.answer
        if write.value and write.answer is not None:
            book.by_op[write.value[0]] = write.answer
    return book


def _median(values: list[float]) -> float:
    positive = sorted(v for v in values if v > 0 and math.isfinite(v))
    return positive[len(positive) // 2] if positive else 0.0

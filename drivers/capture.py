"""I/O. Recording what a Bluetooth device does, in the capture format of docs/capture-format.md.

`record()` connects to one device with bleak, writes its GATT table, reads every readable
characteristic, subscribes to everything that notifies or indicates, optionally runs two
harmless control-point procedures (Request Control, then Set Target Inclination to the value
the deck already reports, so nothing moves), and records every value with its time until the
time is up. The last line summarises what the device supports.

`load()` reads a capture back (the replay and the probe use it) and checks it line by line,
naming the line of any problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from bleak import BleakClient, BleakScanner

from treadwell.drivers.codec.ftms import (
    ResultCode,
    encode_request_control,
    encode_set_target_inclination,
    parse_control_point_response,
    parse_fitness_machine_feature,
    parse_supported_inclination_range,
    parse_supported_speed_range,
    parse_treadmill_data,
)
from treadwell.drivers.codec.treadmill_data import MEASUREMENTS as _MEASUREMENTS
from treadwell.drivers.discovery import classify
from treadwell.drivers.errors import CodecError, DeviceNotFoundError, DriverError, TreadwellError
from treadwell.drivers.translation import translated
from treadwell.drivers.uuids import (
    CONTROL_POINT_UUID,
    FITNESS_MACHINE_FEATURE_UUID,
    SUPPORTED_INCLINATION_RANGE_UUID,
    SUPPORTED_SPEED_RANGE_UUID,
    short_uuid,
    uuid16,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from bleak.backends.characteristic import BleakGATTCharacteristic
    from bleak.backends.device import BLEDevice

    from treadwell.drivers.backend import BleBackend

_LOGGER = logging.getLogger(__name__)

FORMAT = "treadwell-capture"
VERSION = 1
REDACTED_ADDRESS = "00:00:00:00:00:00"
_ADDRESS = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f-]{36}$")
_CONTROL_ANSWER_S = 3.0
_SERVICE_NAMES = {0x1826: "fitness_machine", 0x180D: "heart_rate", 0x1814: "running_speed"}


class CaptureError(TreadwellError):
    """A capture file that cannot be read, with the line that is wrong."""


def compact_uuid(uuid: str) -> str:
    """``"2acd"`` for a UUID on the Bluetooth base, else the lowercase 128-bit form."""
    try:
        return f"{short_uuid(uuid):04x}"
    except ValueError:
        return uuid.lower()


def full_uuid(uuid: str) -> str:
    """The lowercase 128-bit form of a UUID written compactly in a capture."""
    try:
        return uuid16(short_uuid(uuid))
    except ValueError:
        return uuid.lower()


def looks_like_address(text: str) -> bool:
    """Whether a --device value is a Bluetooth address (or a macOS device UUID)."""
    return _ADDRESS.match(text) is not None


# -- the file, read back ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CapturedCharacteristic:
    """One characteristic of the captured GATT table."""

    uuid: str
    properties: tuple[str, ...]
    descriptors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CapturedService:
    """One service of the captured GATT table."""

    uuid: str
    characteristics: tuple[CapturedCharacteristic, ...]


@dataclass(frozen=True, slots=True)
class CapturedValue:
    """A notification or indication at `t` seconds after the capture started."""

    t: float
    uuid: str
    value: bytes
    kind: str  # "notification" or "indication"


@dataclass(frozen=True, slots=True)
class CapturedWrite:
    """A write and the control-point answer that followed it (None: no answer came)."""

    t: float
    uuid: str
    value: bytes
    answer: bytes | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Capture:
    """A capture file read back."""

    name: str
    address: str
    redacted: bool
    services: tuple[CapturedService, ...]
    reads: dict[str, bytes]
    values: tuple[CapturedValue, ...]
    writes: tuple[CapturedWrite, ...]
    summary: dict[str, Any] | None

    def characteristic(self, uuid: str) -> CapturedCharacteristic | None:
        """The characteristic with this UUID (any form), if the table has it."""
        wanted = compact_uuid(uuid)
        for service in self.services:
            for char in service.characteristics:
                if char.uuid == wanted:
                    return char
        return None


def _hex(value: object, line: int, what: str) -> bytes:
    if not isinstance(value, str):
        raise CaptureError(f"line {line}: {what} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise CaptureError(f"line {line}: {what} is not hex: {value!r}") from None


def _records(text: str) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CaptureError(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("type"), str):
            raise CaptureError(f"line {number}: a record must be an object with a 'type'")
        out.append((number, record))
    return out


def _services(record: dict[str, Any], line: int) -> tuple[CapturedService, ...]:
    try:
        return tuple(
            CapturedService(
                compact_uuid(s["uuid"]),
                tuple(
                    CapturedCharacteristic(
                        compact_uuid(c["uuid"]),
                        tuple(c.get("properties", ())),
                        tuple(compact_uuid(d) for d in c.get("descriptors", ())),
                    )
                    for c in s.get("characteristics", ())
                ),
            )
            for s in record["services"]
        )
    except (KeyError, TypeError) as exc:
        raise CaptureError(f"line {line}: a malformed GATT table ({exc!r})") from None


def parse(text: str) -> Capture:
    """Read a capture from its text.

    Raises:
        CaptureError: Not a capture, a newer version, or a malformed line (named).
    """
    records = _records(text)
    if not records or records[0][1].get("type") != "header":
        raise CaptureError("line 1: not a Treadwell capture (the first line is no header)")
    header = records[0][1]
    if header.get("format") != FORMAT:
        raise CaptureError(f"line 1: format {header.get('format')!r} is not {FORMAT!r}")
    version = header.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CaptureError(
            f"line 1: capture format version {version!r}; this Treadwell reads up to {VERSION}"
        )
    services: tuple[CapturedService, ...] = ()
    reads: dict[str, bytes] = {}
    values: list[CapturedValue] = []
    writes: list[tuple[int, CapturedWrite]] = []
    summary: dict[str, Any] | None = None
    for line, record in records[1:]:
        kind = record["type"]
        t = record.get("t", 0.0)
        if not isinstance(t, int | float):
            raise CaptureError(f"line {line}: 't' must be a number of seconds")
        if kind == "gatt":
            services = _services(record, line)
        elif kind == "read" and "value" in record:
            reads[compact_uuid(str(record.get("uuid")))] = _hex(record["value"], line, "value")
        elif kind in ("notification", "indication"):
            uuid = compact_uuid(str(record.get("uuid")))
            values.append(
                CapturedValue(float(t), uuid, _hex(record.get("value"), line, "value"), kind)
            )
        elif kind == "write":
            uuid = compact_uuid(str(record.get("uuid")))
            answer = record.get("answer")
            written = CapturedWrite(
                float(t),
                uuid,
                _hex(record.get("value"), line, "value"),
                None if answer is None else _hex(answer, line, "answer"),
                record.get("error"),
            )
            writes.append((line, written))
        elif kind == "summary":
            summary = record
    return Capture(
        name=str(header.get("name") or ""),
        address=str(header.get("address") or REDACTED_ADDRESS),
        redacted=bool(header.get("redacted", True)),
        services=services,
        reads=reads,
        values=tuple(values),
        writes=tuple(w for _line, w in writes),
        summary=summary,
    )


def load(path: Path) -> Capture:
    """Read a capture file.

    Raises:
        CaptureError: The file cannot be read or is not a valid capture.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaptureError(f"cannot read {path}: {exc}") from None
    try:
        return parse(text)
    except CaptureError as exc:
        raise CaptureError(f"{path}: {exc}") from None


# -- recording --------------------------------------------------------------------------------


@dataclass(slots=True)
class Progress:
    """Counts while recording, handed to the progress callback once a second."""

    elapsed_s: float = 0.0
    total_s: float = 0.0
    notifications: int = 0
    indications: int = 0
    writes: int = 0
    per_uuid: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """One line for the terminal."""
        per = ", ".join(f"{uuid} {count}" for uuid, count in sorted(self.per_uuid.items()))
        return (
            f"{self.elapsed_s:4.0f}/{self.total_s:g} s  notifications {self.notifications}  "
            f"indications {self.indications}  writes {self.writes}" + (f"  ({per})" if per else "")
        )


class _Log:
    def __init__(self, out: TextIO, start: float) -> None:
        self._out = out
        self._start = start

    def now(self) -> float:
        return round(asyncio.get_running_loop().time() - self._start, 3)

    def write(self, record: dict[str, Any], *, timed: bool = True) -> None:
        if timed:
            record = {"type": record["type"], "t": self.now(), **record}
        self._out.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._out.flush()


async def find_device(
    wanted: str | None, *, backend: BleBackend, timeout_s: float
) -> tuple[BLEDevice, str]:
    """Scan for a treadmill, strap or footpod by name or address (the first one when None).

    Returns:
        The bleak device and its advertised name.

    Raises:
        DeviceNotFoundError: Nothing matching advertised in time.
    """
    by_address = wanted is not None and looks_like_address(wanted)
    with translated("looking for the device to capture"):
        async with BleakScanner(backend=backend.scanner) as scanner:
            try:
                async with asyncio.timeout(timeout_s):
                    async for device, adv in scanner.advertisement_data():
                        if classify(adv) is None:
                            continue
                        name = adv.local_name or device.name or ""
                        if (
                            wanted is None
                            or (by_address and device.address.lower() == wanted.lower())
                            or (not by_address and name == wanted)
                        ):
                            return device, name
            except TimeoutError:
                pass
    what = f'"{wanted}"' if wanted else "treadmill, heart-rate strap or footpod"
    raise DeviceNotFoundError(
        f"no {what} advertised within {timeout_s:g} s; is it switched on, awake and not "
        "connected to another app?"
    )


def _props(char: BleakGATTCharacteristic) -> list[str]:
    return sorted(str(p) for p in char.properties)


async def record(
    out: TextIO,
    *,
    backend: BleBackend,
    device: str | None,
    seconds: float,
    redact: bool = True,
    control: bool = True,
    scan_timeout_s: float = 20.0,
    progress: Callable[[Progress], None] | None = None,
    stop: asyncio.Event | None = None,
) -> dict[str, Any]:
    """Capture one device to `out` for `seconds` seconds; return the summary record.

    Args:
        out: Where the JSON Lines go.
        backend: The bleak backend classes.
        device: Name or address to capture (None: the first treadmill, strap or footpod).
        seconds: How long to record notifications after setting up.
        redact: Replace the Bluetooth address with zeros.
        control: Run the two harmless control-point procedures on a treadmill.
        scan_timeout_s: How long to look for the device.
        progress: Called about once a second with the counts so far.
        stop: Set it to end the recording early (Ctrl-C); the summary is still written.

    Raises:
        DeviceNotFoundError: The device did not advertise.
        DriverError: Bluetooth failed (translated, with advice).
    """
    found, name = await find_device(device, backend=backend, timeout_s=scan_timeout_s)
    log = _Log(out, asyncio.get_running_loop().time())
    log.write(
        {
            "type": "header",
            "format": FORMAT,
            "version": VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "name": name,
            "address": REDACTED_ADDRESS if redact else found.address,
            "redacted": redact,
        },
        timed=False,
    )
    counts = Progress(total_s=seconds)
    facts = _Facts()
    async with BleakClient(found, backend=backend.client) as client:
        log.write(_gatt_record(client), timed=False)
        facts.services = [compact_uuid(s.uuid) for s in client.services]
        answers: asyncio.Queue[bytes] = asyncio.Queue()
        await _read_all(client, log, facts)
        await _subscribe_all(client, log, counts, facts, answers)
        control_char = client.services.get_characteristic(CONTROL_POINT_UUID)
        started = asyncio.get_running_loop().time()

        stopped = stop or asyncio.Event()

        async def tick_until(deadline: float) -> None:
            loop = asyncio.get_running_loop()
            while not stopped.is_set() and (now := loop.time()) < deadline:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(1.0, deadline - now)):
                        await stopped.wait()
                counts.elapsed_s = min(loop.time() - started, seconds)
                if progress is not None:
                    progress(counts)

        if control and control_char is not None and "write" in control_char.properties:
            await tick_until(started + min(2.0, seconds / 2))
            if not stopped.is_set():
                await _probe_control(client, log, answers, counts, facts)
        await tick_until(started + seconds)
        duration = round(min(asyncio.get_running_loop().time() - started, seconds), 3)
    summary = {"type": "summary", "duration_s": duration, **facts.summary(counts)}
    log.write(summary)
    return summary


def _gatt_record(client: BleakClient) -> dict[str, Any]:
    return {
        "type": "gatt",
        "services": [
            {
                "uuid": compact_uuid(s.uuid),
                "characteristics": [
                    {
                        "uuid": compact_uuid(c.uuid),
                        "properties": _props(c),
                        "descriptors": [compact_uuid(d.uuid) for d in c.descriptors],
                    }
                    for c in s.characteristics
                ],
            }
            for s in client.services
        ],
    }


async def _read_all(client: BleakClient, log: _Log, facts: _Facts) -> None:
    for service in client.services:
        for char in service.characteristics:
            if "read" not in char.properties:
                continue
            uuid = compact_uuid(char.uuid)
            try:
                with translated(f"reading {uuid}"):
                    value = bytes(await client.read_gatt_char(char))
            except DriverError as exc:
                log.write({"type": "read", "uuid": uuid, "error": str(exc)})
            else:
                log.write({"type": "read", "uuid": uuid, "value": value.hex()})
                facts.reads[uuid] = value


async def _subscribe_all(
    client: BleakClient,
    log: _Log,
    counts: Progress,
    facts: _Facts,
    answers: asyncio.Queue[bytes],
) -> None:
    for char in [c for s in client.services for c in s.characteristics]:
        props = char.properties
        if "notify" not in props and "indicate" not in props:
            continue
        uuid = compact_uuid(char.uuid)
        kind = "notification" if "notify" in props else "indication"
        mode = "notify" if "notify" in props else "indicate"

        def on_value(
            _c: BleakGATTCharacteristic, data: bytearray, uuid: str = uuid, kind: str = kind
        ) -> None:
            log.write({"type": kind, "uuid": uuid, "value": bytes(data).hex()})
            counts.per_uuid[uuid] = counts.per_uuid.get(uuid, 0) + 1
            if kind == "notification":
                counts.notifications += 1
            else:
                counts.indications += 1
            facts.seen(uuid, bytes(data))
            if uuid == "2ad9":
                answers.put_nowait(bytes(data))

        try:
            with translated(f"subscribing to {uuid}"):
                await client.start_notify(char, on_value)
        except DriverError as exc:
            log.write({"type": "subscribe", "uuid": uuid, "mode": mode, "error": str(exc)})
        else:
            log.write({"type": "subscribe", "uuid": uuid, "mode": mode})


async def _probe_control(
    client: BleakClient,
    log: _Log,
    answers: asyncio.Queue[bytes],
    counts: Progress,
    facts: _Facts,
) -> None:
    async def procedure(payload: bytes, label: str) -> None:
        while not answers.empty():
            answers.get_nowait()
        record: dict[str, Any] = {"type": "write", "uuid": "2ad9", "value": payload.hex()}
        counts.writes += 1
        try:
            with translated(f"writing {label} to the control point"):
                await client.write_gatt_char(CONTROL_POINT_UUID, payload, response=True)
        except DriverError as exc:
            facts.control[label] = f"write failed: {exc}"
            log.write({**record, "error": str(exc), "answer": None})
            return
        try:
            async with asyncio.timeout(_CONTROL_ANSWER_S):
                answer = await answers.get()
        except TimeoutError:
            facts.control[label] = "no answer"
            log.write({**record, "answer": None})
            return
        log.write({**record, "answer": answer.hex()})
        try:
            result = parse_control_point_response(answer).result
            facts.control[label] = ResultCode(result).name.lower()
        except (CodecError, ValueError):
            facts.control[label] = f"unreadable answer {answer.hex()}"

    await procedure(encode_request_control(), "request_control")
    incline = facts.last_incline_raw
    if incline is not None and facts.control.get("request_control") == "success":
        # The value the deck already reports, raw: whatever its coding, nothing moves.
        await procedure(encode_set_target_inclination(incline / 10), "set_target_inclination")


@dataclass(slots=True)
class _Facts:
    services: list[str] = field(default_factory=list)
    reads: dict[str, bytes] = field(default_factory=dict)
    fields: set[str] = field(default_factory=set)
    control: dict[str, str] = field(default_factory=dict)
    last_incline_raw: int | None = None

    def seen(self, uuid: str, data: bytes) -> None:
        if uuid != "2acd":
            return
        with contextlib.suppress(CodecError):
            packet = parse_treadmill_data(data)
            for name in _MEASUREMENTS:
                if getattr(packet, name) is not None:
                    self.fields.add(name)
            if packet.incline_pct is not None:
                self.last_incline_raw = round(packet.incline_pct * 10)

    def summary(self, counts: Progress) -> dict[str, Any]:
        supports: dict[str, Any] = {
            "services": [_SERVICE_NAMES.get(_short(s), s) for s in self.services],
        }
        for uuid, key, decode in (
            (FITNESS_MACHINE_FEATURE_UUID, "features", parse_fitness_machine_feature),
            (SUPPORTED_SPEED_RANGE_UUID, "speed_range", parse_supported_speed_range),
            (SUPPORTED_INCLINATION_RANGE_UUID, "incline_range", parse_supported_inclination_range),
        ):
            raw = self.reads.get(compact_uuid(uuid))
            if raw is None:
                continue
            try:
                supports[key] = decode(raw).to_dict()
            except CodecError as exc:
                supports[key] = f"unreadable: {exc}"
        if self.fields:
            supports["treadmill_data_fields"] = sorted(self.fields)
        supports["control"] = self.control or "not tried"
        return {"supports": supports, "counts": dict(sorted(counts.per_uuid.items()))}


def _short(uuid: str) -> int:
    try:
        return short_uuid(uuid)
    except ValueError:
        return -1

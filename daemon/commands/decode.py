"""I/O. `treadwell decode`: turn a captured packet into JSON, for logs and bug reports.

    treadwell decode 2acd "9E 05 17 05 92 02 FB 00 00 00 00 FF 7F 7C 00 FF 7F 1B 00 ..."

Several 0x2ACD packets are merged into one record, as a treadmill's More-Data
notifications are (docs/ftms.md §3.4). Several packets of any other characteristic are
decoded one by one, one JSON object per line. A packet may also be typed as separate
one-byte words.
"""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING

from treadwell.drivers.codec import fitness_machine, heart_rate, rsc
from treadwell.drivers.codec.treadmill_data import (
    PaceWidth,
    TreadmillData,
    TreadmillRecordAssembler,
    parse_treadmill_data,
)
from treadwell.drivers.errors import CodecError
from treadwell.drivers.uuids import short_uuid

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

EXIT_OK = 0
EXIT_USAGE = 2
_HEX = re.compile(r"[0-9a-fA-F]+")
_SEPARATORS = re.compile(r"[\s:,-]+")
_TREADMILL_DATA = 0x2ACD
_CONTROL_POINT = 0x2AD9

_DECODERS: dict[int, Callable[[bytes], dict[str, object]]] = {
    0x2A37: lambda data: heart_rate.parse_heart_rate_measurement(data).to_dict(),
    0x2A53: lambda data: rsc.parse_rsc_measurement(data).to_dict(),
    0x2ACC: lambda data: fitness_machine.parse_fitness_machine_feature(data).to_dict(),
    0x2AD3: lambda data: fitness_machine.parse_training_status(data).to_dict(),
    0x2AD4: lambda data: fitness_machine.parse_supported_speed_range(data).to_dict(),
    0x2AD5: lambda data: fitness_machine.parse_supported_inclination_range(data).to_dict(),
    0x2ADA: lambda data: fitness_machine.parse_machine_status(data).to_dict(),
}
CHARACTERISTICS = sorted([*_DECODERS, _TREADMILL_DATA, _CONTROL_POINT])


class DecodeInputError(ValueError):
    """The command line does not describe a packet we can decode."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the sub-command's arguments."""
    known = ", ".join(f"{uuid:04x}" for uuid in CHARACTERISTICS)
    parser.add_argument("characteristic", help=f"16-bit characteristic UUID in hex: {known}")
    parser.add_argument(
        "packets",
        nargs="+",
        metavar="hex",
        help="packet bytes in hex (spaces allowed inside quotes); several 2acd packets "
        "are merged into one record, other packets are decoded one per line",
    )
    parser.add_argument(
        "--pace-width",
        choices=[width.name.lower() for width in PaceWidth],
        default="uint8",
        help="2acd pace field width to assume (default: uint8, the FTMS 1.0 layout)",
    )
    parser.add_argument(
        "--vendor-step-count",
        choices=("auto", "yes", "no"),
        default="auto",
        help="2acd: decode a step count behind RFU flag bit 13 (default: auto, when exactly "
        "3 extra bytes follow)",
    )


def run(args: argparse.Namespace) -> int:
    """Decode the packets, one JSON object per line; bad input exits 2 with one line."""
    try:
        results = decode_each(
            args.characteristic,
            args.packets,
            pace_width=PaceWidth[args.pace_width.upper()],
            vendor_step_count={"auto": None, "yes": True, "no": False}[args.vendor_step_count],
        )
    except (DecodeInputError, CodecError) as exc:
        print(f"treadwell decode: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    for result in results:
        print(json.dumps(result))  # noqa: T201
    return EXIT_OK


def decode_each(
    characteristic: str,
    packets: list[str],
    *,
    pace_width: PaceWidth = PaceWidth.UINT8,
    vendor_step_count: bool | None = None,
) -> list[dict[str, object]]:
    """Decode hex packets to the JSON objects `treadwell decode` prints, one per line.

    Treadmill Data packets make one record together; a packet typed as separate one-byte
    words is one packet; several packets of any other characteristic each give an object,
    so none is silently left out.

    Raises:
        DecodeInputError: If the characteristic is unknown or a packet is not hex.
        CodecError: If the bytes cannot be that characteristic.
    """
    uuid = _uuid(characteristic)
    words = [_parse_hex(text) for text in packets]
    if uuid == _TREADMILL_DATA or len(words) == 1 or all(len(word) == 1 for word in words):
        return [
            decode(
                characteristic, packets, pace_width=pace_width, vendor_step_count=vendor_step_count
            )
        ]
    results = []
    for number, text in enumerate(packets, start=1):
        try:
            results.append(decode(characteristic, [text]))
        except CodecError as exc:
            raise DecodeInputError(f"packet {number} of {len(packets)}: {exc}") from exc
    return results


def decode(
    characteristic: str,
    packets: list[str],
    *,
    pace_width: PaceWidth = PaceWidth.UINT8,
    vendor_step_count: bool | None = None,
) -> dict[str, object]:
    """Decode hex packets of one characteristic to the JSON object `treadwell decode` prints.

    Raises:
        DecodeInputError: If the characteristic is unknown or a packet is not hex.
        CodecError: If the bytes cannot be that characteristic.
    """
    uuid = _uuid(characteristic)
    frames = [_parse_hex(text) for text in packets]
    if uuid != _TREADMILL_DATA and len(frames) > 1 and any(len(f) != 1 for f in frames):
        raise DecodeInputError(
            f"several {uuid:04x} packets: only 2acd packets form one record (decode_each "
            "decodes them one by one)"
        )
    if uuid != _TREADMILL_DATA or all(len(frame) == 1 for frame in frames):
        frames = [b"".join(frames)]  # one packet, typed as separate bytes
    if uuid == _TREADMILL_DATA:
        return _treadmill_record(frames, pace_width, vendor_step_count).to_dict()
    data = frames[0]
    if uuid == _CONTROL_POINT:
        if data[:1] == bytes([fitness_machine.ControlOp.RESPONSE]):
            return fitness_machine.parse_control_point_response(data).to_dict()
        return fitness_machine.parse_control_point_request(data).to_dict()
    return _DECODERS[uuid](data)


def _uuid(characteristic: str) -> int:
    try:
        uuid = short_uuid(characteristic)
    except ValueError:
        uuid = -1
    if uuid not in CHARACTERISTICS:
        known = ", ".join(f"{u:04x}" for u in CHARACTERISTICS)
        raise DecodeInputError(f"unknown characteristic {characteristic!r} (known: {known})")
    return uuid


def _parse_hex(text: str) -> bytes:
    words = (word.removeprefix("0x").removeprefix("0X") for word in _SEPARATORS.split(text))
    digits = "".join(words)
    if not _HEX.fullmatch(digits):
        raise DecodeInputError(f"not a hex packet: {text!r}")
    if len(digits) % 2:
        raise DecodeInputError(f"odd number of hex digits in {text!r}")
    return bytes.fromhex(digits)


def _treadmill_record(
    frames: list[bytes], pace_width: PaceWidth, vendor_step_count: bool | None
) -> TreadmillData:
    assembler = TreadmillRecordAssembler()
    records = []
    for frame in frames:
        packet = parse_treadmill_data(
            frame, pace_width=pace_width, vendor_step_count=vendor_step_count
        )
        record = assembler.feed(packet, now=0.0)
        if record is not None:
            records.append(record)
    leftover = assembler.flush()
    if leftover is not None:
        records.append(leftover)
    if len(records) != 1:
        raise DecodeInputError(
            f"the {len(frames)} packets form {len(records)} records; give one record's packets"
        )
    return records[0]

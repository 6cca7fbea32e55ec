"""Pure. Advertising data for the virtual world: build it for peripherals, parse it for bleak.

Bumble's `LocalLink` sends no real scan response: the controller replays the advertising data as
the scan response and Bumble's host merges the two, so every advertisement arrives twice, the
second time with each AD structure doubled (docs/virtual-ble.md quirk 2). `AdvertisementParser`
removes the doubled structures and drops a replay that brings nothing new, which is what a real
scanner sees from a device without scan response data.
"""

from __future__ import annotations

import struct
import uuid as uuid_module
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from bleak.backends.scanner import AdvertisementData

if TYPE_CHECKING:
    from bumble.device import Advertisement

_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"
# LE General Discoverable, BR/EDR not supported.
_FLAGS_GENERAL_DISCOVERABLE = 0x06
_MAX_AD_LENGTH = 255


class AdType(IntEnum):
    """The AD structure types the virtual world writes and reads (Core Supplement, Part A)."""

    FLAGS = 0x01
    INCOMPLETE_UUID16 = 0x02
    COMPLETE_UUID16 = 0x03
    INCOMPLETE_UUID32 = 0x04
    COMPLETE_UUID32 = 0x05
    INCOMPLETE_UUID128 = 0x06
    COMPLETE_UUID128 = 0x07
    SHORTENED_LOCAL_NAME = 0x08
    COMPLETE_LOCAL_NAME = 0x09
    TX_POWER_LEVEL = 0x0A
    SERVICE_DATA_UUID16 = 0x16
    SERVICE_DATA_UUID32 = 0x20
    SERVICE_DATA_UUID128 = 0x21
    MANUFACTURER_DATA = 0xFF


@dataclass(frozen=True, slots=True)
class SeenAdvertisement:
    """One de-duplicated advertisement as the virtual central saw it.

    Attributes:
        address: The advertiser's address, upper case with colons.
        data: The advertisement in bleak's own form.
    """

    address: str
    data: AdvertisementData


def build_advertising_data(
    name: str,
    service_uuids16: tuple[int, ...] = (),
    service_data16: dict[int, bytes] | None = None,
) -> bytes:
    """Encode flags, the complete local name, 16-bit service UUIDs and service data.

    Args:
        name: The complete local name.
        service_uuids16: 16-bit SIG service numbers for the Complete List structure.
        service_data16: Service Data structures keyed by 16-bit service number.

    Returns:
        The advertising data bytes (Bumble's virtual controller has no 31-byte limit).

    Raises:
        ValueError: If one structure is longer than an AD length byte can say.
    """
    parts = [_structure(AdType.FLAGS, bytes([_FLAGS_GENERAL_DISCOVERABLE]))]
    parts.append(_structure(AdType.COMPLETE_LOCAL_NAME, name.encode()))
    if service_uuids16:
        packed = b"".join(struct.pack("<H", value) for value in service_uuids16)
        parts.append(_structure(AdType.COMPLETE_UUID16, packed))
    for value, payload in (service_data16 or {}).items():
        parts.append(_structure(AdType.SERVICE_DATA_UUID16, struct.pack("<H", value) + payload))
    return b"".join(parts)


def _structure(ad_type: AdType, payload: bytes) -> bytes:
    if len(payload) + 1 > _MAX_AD_LENGTH:
        raise ValueError(f"AD structure 0x{ad_type:02X} is too long ({len(payload)} bytes)")
    return bytes([len(payload) + 1, ad_type]) + payload


def split_structures(data: bytes) -> list[tuple[int, bytes]]:
    """Split advertising data into (type, payload) pairs, dropping exact repeats.

    A zero length byte ends the data (padding); a structure running past the end is dropped.
    """
    structures: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(data):
        length = data[offset]
        if length == 0 or offset + 1 + length > len(data):
            break
        item = (data[offset + 1], bytes(data[offset + 2 : offset + 1 + length]))
        if item not in structures:
            structures.append(item)
        offset += 1 + length
    return structures


def to_advertisement_data(
    structures: list[tuple[int, bytes]], rssi: int, platform: object = None
) -> AdvertisementData:
    """Turn parsed AD structures into bleak's `AdvertisementData` (all seven fields)."""
    name: str | None = None
    uuids: list[str] = []
    service_data: dict[str, bytes] = {}
    manufacturer: dict[int, bytes] = {}
    tx_power: int | None = None
    for ad_type, payload in structures:
        match ad_type:
            case AdType.COMPLETE_LOCAL_NAME | AdType.SHORTENED_LOCAL_NAME:
                if name is None or ad_type == AdType.COMPLETE_LOCAL_NAME:
                    name = payload.decode(errors="replace")
            case AdType.INCOMPLETE_UUID16 | AdType.COMPLETE_UUID16:
                uuids += _uuid_list(payload, 2)
            case AdType.INCOMPLETE_UUID32 | AdType.COMPLETE_UUID32:
                uuids += _uuid_list(payload, 4)
            case AdType.INCOMPLETE_UUID128 | AdType.COMPLETE_UUID128:
                uuids += _uuid_list(payload, 16)
            case AdType.SERVICE_DATA_UUID16 if len(payload) >= 2:
                service_data[_uuid_from_le(payload[:2])] = payload[2:]
            case AdType.SERVICE_DATA_UUID32 if len(payload) >= 4:
                service_data[_uuid_from_le(payload[:4])] = payload[4:]
            case AdType.SERVICE_DATA_UUID128 if len(payload) >= 16:
                service_data[_uuid_from_le(payload[:16])] = payload[16:]
            case AdType.MANUFACTURER_DATA if len(payload) >= 2:
                manufacturer[int.from_bytes(payload[:2], "little")] = payload[2:]
            case AdType.TX_POWER_LEVEL if len(payload) == 1:
                tx_power = int.from_bytes(payload, "little", signed=True)
            case _:
                pass
    return AdvertisementData(
        local_name=name,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=list(dict.fromkeys(uuids)),
        tx_power=tx_power,
        rssi=rssi,
        platform_data=(platform,),
    )


def _uuid_list(payload: bytes, width: int) -> list[str]:
    count = len(payload) // width
    return [_uuid_from_le(payload[i * width : (i + 1) * width]) for i in range(count)]


def _uuid_from_le(raw: bytes) -> str:
    if len(raw) == 16:
        return str(uuid_module.UUID(bytes=bytes(reversed(raw))))
    return f"{int.from_bytes(raw, 'little'):08x}{_BASE_SUFFIX}"


class AdvertisementParser:
    """Parses Bumble advertisements and drops the scan-response replays of quirk 2."""

    def __init__(self) -> None:
        """Start with no history."""
        self._last: dict[str, list[tuple[int, bytes]]] = {}

    def clear(self) -> None:
        """Forget what each device advertised last (a new scan starts)."""
        self._last.clear()

    def parse(self, advertisement: Advertisement) -> SeenAdvertisement | None:
        """Return the advertisement in bleak's form, or None when it is a replay."""
        address = advertisement.address.to_string(False).upper()
        structures: list[tuple[int, bytes]] = []
        for ad_type, payload in advertisement.data.ad_structures:
            if (item := (int(ad_type), bytes(payload))) not in structures:
                structures.append(item)
        if advertisement.is_scan_response and self._last.get(address) == structures:
            return None
        self._last[address] = structures
        data = to_advertisement_data(structures, advertisement.rssi, advertisement)
        return SeenAdvertisement(address=address, data=data)

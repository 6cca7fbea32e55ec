"""Pure. Bluetooth SIG UUIDs Treadwell uses, as lowercase 128-bit strings.

bleak reports and accepts 128-bit strings, so every constant here is already in that form;
`uuid16` and `short_uuid` convert between a 16-bit SIG number and the long form.
"""

from __future__ import annotations

import re

_BASE_PREFIX = "0000"
_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"
_UINT16_MAX = 0xFFFF
_SHORT = re.compile(r"([0-9a-f]{4})")
_LONG = re.compile(_BASE_PREFIX + r"([0-9a-f]{4})" + re.escape(_BASE_SUFFIX))


def uuid16(value: int) -> str:
    """Expand a 16-bit SIG-assigned number to its lowercase 128-bit UUID string.

    Args:
        value: The 16-bit number, e.g. ``0x2ACD``.

    Returns:
        The UUID on the Bluetooth base, e.g. ``"00002acd-0000-1000-8000-00805f9b34fb"``.

    Raises:
        ValueError: If `value` does not fit in 16 bits.
    """
    if not 0 <= value <= _UINT16_MAX:
        raise ValueError(f"a 16-bit UUID must be within 0..0xffff, got {value!r}")
    return f"{_BASE_PREFIX}{value:04x}{_BASE_SUFFIX}"


def short_uuid(uuid: str) -> int:
    """Return the 16-bit SIG number of a UUID on the Bluetooth base.

    Accepts the 128-bit form (any case) and the bare 4-hex-digit form (``"2acd"``,
    ``"0x2ACD"``).

    Args:
        uuid: The UUID text.

    Returns:
        The 16-bit number, e.g. ``0x2ACD``.

    Raises:
        ValueError: If `uuid` is not a 16-bit SIG UUID.
    """
    text = uuid.strip().lower().removeprefix("0x")
    match = _SHORT.fullmatch(text) or _LONG.fullmatch(text)
    if match is None:
        raise ValueError(f"not a 16-bit Bluetooth SIG UUID: {uuid!r}")
    return int(match.group(1), 16)


FTMS_SERVICE_UUID = uuid16(0x1826)
FITNESS_MACHINE_FEATURE_UUID = uuid16(0x2ACC)
TREADMILL_DATA_UUID = uuid16(0x2ACD)
TRAINING_STATUS_UUID = uuid16(0x2AD3)
SUPPORTED_SPEED_RANGE_UUID = uuid16(0x2AD4)
SUPPORTED_INCLINATION_RANGE_UUID = uuid16(0x2AD5)
CONTROL_POINT_UUID = uuid16(0x2AD9)
MACHINE_STATUS_UUID = uuid16(0x2ADA)
HEART_RATE_SERVICE_UUID = uuid16(0x180D)
HEART_RATE_MEASUREMENT_UUID = uuid16(0x2A37)
RSC_SERVICE_UUID = uuid16(0x1814)
RSC_MEASUREMENT_UUID = uuid16(0x2A53)
RSC_FEATURE_UUID = uuid16(0x2A54)

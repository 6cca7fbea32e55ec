"""Pure. Translating bleak and OS errors into Treadwell's own, with advice, at the edge.

Every call into bleak goes through `translated(...)`, so the rest of the project only ever sees
`DriverError` subclasses whose messages tell the user what to check.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakCharacteristicNotFoundError,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)

from treadwell.drivers.errors import (
    BluetoothUnavailableError,
    DeviceNotFoundError,
    DriverError,
    TreadwellError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

BLUEZ_ADVICE = (
    "is a Bluetooth adapter plugged in and powered (bluetoothctl show), is bluetoothd running "
    "(systemctl status bluetooth), and is this user in the bluetooth group?"
)
PAIRING_ADVICE = (
    "the device wants an encrypted link: pair it once with bluetoothctl (pair, trust) and "
    "make sure no phone app is connected to it"
)
_NOT_READY_HINTS = ("not ready", "no powered", "no bluetooth adapters", "powered off")
_SECURITY_CODES = {
    BleakGATTProtocolErrorCode.INSUFFICIENT_AUTHENTICATION,
    BleakGATTProtocolErrorCode.INSUFFICIENT_AUTHORIZATION,
    BleakGATTProtocolErrorCode.INSUFFICIENT_ENCRYPTION,
    BleakGATTProtocolErrorCode.INSUFFICIENT_ENCRYPTION_KEY_SIZE,
}


def translate_error(exc: BaseException, *, action: str) -> TreadwellError:
    """Return the Treadwell error for an exception raised by bleak or the OS.

    Args:
        exc: The exception caught at the edge.
        action: What was being done, as a phrase ("scanning", "connecting to F80").

    Returns:
        The translated error (our own errors pass through unchanged); the caller raises it
        ``from exc`` so the original stays in the traceback.
    """
    if isinstance(exc, TreadwellError):
        return exc
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return BluetoothUnavailableError(
            f"Bluetooth is not available while {action}: the system D-Bus or BlueZ cannot be "
            f"reached ({exc}); {BLUEZ_ADVICE}"
        )
    if isinstance(exc, PermissionError):
        return BluetoothUnavailableError(
            f"Bluetooth access was denied while {action} ({exc}); is this user in the "
            "bluetooth group, and does the D-Bus policy allow it to talk to org.bluez?"
        )
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return BluetoothUnavailableError(
            f"Bluetooth is not available while {action} ({exc.reason.name.lower()}); {BLUEZ_ADVICE}"
        )
    if isinstance(exc, BleakDeviceNotFoundError):
        return DeviceNotFoundError(
            f"device {exc.identifier} was not found while {action}; is it switched on, in "
            "range and not connected to another app?"
        )
    if isinstance(exc, BleakCharacteristicNotFoundError):
        return DriverError(
            f"the device has no characteristic {exc.char_specifier} ({action}); it may not be "
            "the kind of device configured, or its firmware deviates from the standard"
        )
    if isinstance(exc, BleakGATTProtocolError):
        return _gatt_error(exc, action)
    if isinstance(exc, BleakDBusError):
        return _dbus_error(exc, action)
    if isinstance(exc, TimeoutError):
        return DriverError(f"timed out while {action}; is the device in range and switched on?")
    if isinstance(exc, BleakError):
        if any(hint in str(exc).lower() for hint in _NOT_READY_HINTS):
            return BluetoothUnavailableError(f"Bluetooth is not ready ({exc}); {BLUEZ_ADVICE}")
        return DriverError(f"Bluetooth error while {action}: {exc}")
    if isinstance(exc, OSError):
        return BluetoothUnavailableError(
            f"the operating system refused Bluetooth while {action} ({exc}); {BLUEZ_ADVICE}"
        )
    return DriverError(f"unexpected {type(exc).__name__} while {action}: {exc}")


def _gatt_error(exc: BleakGATTProtocolError, action: str) -> DriverError:
    code = exc.code
    if code in _SECURITY_CODES:
        return DriverError(f"the device refused {action} ({exc}); {PAIRING_ADVICE}")
    if code is BleakGATTProtocolErrorCode.CCCD_IMPROPERLY_CONFIGURED:
        return DriverError(
            f"the device refused {action} because indications are not enabled (ATT 0xFD); "
            "this is a driver bug, please report it"
        )
    if code is BleakGATTProtocolErrorCode.PROCEDURE_ALREADY_IN_PROGRESS:
        return DriverError(
            f"the device refused {action}: another control request is still in progress "
            "(ATT 0xFE); another app may be controlling it"
        )
    return DriverError(f"the device refused {action} ({exc})")


def _dbus_error(exc: BleakDBusError, action: str) -> DriverError:
    name = exc.dbus_error
    if name.endswith(("NotReady", "ServiceUnknown", "AccessDenied")) or "not ready" in str(exc):
        return BluetoothUnavailableError(f"BlueZ refused {action} ({exc}); {BLUEZ_ADVICE}")
    if name.endswith(("AuthenticationFailed", "AuthenticationRejected", "NotPermitted")):
        return DriverError(f"BlueZ refused {action} ({exc}); {PAIRING_ADVICE}")
    return DriverError(f"BlueZ error while {action}: {exc}")


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Translate any bleak or OS error raised in the block (cancellation passes through).

    Args:
        action: What the block does, as a phrase for the message.

    Raises:
        TreadwellError: The translated error, chained to the original.
    """
    try:
        yield
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise translate_error(exc, action=action) from exc

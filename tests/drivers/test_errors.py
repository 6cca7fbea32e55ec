from __future__ import annotations

import asyncio

import pytest
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakCharacteristicNotFoundError,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
)

from treadwell.drivers.backend import BleBackend
from treadwell.drivers.discovery import DeviceKind, DeviceTarget, find, scan
from treadwell.drivers.errors import (
    BluetoothUnavailableError,
    CodecError,
    DeviceNotFoundError,
    DriverError,
    TreadwellError,
)
from treadwell.drivers.translation import translate_error, translated

UNAVAILABLE = BluetoothUnavailableError


@pytest.mark.parametrize(
    ("raised", "expected", "advice"),
    [
        (FileNotFoundError(2, "No such file or directory"), UNAVAILABLE, "is bluetoothd running"),
        (ConnectionRefusedError(111, "Connection refused"), UNAVAILABLE, "is bluetoothd running"),
        (PermissionError(13, "Permission denied"), UNAVAILABLE, "in the bluetooth group"),
        (OSError(19, "No such device"), UNAVAILABLE, "bluetoothctl show"),
        (
            BleakBluetoothNotAvailableError("off", BleakBluetoothNotAvailableReason.POWERED_OFF),
            UNAVAILABLE,
            "(powered_off)",
        ),
        (BleakError("No powered Bluetooth adapters found."), UNAVAILABLE, "bluetoothctl show"),
        (
            BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]),
            UNAVAILABLE,
            "is bluetoothd running",
        ),
        (BleakDeviceNotFoundError("AA:BB:CC:DD:EE:FF"), DeviceNotFoundError, "AA:BB:CC:DD:EE:FF"),
        (BleakCharacteristicNotFoundError("2acd"), DriverError, "no characteristic 2acd"),
        (BleakGATTProtocolError(0x05), DriverError, "pair it once with bluetoothctl"),
        (BleakGATTProtocolError(0x0F), DriverError, "pair it once with bluetoothctl"),
        (BleakGATTProtocolError(0xFD), DriverError, "indications are not enabled"),
        (BleakGATTProtocolError(0xFE), DriverError, "another control request"),
        (BleakGATTProtocolError(0x0E), DriverError, "Unlikely Error"),
        (
            BleakDBusError("org.bluez.Error.AuthenticationFailed", []),
            DriverError,
            "pair it once",
        ),
        (
            BleakDBusError("org.bluez.Error.Failed", ["le-connection-abort-by-local"]),
            DriverError,
            "le-connection-abort-by-local",
        ),
        (TimeoutError(), DriverError, "timed out while testing"),
        (BleakError("something odd"), DriverError, "something odd"),
        (ValueError("odd value"), DriverError, "unexpected ValueError"),
    ],
)
def test_bleak_and_os_errors_become_ours_with_advice(
    raised: Exception, expected: type[TreadwellError], advice: str
) -> None:
    translated_error = translate_error(raised, action="testing")

    assert type(translated_error) is expected
    assert advice in str(translated_error)


def test_our_own_errors_pass_through_unchanged() -> None:
    ours = CodecError("bad frame", b"\x01")
    assert translate_error(ours, action="testing") is ours


def test_translated_chains_the_original_error() -> None:
    original = BleakGATTProtocolError(0x05)
    with pytest.raises(DriverError) as caught, translated("writing"):
        raise original
    assert caught.value.__cause__ is original


async def test_translated_lets_cancellation_through() -> None:
    async def cancelled() -> None:
        with translated("waiting"):
            await asyncio.sleep(3600)

    task = asyncio.create_task(cancelled())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_scanning_without_a_dbus_socket_says_what_to_check() -> None:
    # The real bleak BlueZ backend: this machine has no system D-Bus socket, so bleak
    # raises FileNotFoundError from deep inside dbus-fast.
    with pytest.raises(BluetoothUnavailableError, match="is bluetoothd running") as caught:
        await scan(0.5, backend=BleBackend())

    assert isinstance(caught.value.__cause__, FileNotFoundError)
    assert "scanning for Bluetooth devices" in str(caught.value)


async def test_finding_a_device_without_a_dbus_socket_says_what_to_check() -> None:
    with pytest.raises(BluetoothUnavailableError, match="looking for the treadmill"):
        await find(DeviceTarget(DeviceKind.TREADMILL), backend=BleBackend(), timeout_s=1.0)

"""Pure. The drivers' errors, under the project's one root, `TreadwellError`.

The root lives in `treadwell.rules.errors` (the innermost layer); it is re-exported here for
the code that catches driver errors. Third-party exceptions (bleak, the OS, aiomqtt) are
translated into these once, at the edge, with advice a user can act on.
"""

from __future__ import annotations

from treadwell.rules.errors import TreadwellError as TreadwellError  # noqa: PLC0414 - re-export


class CodecError(TreadwellError):
    """Bytes that cannot be the characteristic they claim to be (carries them as hex)."""

    def __init__(self, message: str, data: bytes | bytearray | memoryview) -> None:
        self.data = bytes(data)
        super().__init__(f"{message} (data: {self.data.hex(' ') or 'empty'})")


class DriverError(TreadwellError):
    """A Bluetooth device or the Bluetooth stack did not do what a link asked."""


class BluetoothUnavailableError(DriverError):
    """The computer's Bluetooth is not usable: no adapter, no D-Bus, BlueZ down or no access."""


class DeviceNotFoundError(DriverError):
    """No advertising device matched what a link or `treadwell scan` was looking for."""


class NotConnectedError(DriverError):
    """A command needs a connected device, and the link is not connected right now."""


class ControlPointError(DriverError):
    """The treadmill refused or did not answer a Fitness Machine Control Point request.

    Attributes:
        request_op: The control-point op code that was sent (docs/ftms.md §7.1).
        result: The result code the treadmill answered with, or None when there was none.
    """

    def __init__(self, message: str, *, request_op: int, result: int | None = None) -> None:
        self.request_op = request_op
        self.result = result
        super().__init__(message)


class OpCodeNotSupportedError(ControlPointError):
    """Result 0x02: the treadmill does not implement this control-point procedure."""


class InvalidParameterError(ControlPointError):
    """Result 0x03: the value was malformed or outside what the treadmill supports."""


class OperationFailedError(ControlPointError):
    """Result 0x04: the treadmill could not do it now (for example: belt not running)."""


class ControlNotPermittedError(ControlPointError):
    """Result 0x05: the treadmill did not grant us control (another app or the console has it)."""


class ControlPointTimeoutError(ControlPointError):
    """The treadmill accepted the request but never sent its response indication."""


class InclineOutOfLimitsError(DriverError):
    """The requested incline is outside the runner's configured limits or the treadmill's range."""


class InclineNotSupportedError(DriverError):
    """The treadmill cannot set its incline over Bluetooth (no target setting or no range)."""


class BeltNotRunningError(DriverError):
    """The treadmill only accepts incline changes while the belt runs, and it is stopped."""

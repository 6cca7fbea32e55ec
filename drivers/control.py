"""I/O. The Fitness Machine Control Point procedure (docs/ftms.md §7.3), one request at a time.

A procedure is: write the request with response, then wait for the treadmill's ``0x80``
indication naming the same op code. Requests are serialised behind a lock because a treadmill
refuses (ATT 0xFE) rather than queues a second one. Control is requested before the first
command and whenever it was lost; a Control Not Permitted answer gets one more Request Control
and one retry (D7), and so does a Request Control answered Control Not Permitted; decks listed
as granting control only at the second request get two. The answer may arrive as an indication
or, on decks whose control point only notifies (D24), as a notification: both go through
`on_indication`. Start/Resume is never sent to a deck listed as breaking on it (D23). Result
codes become typed errors with advice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bleak.exc import BleakGATTProtocolError, BleakGATTProtocolErrorCode

from treadwell.drivers.codec.ftms import (
    ControlOp,
    ControlPointResponse,
    ResultCode,
    encode_request_control,
    parse_control_point_response,
)
from treadwell.drivers.errors import (
    CodecError,
    ControlNotPermittedError,
    ControlPointError,
    ControlPointTimeoutError,
    InvalidParameterError,
    NotConnectedError,
    OpCodeNotSupportedError,
    OperationFailedError,
)
from treadwell.drivers.translation import translated
from treadwell.drivers.uuids import CONTROL_POINT_UUID

if TYPE_CHECKING:
    from collections.abc import Callable

    from bleak import BleakClient
    from bleak.backends.characteristic import BleakGATTCharacteristic

    from treadwell.drivers.quirks import Quirks

_LOGGER = logging.getLogger(__name__)

_BUSY_RETRIES = 3
_BUSY_RETRY_S = 0.05

_RESULT_ERRORS: dict[int, tuple[type[ControlPointError], str]] = {
    ResultCode.OP_CODE_NOT_SUPPORTED: (
        OpCodeNotSupportedError,
        "the treadmill does not support this over Bluetooth ({what})",
    ),
    ResultCode.INVALID_PARAMETER: (
        InvalidParameterError,
        "the treadmill rejected the value ({what}): it is outside its supported range or "
        "not on its step",
    ),
    ResultCode.OPERATION_FAILED: (
        OperationFailedError,
        "the treadmill could not do it right now ({what}); many only accept changes while the "
        "belt runs, and none while the safety key is out",
    ),
    ResultCode.CONTROL_NOT_PERMITTED: (
        ControlNotPermittedError,
        "the treadmill did not give us control ({what}); close other fitness apps connected "
        "to it, or press stop on the console, and try again",
    ),
}


class ControlPoint:
    """Runs control-point procedures for one treadmill link.

    Args:
        label: The link's label, for logs.
        timeout_s: How long to wait for a response indication.
        on_granted: Called with the new state whenever control is gained or lost.
    """

    def __init__(self, *, label: str, timeout_s: float, on_granted: Callable[[bool], None]) -> None:
        self._label = label
        self._timeout_s = timeout_s
        self._on_granted = on_granted
        self._lock = asyncio.Lock()
        self._pending: tuple[int, asyncio.Future[ControlPointResponse]] | None = None
        self._granted = False
        self._request_twice = False
        self._no_start_resume = False

    def configure(self, quirks: Quirks) -> None:
        """Take the deck's quirks that change the procedure (D7 twice, D23 no Start/Resume)."""
        self._request_twice = quirks.request_control_twice
        self._no_start_resume = quirks.no_start_resume

    @property
    def granted(self) -> bool:
        """Whether we hold control right now."""
        return self._granted

    def set_granted(self, *, granted: bool) -> None:
        """Record a change of control (from a response, a status notification or a drop)."""
        if granted != self._granted:
            self._granted = granted
            self._on_granted(granted)

    def on_indication(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        """Bleak callback for control-point indications: completes the pending request."""
        try:
            response = parse_control_point_response(data)
        except CodecError as exc:
            _LOGGER.warning("%s: skipped a bad control point indication: %s", self._label, exc)
            return
        pending = self._pending
        if pending is None or pending[0] != response.request_op or pending[1].done():
            _LOGGER.debug("%s: unexpected control point response %r", self._label, response)
            return
        pending[1].set_result(response)

    def link_lost(self) -> None:
        """The link dropped: control is gone and a pending request fails at once."""
        self.set_granted(granted=False)
        if self._pending is not None and not self._pending[1].done():
            self._pending[1].set_exception(
                NotConnectedError("the treadmill disconnected before it answered")
            )

    async def request_control(self, client: BleakClient, *, device: str) -> None:
        """Send Request Control and wait for its success.

        Raises:
            ControlPointError: The treadmill refused or did not answer.
        """
        async with self._lock:
            await self._request_control_locked(client, device)

    async def command(
        self, client: BleakClient, op: ControlOp, payload: bytes, *, what: str, device: str
    ) -> None:
        """Run one procedure, taking control first when needed.

        Args:
            client: The connected bleak client.
            op: The request's op code.
            payload: The encoded request.
            what: The request as a phrase for messages ("set the incline to 2.5 %").
            device: The treadmill's name for messages.

        Raises:
            ControlPointError: A subclass per result code, or `ControlPointTimeoutError`.
            DriverError: The write itself failed.
        """
        if op == ControlOp.START_OR_RESUME and self._no_start_resume:
            raise OpCodeNotSupportedError(
                f"not sending Start/Resume to {device}: on this model it breaks the control "
                "point or pauses the belt; start the belt on the console",
                request_op=op,
            )
        async with self._lock:
            if not self._granted:
                await self._request_control_locked(client, device)
            response = await self._procedure(client, op, payload, what=what, device=device)
            if response.result == ResultCode.CONTROL_NOT_PERMITTED:
                # D7: some treadmills forget control; ask once more and retry once.
                self.set_granted(granted=False)
                await self._request_control_locked(client, device)
                response = await self._procedure(client, op, payload, what=what, device=device)
            _check(response, what=what)

    async def _request_control_locked(self, client: BleakClient, device: str) -> None:
        what = "request control"
        request = encode_request_control()
        response = await self._procedure(
            client, ControlOp.REQUEST_CONTROL, request, what=what, device=device
        )
        if self._request_twice or response.result == ResultCode.CONTROL_NOT_PERMITTED:
            # D7: some decks grant control only at the second request.
            _LOGGER.debug("%s: asking for control a second time", self._label)
            response = await self._procedure(
                client, ControlOp.REQUEST_CONTROL, request, what=what, device=device
            )
        _check(response, what=what)
        self.set_granted(granted=True)

    async def _procedure(
        self, client: BleakClient, op: ControlOp, payload: bytes, *, what: str, device: str
    ) -> ControlPointResponse:
        future: asyncio.Future[ControlPointResponse] = asyncio.get_running_loop().create_future()
        self._pending = (op, future)
        try:
            _LOGGER.debug("%s: control point <- %s", self._label, payload.hex(" "))
            with translated(f"sending '{what}' to {device}"):
                await _write_with_busy_retry(client, payload)
            async with asyncio.timeout(self._timeout_s):
                return await future
        except TimeoutError:
            raise ControlPointTimeoutError(
                f"the treadmill did not answer '{what}' within {self._timeout_s:g} s; "
                "it may be busy or not support remote control",
                request_op=op,
            ) from None
        finally:
            self._pending = None


async def _write_with_busy_retry(client: BleakClient, payload: bytes) -> None:
    # docs/ftms.md §7.3: the server ends a procedure only once our confirmation of its indication
    # arrived; a write that races it gets ATT 0xFE and is not queued, so wait and write again.
    for attempt in range(_BUSY_RETRIES + 1):
        try:
            await client.write_gatt_char(CONTROL_POINT_UUID, payload, response=True)
        except BleakGATTProtocolError as exc:
            busy = exc.code == BleakGATTProtocolErrorCode.PROCEDURE_ALREADY_IN_PROGRESS
            if not busy or attempt == _BUSY_RETRIES:
                raise
            await asyncio.sleep(_BUSY_RETRY_S)
        else:
            return


def _check(response: ControlPointResponse, *, what: str) -> None:
    if response.result == ResultCode.SUCCESS:
        return
    error, template = _RESULT_ERRORS.get(
        response.result,
        (ControlPointError, "the treadmill answered with unknown result code {code} ({what})"),
    )
    raise error(
        template.format(what=what, code=f"0x{int(response.result):02x}"),
        request_op=response.request_op,
        result=int(response.result),
    )

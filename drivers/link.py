"""I/O. The supervised connection every device link shares: find, connect, set up, reconnect.

Theory: `BleLink.run()` is a loop that never ends by itself. Each turn scans for the target
(scanning is the waiting, so a device that advertises again is picked up at its first
advertisement), connects with bleak, lets the subclass read and subscribe, reports
`LinkConnected`, and then waits for bleak's disconnected callback. Failed attempts wait a capped
exponential backoff with jitter before the next try; after a session that stayed up for a while
the backoff starts over, so a dropped link reconnects at once. Errors from bleak and the OS are
translated once (`translation.translated`) and logged with the link's label; nothing but
cancellation leaves `run()`, so a failing device never takes the daemon down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from bleak import BleakClient

from treadwell.drivers.backoff import Backoff
from treadwell.drivers.discovery import DeviceKind, DeviceTarget, find
from treadwell.drivers.errors import (
    BluetoothUnavailableError,
    DeviceNotFoundError,
    NotConnectedError,
    TreadwellError,
)
from treadwell.drivers.events import LinkConnected, LinkDisconnected, LinkEvent
from treadwell.drivers.translation import translated

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from bleak.backends.device import BLEDevice

    from treadwell.drivers.backend import BleBackend

_LOGGER = logging.getLogger(__name__)

_DISCONNECT_TIMEOUT_S = 5.0
DEFAULT_BACKOFF = Backoff()


class BleLink(ABC):
    """Base of the treadmill, heart-rate and footpod links (see the module docstring).

    Args:
        target: Which device to connect to.
        label: The link's name in events and logs (default: the kind, e.g. "heart_rate").
        backend: The bleak backend classes.
        on_event: Called, in the event loop, with every event the link produces.
        backoff: Delays between failed attempts.
        scan_timeout_s: Length of one scan window while looking for the device.
        connect_timeout_s: How long one connection attempt may take.
        stable_after_s: A session that lasted this long resets the backoff.
    """

    kind: ClassVar[DeviceKind]

    def __init__(
        self,
        target: DeviceTarget,
        *,
        label: str | None = None,
        backend: BleBackend,
        on_event: Callable[[LinkEvent], None],
        backoff: Backoff = DEFAULT_BACKOFF,
        scan_timeout_s: float = 30.0,
        connect_timeout_s: float = 20.0,
        stable_after_s: float = 10.0,
    ) -> None:
        if target.kind is not self.kind:
            raise ValueError(f"a {type(self).__name__} needs a {self.kind} target, got {target}")
        self._target = target
        self._label = label or self.kind.value
        self._backend = backend
        self._on_event = on_event
        self._backoff = backoff
        self._scan_timeout_s = scan_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._stable_after_s = stable_after_s
        self._client: BleakClient | None = None
        self._device_name = target.name or ""
        self._queues: list[asyncio.Queue[LinkEvent]] = []

    @property
    def label(self) -> str:
        """The link's label, as used in events and logs."""
        return self._label

    @property
    def connected(self) -> bool:
        """Whether the device is connected and fully set up."""
        return self._client is not None

    async def run(self) -> None:
        """Keep the device connected until cancelled; never raises anything else."""
        loop = asyncio.get_running_loop()
        delays = self._backoff.delays()
        while True:
            _stop_if_cancelled()
            started = loop.time()
            try:
                await self._session()
            except DeviceNotFoundError as exc:
                _LOGGER.info("%s: %s", self._label, exc)
                continue
            except BluetoothUnavailableError as exc:
                _LOGGER.error("%s: %s", self._label, exc)  # noqa: TRY400 (translated, no trace)
            except TreadwellError as exc:
                _LOGGER.warning("%s: %s", self._label, exc)
            except Exception:
                _LOGGER.exception("%s: unexpected failure; the link will reconnect", self._label)
            if loop.time() - started >= self._stable_after_s:
                delays = self._backoff.delays()
                continue
            delay = next(delays)
            _LOGGER.debug("%s: next attempt in %.1f s", self._label, delay)
            await asyncio.sleep(delay)

    async def events(self) -> AsyncIterator[LinkEvent]:
        """Yield the link's events as they happen (in addition to the `on_event` callback)."""
        queue: asyncio.Queue[LinkEvent] = asyncio.Queue()
        self._queues.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(queue)

    def _emit(self, event: LinkEvent) -> None:
        for queue in self._queues:
            queue.put_nowait(event)
        try:
            self._on_event(event)
        except Exception:
            # A broken consumer must not break the link (nor hide the event from others).
            _LOGGER.exception("%s: the event handler failed on %r", self._label, event)

    def _require_client(self) -> BleakClient:
        if self._client is None:
            raise NotConnectedError(
                f"the {self._target.describe()} is not connected right now; it reconnects "
                "by itself as soon as it is switched on and in range"
            )
        return self._client

    async def _session(self) -> None:
        device = await find(self._target, backend=self._backend, timeout_s=self._scan_timeout_s)
        self._device_name = device.name or self._target.name or device.address
        lost = asyncio.Event()
        client = BleakClient(
            device,
            disconnected_callback=lambda _client: lost.set(),
            timeout=self._connect_timeout_s,
            backend=self._backend.client,
        )
        with translated(f"connecting to {self._device_name} ({device.address})"):
            await client.connect()
        reason = "the device disconnected (switched off or out of range?)"
        try:
            _stop_if_cancelled()
            with translated(f"setting up {self._device_name}"):
                info_event = await self._setup(client, device)
            self._client = client
            _LOGGER.info("%s: connected to %s (%s)", self._label, self._device_name, device.address)
            self._emit(info_event)
            await self._after_connect()
            _stop_if_cancelled()
            await lost.wait()
        except asyncio.CancelledError:
            reason = "the link was stopped"
            raise
        except Exception as exc:
            reason = str(exc)
            raise
        finally:
            await self._end_session(client, reason=reason)

    async def _end_session(self, client: BleakClient, *, reason: str) -> None:
        was_up = self._client is not None
        self._client = None
        self._on_drop()
        # Always disconnect, even after the device dropped the link: on BlueZ, bleak gives
        # each client its own D-Bus connection and closes it only here (a skipped call leaks
        # one socket per drop; the BlueZ VM suite counts them).
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_DISCONNECT_TIMEOUT_S):
                await client.disconnect()
        if was_up:
            _LOGGER.info("%s: disconnected: %s", self._label, reason)
            self._emit(LinkDisconnected(self._label, self.kind, reason))

    @abstractmethod
    async def _setup(self, client: BleakClient, device: BLEDevice) -> LinkConnected:
        """Read and subscribe on a fresh connection; return the event that announces it."""

    async def _after_connect(self) -> None:  # noqa: B027 (optional hook)
        """Run once the link is up and announced (the treadmill re-requests control here)."""

    def _on_drop(self) -> None:  # noqa: B027 (optional hook)
        """Forget per-connection state (partial records, pending requests)."""


def _stop_if_cancelled() -> None:
    """Raise CancelledError if a stop was asked for but swallowed on the way.

    On Python 3.11, `asyncio.wait_for` (used inside bleak and the scanner) can swallow a
    cancellation that arrives as its inner call completes; the task then carried on scanning
    and connecting, and a daemon asked to stop never did. The request is still counted by
    `Task.cancelling()`, so the link checks it between steps.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError

"""I/O. The FTMS treadmill link: readings in, incline (and, only on request, speed) out.

On each connection (FTMS.md §7.4) the link reads Fitness Machine Feature and the supported
ranges, then subscribes in the order status, training status, control point (indications),
treadmill data last. Treadmill Data packets are reassembled into records (§3.4), converted with
the model's quirks and reported as `TreadmillReading` events.

Control (§7.3) goes through `control.ControlPoint`: one procedure at a time, written with
response, answered by a ``0x80`` indication awaited with a timeout, every result code a typed
error. Control is requested before the first command and again after a Reset or "control
permission lost" (lazily, on the next command: FTMS.md §6 says not to fight for it), and
eagerly after a reconnect once we have held it. Requested inclines are snapped to the deck's
range and step and to the runner's limits, and confirmed from later Treadmill Data. The link
never sends a speed change by itself: only an explicit `set_speed` call does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from typing import TYPE_CHECKING, ClassVar

from treadwell.drivers.backoff import Backoff
from treadwell.drivers.codec.ftms import (
    ControlOp,
    InclinationRange,
    MachineFeatures,
    MachineStatusOp,
    SpeedRange,
    TargetSetting,
    TreadmillData,
    TreadmillRecordAssembler,
    encode_set_target_inclination,
    encode_set_target_speed,
    parse_fitness_machine_feature,
    parse_machine_status,
    parse_supported_inclination_range,
    parse_supported_speed_range,
    parse_training_status,
    parse_treadmill_data,
)
from treadwell.drivers.control import ControlPoint
from treadwell.drivers.discovery import DeviceKind, DeviceTarget
from treadwell.drivers.errors import (
    BeltNotRunningError,
    CodecError,
    DriverError,
    InclineNotSupportedError,
)
from treadwell.drivers.events import (
    ControlStateChanged,
    HeartRateSource,
    InclineConfirmed,
    LinkConnected,
    LinkEvent,
    MachineStatusChanged,
    TrainingStatusChanged,
    TreadmillInfo,
    TreadmillReading,
)
from treadwell.drivers.incline import InclineLimits, snap_incline
from treadwell.drivers.link import DEFAULT_BACKOFF, BleLink
from treadwell.drivers.quirks import Quirks, quirks_for
from treadwell.drivers.uuids import (
    CONTROL_POINT_UUID,
    FITNESS_MACHINE_FEATURE_UUID,
    MACHINE_STATUS_UUID,
    SUPPORTED_INCLINATION_RANGE_UUID,
    SUPPORTED_SPEED_RANGE_UUID,
    TRAINING_STATUS_UUID,
    TREADMILL_DATA_UUID,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from bleak import BleakClient
    from bleak.backends.characteristic import BleakGATTCharacteristic
    from bleak.backends.device import BLEDevice

    from treadwell.drivers.backend import BleBackend

__all__ = ["Backoff", "InclineLimits", "TreadmillLink"]

_LOGGER = logging.getLogger(__name__)

_CONFIRM_TOLERANCE_PCT = 0.05
_CONTROL_LOST = (MachineStatusOp.CONTROL_PERMISSION_LOST, MachineStatusOp.RESET)
_BELT_STOPPED = (MachineStatusOp.STOPPED_OR_PAUSED, MachineStatusOp.STOPPED_BY_SAFETY_KEY)


class TreadmillLink(BleLink):
    """A supervised link to one FTMS treadmill (see the module docstring).

    Args:
        target: Which treadmill (kind must be `DeviceKind.TREADMILL`).
        label: The link's name in events and logs.
        backend: The bleak backend classes.
        on_event: Called with every event.
        backoff: Delays between failed connection attempts.
        control_timeout_s: How long to wait for a control-point response indication.
        **kwargs: Passed to `BleLink` (scan, connect and stability timings).
    """

    kind: ClassVar[DeviceKind] = DeviceKind.TREADMILL

    def __init__(
        self,
        target: DeviceTarget,
        *,
        label: str = "treadmill",
        backend: BleBackend,
        on_event: Callable[[LinkEvent], None],
        backoff: Backoff = DEFAULT_BACKOFF,
        control_timeout_s: float = 2.0,
        **kwargs: float,
    ) -> None:
        super().__init__(
            target, label=label, backend=backend, on_event=on_event, backoff=backoff, **kwargs
        )
        self._control_timeout_s = control_timeout_s
        self._control = ControlPoint(
            label=self._label, timeout_s=control_timeout_s, on_granted=self._on_granted
        )
        self._assembler = TreadmillRecordAssembler()
        self._info: TreadmillInfo | None = None
        self._wire_speed_range: SpeedRange | None = None
        self._quirks = Quirks()
        self._want_control = False
        self._belt_running = False
        self._last_incline_pct: float | None = None
        self._incline_target: float | None = None
        self._incline_reached = asyncio.Event()

    @property
    def info(self) -> TreadmillInfo | None:
        """What the treadmill reported about itself on the latest connection."""
        return self._info

    @property
    def control_granted(self) -> bool:
        """Whether we hold control of the treadmill's control point right now."""
        return self._control.granted

    @property
    def last_incline_pct(self) -> float | None:
        """The incline of the latest Treadmill Data record that carried one."""
        return self._last_incline_pct

    @property
    def belt_running(self) -> bool:
        """Whether the belt is running, from status notifications and reported speed."""
        return self._belt_running

    # -- connection setup -------------------------------------------------------------------

    async def _setup(self, client: BleakClient, device: BLEDevice) -> LinkConnected:
        self._quirks = quirks_for(device.name or self._target.name)
        info = await self._read_info(client, device)
        self._info = info
        subscriptions = (
            (MACHINE_STATUS_UUID, self._on_machine_status),
            (TRAINING_STATUS_UUID, self._on_training_status),
            (CONTROL_POINT_UUID, self._control.on_indication),
            (TREADMILL_DATA_UUID, self._on_treadmill_data),
        )
        for uuid, handler in subscriptions:
            if client.services.get_characteristic(uuid) is not None:
                await client.start_notify(uuid, handler)
        return LinkConnected(self._label, self.kind, info.name, info.address, info)

    async def _read_info(self, client: BleakClient, device: BLEDevice) -> TreadmillInfo:
        def has(uuid: str) -> bool:
            return client.services.get_characteristic(uuid) is not None

        features = parse_fitness_machine_feature(
            await client.read_gatt_char(FITNESS_MACHINE_FEATURE_UUID)
        )
        targets = features.target_settings
        speed_range: SpeedRange | None = None
        incline_range: InclinationRange | None = None
        self._wire_speed_range = None
        if TargetSetting.SPEED in targets and has(SUPPORTED_SPEED_RANGE_UUID):
            raw = await client.read_gatt_char(SUPPORTED_SPEED_RANGE_UUID)
            self._wire_speed_range = parse_supported_speed_range(raw)
            speed_range = self._speed_range_in_kmh(self._wire_speed_range)
        if TargetSetting.INCLINATION in targets and has(SUPPORTED_INCLINATION_RANGE_UUID):
            raw = await client.read_gatt_char(SUPPORTED_INCLINATION_RANGE_UUID)
            incline_range = self._incline_range_in_pct(parse_supported_inclination_range(raw))
        # FTMS.md §2: a target bit whose range characteristic is missing cannot be used.
        if speed_range is None:
            targets &= ~TargetSetting.SPEED
        if incline_range is None:
            targets &= ~TargetSetting.INCLINATION
        features = MachineFeatures(features.features, targets)
        return TreadmillInfo(
            name=device.name or self._target.name or device.address,
            address=device.address,
            features=features,
            speed_range=speed_range,
            incline_range=incline_range,
            can_set_incline=incline_range is not None and has(CONTROL_POINT_UUID),
            quirks=self._quirks,
        )

    def _speed_range_in_kmh(self, rng: SpeedRange) -> SpeedRange:
        q = self._quirks
        return SpeedRange(
            q.speed_to_kmh(rng.min_kmh), q.speed_to_kmh(rng.max_kmh), q.speed_to_kmh(rng.step_kmh)
        )

    def _incline_range_in_pct(self, rng: InclinationRange) -> InclinationRange:
        q = self._quirks
        low = q.raw_to_incline(rng.min_pct * 10)
        high = q.raw_to_incline(rng.max_pct * 10)
        step = rng.step_pct if not q.incline_map else q.incline_step_pct or 1.0
        if q.incline_min_pct is not None:
            low = q.incline_min_pct
        if q.incline_step_pct is not None:
            step = max(step, q.incline_step_pct)
        return InclinationRange(low, high, step)

    async def _after_connect(self) -> None:
        if not self._want_control:
            return
        try:
            await self._control.request_control(self._require_client(), device=self._device_name)
        except DriverError as exc:
            _LOGGER.warning(
                "%s: could not take control again after reconnecting: %s", self._label, exc
            )

    def _on_drop(self) -> None:
        partial = self._assembler.flush()
        if partial is not None:
            # FTMS §4.19: a record cut by link loss is discarded, never re-sent.
            _LOGGER.debug("%s: dropped a half record on link loss", self._label)
        self._control.link_lost()
        self._belt_running = False

    # -- notifications ----------------------------------------------------------------------

    def _on_treadmill_data(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            packet = parse_treadmill_data(
                data,
                pace_width=self._quirks.pace_width,
                vendor_step_count=self._quirks.vendor_step_count,
            )
        except CodecError as exc:
            _LOGGER.warning("%s: skipped a bad Treadmill Data packet: %s", self._label, exc)
            return
        record = self._assembler.feed(packet, asyncio.get_running_loop().time())
        if record is not None:
            self._publish(self._apply_quirks(record))

    def _apply_quirks(self, record: TreadmillData) -> TreadmillData:
        q = self._quirks
        if q.speed_in_mph:
            record = dataclasses.replace(
                record,
                speed_kmh=_maybe(q.speed_to_kmh, record.speed_kmh),
                average_speed_kmh=_maybe(q.speed_to_kmh, record.average_speed_kmh),
            )
        if q.incline_map and record.incline_pct is not None:
            record = dataclasses.replace(
                record, incline_pct=q.raw_to_incline(record.incline_pct * 10)
            )
        return record

    def _publish(self, record: TreadmillData) -> None:
        if record.speed_kmh is not None:
            self._belt_running = record.speed_kmh > 0
        if record.incline_pct is not None:
            self._last_incline_pct = record.incline_pct
        source = HeartRateSource.TREADMILL if record.heart_rate_bpm else None
        self._emit(TreadmillReading(self._label, record, source))
        target = self._incline_target
        if (
            target is not None
            and record.incline_pct is not None
            and abs(record.incline_pct - target) <= _CONFIRM_TOLERANCE_PCT
        ):
            self._incline_target = None
            self._incline_reached.set()
            self._emit(InclineConfirmed(self._label, target))

    def _on_machine_status(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            status = parse_machine_status(data)
        except CodecError as exc:
            _LOGGER.warning("%s: skipped a bad Machine Status packet: %s", self._label, exc)
            return
        if status.op in _CONTROL_LOST:
            # FTMS.md §6: do not fight for control; the next command asks for it again.
            self._control.set_granted(granted=False)
        elif status.op == MachineStatusOp.STARTED_OR_RESUMED:
            self._belt_running = True
        elif status.op in _BELT_STOPPED:
            self._belt_running = False
        elif status.op == MachineStatusOp.TARGET_INCLINE_CHANGED and not self._is_our_target(
            status.target_incline_pct
        ):
            self._incline_target = None  # the runner took over at the console
        self._emit(MachineStatusChanged(self._label, status))

    def _is_our_target(self, reported_pct: float | None) -> bool:
        # FTMS §4.17.1 says the status goes to the other clients only, but many treadmills
        # echo it to everyone: an echo of our own target is not a console change.
        target = self._incline_target
        if target is None or reported_pct is None:
            return False
        reported = self._quirks.raw_to_incline(reported_pct * 10)
        return abs(reported - target) <= _CONFIRM_TOLERANCE_PCT

    def _on_training_status(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            status = parse_training_status(data)
        except CodecError as exc:
            _LOGGER.warning("%s: skipped a bad Training Status packet: %s", self._label, exc)
            return
        self._emit(TrainingStatusChanged(self._label, status))

    def _on_granted(self, granted: bool) -> None:
        if granted:
            self._want_control = True
        self._emit(ControlStateChanged(self._label, granted))

    # -- control ----------------------------------------------------------------------------

    async def set_incline(self, incline_pct: float, *, limits: InclineLimits) -> float:
        """Set the deck's incline, snapped to the treadmill's range and step.

        Args:
            incline_pct: The incline asked for, in percent.
            limits: The runner's configured limits; a request outside them is refused.

        Returns:
            The incline actually sent (after snapping), in percent.

        Raises:
            NotConnectedError: The treadmill is not connected.
            InclineNotSupportedError: The treadmill cannot set its incline over Bluetooth.
            InclineOutOfLimitsError: The request is outside the runner's limits.
            BeltNotRunningError: This model only takes incline changes while the belt runs.
            ControlPointError: The treadmill refused (a subclass per result code) or did not
                answer in time (`ControlPointTimeoutError`).
        """
        info = self._require_info()
        rng = info.incline_range
        if rng is None or not info.can_set_incline:
            raise InclineNotSupportedError(
                f"{info.name} cannot set its incline over Bluetooth (it does not offer incline "
                "targets or its supported range); change the incline on the console"
            )
        target = snap_incline(
            incline_pct,
            device_min_pct=rng.min_pct,
            device_max_pct=rng.max_pct,
            step_pct=rng.step_pct,
            limits=limits,
        )
        if info.quirks.set_incline_only_while_running and not self._belt_running:
            raise BeltNotRunningError(
                f"{info.name} only accepts incline changes while the belt runs; start the "
                "belt first"
            )
        raw = info.quirks.incline_to_raw(target)
        self._incline_target = target
        self._incline_reached.clear()
        try:
            await self._control.command(
                self._require_client(),
                ControlOp.SET_TARGET_INCLINATION,
                encode_set_target_inclination(raw / 10),
                what=f"set the incline to {target:g} %",
                device=info.name,
            )
        except BaseException:
            self._incline_target = None
            raise
        _LOGGER.info("%s: incline set to %g %%", self._label, target)
        return target

    async def wait_for_incline(self, timeout_s: float) -> bool:
        """Wait until Treadmill Data shows the deck at the incline last set.

        Args:
            timeout_s: How long to wait (decks move slowly: allow several seconds).

        Returns:
            True when a reading confirmed it, False on timeout or when nothing is pending.
        """
        if self._incline_target is None:
            return self._incline_reached.is_set()
        try:
            async with asyncio.timeout(timeout_s):
                await self._incline_reached.wait()
        except TimeoutError:
            return False
        return True

    async def set_speed(self, speed_kmh: float) -> float:
        """Set the belt speed; only ever called on an explicit request, never by the rules.

        Args:
            speed_kmh: The speed asked for, in km/h; rounded to the treadmill's step (counted
                from its minimum, in the unit the treadmill uses).

        Returns:
            The speed sent, in km/h.

        Raises:
            NotConnectedError: The treadmill is not connected.
            DriverError: The treadmill cannot set its speed, or the speed is outside its range.
            ControlPointError: The treadmill refused or did not answer in time.
        """
        info = self._require_info()
        wire = self._wire_speed_range
        if info.speed_range is None or wire is None:
            raise DriverError(f"{info.name} cannot set its speed over Bluetooth")
        rng = info.speed_range
        if not rng.min_kmh - 0.005 <= speed_kmh <= rng.max_kmh + 0.005:
            raise DriverError(
                f"speed {speed_kmh:g} km/h is outside {info.name}'s range "
                f"{rng.min_kmh:g} to {rng.max_kmh:g} km/h"
            )
        value = info.quirks.speed_from_kmh(speed_kmh)
        step = wire.step_kmh if wire.step_kmh > 0 else 0.01
        steps = math.floor(round((value - wire.min_kmh) / step, 6) + 0.5)
        value = round(min(wire.min_kmh + steps * step, wire.max_kmh), 2)
        speed = info.quirks.speed_to_kmh(value)
        await self._control.command(
            self._require_client(),
            ControlOp.SET_TARGET_SPEED,
            encode_set_target_speed(value),
            what=f"set the speed to {speed:g} km/h",
            device=info.name,
        )
        return speed

    def _require_info(self) -> TreadmillInfo:
        self._require_client()
        if self._info is None:  # set before the link counts as connected
            raise AssertionError
        return self._info


def _maybe(convert: Callable[[float], float], value: float | None) -> float | None:
    return None if value is None else convert(value)

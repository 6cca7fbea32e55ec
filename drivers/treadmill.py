"""I/O. The FTMS treadmill link: readings in, incline (and, only on request, speed) out.

On each connection (docs/ftms.md §7.4) the link reads Fitness Machine Feature and the supported
ranges, then subscribes in the order status, training status, control point (indications),
treadmill data last. Treadmill Data packets are reassembled into records (§3.4), converted with
the model's quirks and reported as `TreadmillReading` events.

Control (§7.3) goes through `control.ControlPoint`: one procedure at a time, written with
response, answered by a ``0x80`` indication awaited with a timeout, every result code a typed
error. Control is requested before the first command and again after a Reset or "control
permission lost" (lazily, on the next command: docs/ftms.md §6 says not to fight for it), and
eagerly after a reconnect once we have held it. Requested inclines are snapped to the deck's
range and step and to the runner's limits, and confirmed from later Treadmill Data. The link
never sends a speed change by itself: only an explicit `set_speed` call does.

Quirks (`quirks.py`) are applied here and only here. The table row for the advertised name is
checked against the deck's own answers first (`quirks.settle_incline`), and the wire value of
every incline target is checked once more against the runner's limits
(`quirks.wire_incline`). Deviations the table cannot know are learned from the deck's answers
on this link and kept across reconnects: Operation Failed while the belt is stopped (the
target is sent again once it runs) and Invalid Parameter for a half step (the step becomes
1 %). Decks that never report incline get the commanded value, marked as assumed; decks whose
distance is stuck or coarse get distance integrated from speed (`distance.py`).
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
from treadwell.drivers.distance import DistanceEstimator
from treadwell.drivers.errors import (
    BeltNotRunningError,
    CodecError,
    DriverError,
    InclineNotSupportedError,
    InvalidParameterError,
    OperationFailedError,
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
from treadwell.drivers.quirks import Quirks, quirks_for, settle_incline, wire_incline
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
_WHOLE_STEP_PCT = 1.0
# No incline motor moves this fast: a bigger jump between two records is a reported target.
_TARGET_JUMP_MIN_PCT = 2.0
_MOTOR_MAX_PCT_PER_S = 2.5


class TreadmillLink(BleLink):
    """A supervised link to one FTMS treadmill (see the module docstring).

    Args:
        target: Which treadmill (kind must be `DeviceKind.TREADMILL`).
        label: The link's name in events and logs.
        backend: The bleak backend classes.
        on_event: Called with every event.
        backoff: Delays between failed connection attempts.
        control_timeout_s: How long to wait for a control-point response indication.
        belt_wait_s: How long an incline target for a deck that takes targets only while the
            belt runs waits for the belt before `BeltNotRunningError`.
        learned: Deviations learned on an earlier connection (from the probe memory); they
            are applied on top of the table row, as if learned on this link.
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
        belt_wait_s: float = 60.0,
        learned: Quirks | None = None,
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
        self._learned = learned or Quirks()
        self._learned_notes: list[str] = []
        self._belt_wait_s = belt_wait_s
        self._want_control = False
        self._belt_running = False
        self._belt_started = asyncio.Event()
        self._commanded_incline: float | None = None
        self._last_incline_t: float | None = None
        self._distance = DistanceEstimator()
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
    def learned(self) -> Quirks:
        """Deviations learned from the deck's answers (only the learned fields are set)."""
        return self._learned

    def learn(self, remembered: Quirks) -> None:
        """Take deviations remembered from an earlier connection (the daemon's device memory).

        They apply at once (the control point is reconfigured) and on every later connection.
        """
        self._learned = _merge(remembered, self._learned)
        self._quirks = _merge(self._quirks, self._learned)
        self._control.configure(self._quirks)

    @property
    def belt_running(self) -> bool:
        """Whether the belt is running, from status notifications and reported speed."""
        return self._belt_running

    # -- connection setup -------------------------------------------------------------------

    async def _setup(self, client: BleakClient, device: BLEDevice) -> LinkConnected:
        self._quirks = _merge(quirks_for(device.name or self._target.name), self._learned)
        self._control.configure(self._quirks)
        self._distance.reset()
        self._commanded_incline = None
        self._last_incline_t = None
        info = await self._read_info(client, device)
        self._info = info
        for note in info.notes:
            _LOGGER.warning("%s: %s", self._label, note)
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
        reported: InclinationRange | None = None
        self._wire_speed_range = None
        if TargetSetting.SPEED in targets and has(SUPPORTED_SPEED_RANGE_UUID):
            raw = await client.read_gatt_char(SUPPORTED_SPEED_RANGE_UUID)
            self._wire_speed_range = parse_supported_speed_range(raw)
            speed_range = self._speed_range_in_kmh(self._wire_speed_range)
        if TargetSetting.INCLINATION in targets and has(SUPPORTED_INCLINATION_RANGE_UUID):
            raw = await client.read_gatt_char(SUPPORTED_INCLINATION_RANGE_UUID)
            reported = parse_supported_inclination_range(raw)
        name = device.name or self._target.name or device.address
        settled = settle_incline(self._quirks, reported, name=name)
        self._quirks = settled.quirks
        incline_range = settled.incline_range
        # docs/ftms.md §2: a target bit whose range characteristic is missing cannot be used.
        if speed_range is None:
            targets &= ~TargetSetting.SPEED
        if incline_range is None:
            targets &= ~TargetSetting.INCLINATION
        features = MachineFeatures(features.features, targets)
        notes = list(settled.notes)
        if incline_range is not None and not has(CONTROL_POINT_UUID):
            notes.append(f"{name} has no control point: no incline control over Bluetooth")
        return TreadmillInfo(
            name=name,
            address=device.address,
            features=features,
            speed_range=speed_range,
            incline_range=incline_range,
            can_set_incline=incline_range is not None and has(CONTROL_POINT_UUID),
            quirks=self._quirks,
            reported_incline_range=reported,
            notes=(*notes, *self._learned_notes),
        )

    def _speed_range_in_kmh(self, rng: SpeedRange) -> SpeedRange:
        q = self._quirks
        return SpeedRange(
            q.speed_to_kmh(rng.min_kmh), q.speed_to_kmh(rng.max_kmh), q.speed_to_kmh(rng.step_kmh)
        )

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
        self._set_belt(running=False)

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
        now = asyncio.get_running_loop().time()
        if record.speed_kmh is not None:
            self._set_belt(running=record.speed_kmh > 0)
        if record.incline_pct is not None:
            self._watch_incline_jump(record.incline_pct, now)
            self._last_incline_pct = record.incline_pct
            self._last_incline_t = now
        echoed = record.incline_pct is None and self._commanded_incline is not None
        if echoed:
            record = dataclasses.replace(record, incline_pct=self._commanded_incline)
        assumed = echoed or (record.incline_pct is not None and self._quirks.incline_reports_target)
        estimate = self._distance.feed(now, record.speed_kmh, record.total_distance_m)
        if estimate.estimated:
            record = dataclasses.replace(record, total_distance_m=estimate.total_m)
        source = HeartRateSource.TREADMILL if record.heart_rate_bpm else None
        self._emit(
            TreadmillReading(
                self._label,
                record,
                source,
                incline_assumed=assumed,
                distance_estimated=estimate.estimated,
            )
        )
        target = self._incline_target
        if (
            (not assumed or self._quirks.incline_reports_target)
            and target is not None
            and record.incline_pct is not None
            and abs(record.incline_pct - target) <= _CONFIRM_TOLERANCE_PCT
        ):
            self._incline_target = None
            self._incline_reached.set()
            self._emit(InclineConfirmed(self._label, target))

    def _watch_incline_jump(self, incline_pct: float, now: float) -> None:
        previous, since = self._last_incline_pct, self._last_incline_t
        if self._quirks.incline_reports_target or previous is None or since is None:
            return
        jump = abs(incline_pct - previous)
        if jump >= _TARGET_JUMP_MIN_PCT and jump > _MOTOR_MAX_PCT_PER_S * max(now - since, 1e-3):
            name = self._info.name if self._info is not None else self._label
            self._learn(
                reports_target=True,
                note=f"{name}'s incline reading jumped {jump:g} % at once: it reports the "
                "target, not the deck's position, so readings mark their incline as assumed",
            )

    def _on_machine_status(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            status = parse_machine_status(data)
        except CodecError as exc:
            _LOGGER.warning("%s: skipped a bad Machine Status packet: %s", self._label, exc)
            return
        if status.op in _CONTROL_LOST:
            # docs/ftms.md §6: do not fight for control; the next command asks for it again.
            self._control.set_granted(granted=False)
        elif status.op == MachineStatusOp.STARTED_OR_RESUMED:
            self._set_belt(running=True)
        elif status.op in _BELT_STOPPED:
            self._set_belt(running=False)
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

    def _set_belt(self, *, running: bool) -> None:
        self._belt_running = running
        if running:
            self._belt_started.set()
        else:
            self._belt_started.clear()

    def _on_granted(self, granted: bool) -> None:
        if granted:
            self._want_control = True
        self._emit(ControlStateChanged(self._label, granted))

    # -- control ----------------------------------------------------------------------------

    async def set_incline(self, incline_pct: float, *, limits: InclineLimits) -> float:
        """Set the deck's incline, snapped to the treadmill's range and step.

        A deck that takes targets only while the belt runs (from the table, or learned from an
        Operation Failed answer while the belt was stopped) gets the target once the belt
        runs, waiting at most `belt_wait_s`. A deck that refuses a half step (Invalid
        Parameter) gets the target re-snapped to whole percent once; the step is kept.

        Args:
            incline_pct: The incline asked for, in percent.
            limits: The runner's configured limits; a request outside them is refused.

        Returns:
            The incline actually sent (after snapping), in percent.

        Raises:
            NotConnectedError: The treadmill is not connected.
            InclineNotSupportedError: The treadmill cannot set its incline over Bluetooth.
            InclineOutOfLimitsError: The request is outside the runner's limits, or its wire
                value would be (see `quirks.wire_incline`).
            BeltNotRunningError: This deck only takes incline changes while the belt runs,
                and the belt did not start within `belt_wait_s`.
            ControlPointError: The treadmill refused (a subclass per result code) or did not
                answer in time (`ControlPointTimeoutError`).
        """
        info = self._require_info()
        target = self._snap(info, incline_pct, limits)
        if self._quirks.set_incline_only_while_running and not self._belt_running:
            await self._wait_for_belt(info)
        try:
            return await self._send_incline(target, limits)
        except OperationFailedError as exc:
            refused_set = exc.request_op == ControlOp.SET_TARGET_INCLINATION
            if not refused_set or self._belt_running or self._quirks.set_incline_only_while_running:
                raise
            self._learn(
                only_while_running=True,
                note=f"{info.name} refused an incline target while the belt was stopped: "
                "targets are sent once the belt runs",
            )
            await self._wait_for_belt(info)
            return await self._send_incline(target, limits)
        except InvalidParameterError as exc:
            step = self._require_info().incline_range
            refused_set = exc.request_op == ControlOp.SET_TARGET_INCLINATION
            if not refused_set or step is None or step.step_pct >= _WHOLE_STEP_PCT - 1e-6:
                raise
            whole = math.isclose(target, round(target), abs_tol=1e-6)
            if whole:
                raise
            self._learn(
                step_pct=_WHOLE_STEP_PCT,
                note=f"{info.name} refused {target:g} %: it takes whole percent steps only",
            )
            retry = self._snap(self._require_info(), incline_pct, limits)
            return await self._send_incline(retry, limits)

    def _snap(self, info: TreadmillInfo, incline_pct: float, limits: InclineLimits) -> float:
        rng = info.incline_range
        if rng is None or not info.can_set_incline:
            why = "; ".join(info.notes) or (
                "it does not offer incline targets or its supported range"
            )
            raise InclineNotSupportedError(
                f"{info.name} cannot set its incline over Bluetooth ({why}); change the "
                "incline on the console"
            )
        return snap_incline(
            incline_pct,
            device_min_pct=rng.min_pct,
            device_max_pct=rng.max_pct,
            step_pct=rng.step_pct,
            limits=limits,
        )

    async def _wait_for_belt(self, info: TreadmillInfo) -> None:
        _LOGGER.info("%s: waiting for the belt to run before setting the incline", self._label)
        try:
            async with asyncio.timeout(self._belt_wait_s):
                await self._belt_started.wait()
        except TimeoutError:
            raise BeltNotRunningError(
                f"{info.name} only accepts incline changes while the belt runs, and the belt "
                f"did not start within {self._belt_wait_s:g} s; start the belt first"
            ) from None

    async def _send_incline(self, target: float, limits: InclineLimits) -> float:
        info = self._require_info()
        rng = info.incline_range
        if rng is None:  # checked by _snap; the info does not change while connected
            raise AssertionError
        reported = info.reported_incline_range
        raw = wire_incline(
            target,
            self._quirks,
            deck=rng,
            reported_min_pct=reported.min_pct if reported is not None else 0.0,
            limit_min_pct=limits.min_pct,
            limit_max_pct=limits.max_pct,
        )
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
        self._commanded_incline = target
        _LOGGER.info("%s: incline set to %g %%", self._label, target)
        return target

    def _learn(
        self,
        *,
        note: str,
        step_pct: float | None = None,
        only_while_running: bool = False,
        reports_target: bool = False,
    ) -> None:
        """Keep a deviation learned from the deck's answer, for this and later connections."""
        _LOGGER.warning("%s: %s", self._label, note)
        learned = self._learned
        self._learned = dataclasses.replace(
            learned,
            incline_step_pct=step_pct if step_pct is not None else learned.incline_step_pct,
            set_incline_only_while_running=(
                only_while_running or learned.set_incline_only_while_running
            ),
            incline_reports_target=reports_target or learned.incline_reports_target,
        )
        self._learned_notes.append(note)
        self._quirks = _merge(self._quirks, self._learned)
        info = self._info
        if info is None:
            return
        rng = info.incline_range
        step = self._quirks.incline_step_pct
        if rng is not None and step is not None and step > rng.step_pct:
            rng = InclinationRange(rng.min_pct, rng.max_pct, step)
        self._info = dataclasses.replace(
            info, quirks=self._quirks, incline_range=rng, notes=(*info.notes, note)
        )

    async def request_control(self) -> None:
        """Ask for control of the control point now (the probe checks whether it is granted).

        Raises:
            NotConnectedError: The treadmill is not connected.
            ControlPointError: The treadmill refused or did not answer in time.
        """
        info = self._require_info()
        await self._control.request_control(self._require_client(), device=info.name)

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


def _merge(table: Quirks, learned: Quirks) -> Quirks:
    """The table row with what was learned from the deck on top (learned fields only)."""
    step = learned.incline_step_pct
    if step is not None and table.incline_step_pct is not None:
        step = max(step, table.incline_step_pct)
    return dataclasses.replace(
        table,
        incline_step_pct=step if step is not None else table.incline_step_pct,
        set_incline_only_while_running=(
            table.set_incline_only_while_running or learned.set_incline_only_while_running
        ),
        incline_reports_target=table.incline_reports_target or learned.incline_reports_target,
    )


def _maybe(convert: Callable[[float], float], value: float | None) -> float | None:
    return None if value is None else convert(value)

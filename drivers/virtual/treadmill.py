"""I/O. A virtual FTMS treadmill: a Bumble GATT server with a belt, a deck and a console.

It serves the Fitness Machine Service (docs/ftms.md §1.2): Feature, Treadmill Data, Training Status,
the speed and inclination ranges, the Control Point and Machine Status. The control point
follows docs/ftms.md §7.3: a write is refused with ATT error 0xFD unless indications are on, a write
while a procedure is pending gets 0xFE, Request Control must succeed first, and the 0x80
response is indicated from a separate task after the Write Response went out (quirk 6). Status
changes the control point caused are notified to the other clients only (FTMS §4.17.1); console
actions are notified to everyone.

Fault and quirk modes (`TreadmillConfig` and attributes) reproduce deviations from docs/ftms.md §10:
truncated packets (D1), split records (D2), mph units (D4), sets refused while the belt is
stopped (D11), plus garbage bytes, lost control, slow or missing indications and link loss,
and the control-point misbehaviours of docs/quirks.md: control granted at the second request
only (D7), answers as notifications (D24), Start/Resume that breaks the control point and
pauses the belt (D23), half steps refused although the range offers them (D8), a negative
target read as unsigned (D25), no incline in Treadmill Data (D13), silence instead of speed 0,
distance stuck at 0 or in 10 m steps (D26), and an incline field carrying the target (D27).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from bumble import att, gatt

from treadwell.drivers.codec.ftms import (
    ControlOp,
    ControlPointRequest,
    InclinationRange,
    MachineFeature,
    MachineFeatures,
    MachineStatus,
    MachineStatusOp,
    ResultCode,
    SpeedRange,
    TargetSetting,
    TrainingStatus,
    TrainingStatusCode,
    TreadmillData,
    encode_control_point_response,
    encode_fitness_machine_feature,
    encode_machine_status,
    encode_supported_inclination_range,
    encode_supported_speed_range,
    encode_training_status,
    encode_treadmill_data,
    parse_control_point_request,
    split_treadmill_data,
)
from treadwell.drivers.errors import CodecError
from treadwell.drivers.uuids import (
    CONTROL_POINT_UUID,
    FITNESS_MACHINE_FEATURE_UUID,
    FTMS_SERVICE_UUID,
    MACHINE_STATUS_UUID,
    SUPPORTED_INCLINATION_RANGE_UUID,
    SUPPORTED_SPEED_RANGE_UUID,
    TRAINING_STATUS_UUID,
    TREADMILL_DATA_UUID,
    short_uuid,
)
from treadwell.drivers.virtual.advertising import build_advertising_data
from treadwell.drivers.virtual.peripheral import (
    CCCD_INDICATE,
    CCCD_NOTIFY,
    VirtualPeripheral,
    notifying,
    read_only,
)

if TYPE_CHECKING:
    from bumble.device import Connection
    from bumble.link import LocalLink

    from treadwell.drivers.virtual.profile import RunProfile

KM_PER_MILE = 1.609344
_V = TypeVar("_V")
# FTMS service data (docs/ftms.md §1.1): "available", machine type bit 0 = treadmill.
_SERVICE_DATA = bytes([0x01, 0x01, 0x00])
_NOTIFY_MAX_PAYLOAD = 20
# ATT error codes the control point answers with (docs/ftms.md §7.3).
_ATT_CCCD_IMPROPER = 0xFD
_ATT_PROCEDURE_IN_PROGRESS = 0xFE
_ATT_INVALID_LENGTH = 0x0D
# Garbage notifications: shorter than a flags word, announced fields missing, RFU bits.
_GARBAGE = (b"\x00", b"\xff\xff\xff", b"\xfe\xff" + bytes(3), b"\x01")
# Rough energy model: kcal per kg per km walked/run on the flat, plus a climbing term.
_KCAL_PER_KG_KM = 1.0
_CLIMB_FACTOR = 0.09
_BODY_KG = 75.0

DEFAULT_FEATURES = (
    MachineFeature.INCLINATION
    | MachineFeature.TOTAL_DISTANCE
    | MachineFeature.EXPENDED_ENERGY
    | MachineFeature.HEART_RATE
    | MachineFeature.ELAPSED_TIME
)
DEFAULT_TARGETS = TargetSetting.SPEED | TargetSetting.INCLINATION


@dataclass(frozen=True, slots=True)
class TreadmillConfig:
    """How a virtual treadmill looks and misbehaves.

    Attributes:
        name: Advertised local name.
        address: Random static address, or None to let the world assign one.
        features: Fitness Machine Feature bits (docs/ftms.md §2.1).
        targets: Target Setting bits (docs/ftms.md §2.2).
        speed_range: The Supported Speed Range it serves and enforces.
        incline_range: The Supported Inclination Range, or None for "no 0x2AD5" (D16).
        advertise_service_data: False advertises the service UUID only (D15).
        split_records: Send each record as More-Data notifications of at most 20 bytes (D2).
        truncate_at: Cut every Treadmill Data notification to this many bytes (D1).
        units_mph: Put mph in the km/h fields, ranges included (D4).
        reject_set_while_stopped: Answer OPERATION_FAILED to a set while the belt is stopped (D11).
        notify_interval_s: Seconds between Treadmill Data notifications.
        profile: A scripted run that starts when the treadmill is added, or None (idle belt).
        incline_rate_pct_per_s: How fast the deck moves towards its target.
        advertising_interval_ms: Advertising interval; also the connect latency (quirk 3).
        include_heart_rate: Report a heart rate in Treadmill Data (HEART_RATE feature).
        grant_on_second_request: D7: each connection's first Request Control is answered
            Control Not Permitted.
        control_point_notifies: D24: the control point has notify instead of indicate and
            answers by notification.
        start_resume_breaks: D23: a Start/Resume pauses a running belt, and after any
            Start/Resume the control point stops answering.
        reject_half_steps: D8: targets off the whole percent are refused (Invalid Parameter)
            although the range offers half steps.
        negative_target_to_max: D25: a negative incline target is read as unsigned and drives
            the deck to its maximum.
        report_incline: False leaves the incline out of Treadmill Data (D13).
        silent_when_stopped: Stop notifying Treadmill Data while the belt is stopped instead
            of reporting speed 0.
        distance_step_m: D26: 0 keeps the reported distance at 0; 10 reports whole tens of
            metres; None reports it to the metre.
        incline_reports_target: D27: the incline field carries the target, not the deck's
            position.
    """

    name: str = "Treadwell Virtual Treadmill"
    address: str | None = None
    features: MachineFeature = DEFAULT_FEATURES
    targets: TargetSetting = DEFAULT_TARGETS
    speed_range: SpeedRange = SpeedRange(0.8, 20.0, 0.1)  # noqa: RUF009 - frozen value
    incline_range: InclinationRange | None = InclinationRange(0.0, 15.0, 0.5)  # noqa: RUF009
    advertise_service_data: bool = True
    split_records: bool = False
    truncate_at: int | None = None
    units_mph: bool = False
    reject_set_while_stopped: bool = False
    notify_interval_s: float = 1.0
    profile: RunProfile | None = None
    incline_rate_pct_per_s: float = 1.0
    advertising_interval_ms: float = 100.0
    include_heart_rate: bool = True
    grant_on_second_request: bool = False
    control_point_notifies: bool = False
    start_resume_breaks: bool = False
    reject_half_steps: bool = False
    negative_target_to_max: bool = False
    report_incline: bool = True
    silent_when_stopped: bool = False
    distance_step_m: int | None = None
    incline_reports_target: bool = False


def _on_grid(value: float, low: float, high: float, step: float) -> bool:
    """Whether `value` lies in [low, high] on the `step` grid from `low` (0.01 tolerance)."""
    if not low - 1e-6 <= value <= high + 1e-6:
        return False
    steps = (value - low) / step
    return math.isclose(steps, round(steps), abs_tol=1e-3)


class VirtualTreadmill(VirtualPeripheral):
    """An FTMS treadmill on the virtual link; build it with `VirtualWorld.add_treadmill`."""

    def __init__(
        self, config: TreadmillConfig, *, link: LocalLink, address: str, speedup: float
    ) -> None:
        """Create the treadmill (not yet powered); the world calls `start()`."""
        super().__init__(
            link=link,
            address=address,
            name=config.name,
            speedup=speedup,
            advertising_interval_ms=config.advertising_interval_ms,
        )
        self.config = config
        self.speed_kmh = 0.0
        self.incline_pct = self._level_deck()
        self.target_incline_pct = self.incline_pct
        self.total_distance_m = 0.0
        self.elapsed_time_s = 0.0
        self.energy_kcal = 0.0
        self.climbed_m = 0.0
        self.running = False
        self.paused = False
        self.heart_rate_bpm = 70
        self.control_log: list[ControlPointRequest] = []
        self.garbage_next = 0
        self.slow_indications_s = 0.0
        self.ignore_control_point = False
        self.force_result: ResultCode | None = None
        self.truncate_at = config.truncate_at
        self._controller_link: Connection | None = None
        self._pending: set[Connection] = set()
        self._profile_started_at: float | None = None
        self._profile_index: int | None = None
        self._training = TrainingStatusCode.IDLE
        self._asked_control: set[Connection] = set()
        self._broken = False
        self._build_characteristics()

    # -- GATT database --------------------------------------------------------------------------

    def _build_characteristics(self) -> None:
        props = gatt.Characteristic.Properties
        readable = gatt.Characteristic.READABLE
        self._feature = read_only(FITNESS_MACHINE_FEATURE_UUID, self._feature_bytes())
        self._data = notifying(TREADMILL_DATA_UUID)
        self._training_char: gatt.Characteristic[bytes] = gatt.Characteristic(
            TRAINING_STATUS_UUID,
            props.READ | props.NOTIFY,
            readable,
            gatt.CharacteristicValue(read=lambda _c: self._training_bytes()),
        )
        speed = self._wire_speed_range()
        self._speed_range = read_only(
            SUPPORTED_SPEED_RANGE_UUID, encode_supported_speed_range(speed)
        )
        answer = props.NOTIFY if self.config.control_point_notifies else props.INDICATE
        self._control: gatt.Characteristic[bytes] = gatt.Characteristic(
            CONTROL_POINT_UUID,
            props.WRITE | answer,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_control_write),
        )
        self._status = notifying(MACHINE_STATUS_UUID)

    def services(self) -> list[gatt.Service]:
        """The Fitness Machine Service."""
        chars = [self._feature, self._data, self._training_char, self._speed_range]
        if self.config.incline_range is not None:
            value = encode_supported_inclination_range(self.config.incline_range)
            chars.append(read_only(SUPPORTED_INCLINATION_RANGE_UUID, value))
        chars += [self._control, self._status]
        return [gatt.Service(FTMS_SERVICE_UUID, chars)]

    def advertising_data(self) -> bytes:
        """Name, the FTMS UUID and (unless configured off) the FTMS service data."""
        ftms = short_uuid(FTMS_SERVICE_UUID)
        data = {ftms: _SERVICE_DATA} if self.config.advertise_service_data else {}
        return build_advertising_data(self.name, (ftms,), data)

    def _feature_bytes(self) -> bytes:
        return encode_fitness_machine_feature(
            MachineFeatures(features=self.config.features, target_settings=self.config.targets)
        )

    def _training_bytes(self) -> bytes:
        return encode_training_status(TrainingStatus(status=self._training, text=None))

    def _wire_speed_range(self) -> SpeedRange:
        rng = self.config.speed_range
        if not self.config.units_mph:
            return rng
        return SpeedRange(rng.min_kmh / KM_PER_MILE, rng.max_kmh / KM_PER_MILE, rng.step_kmh)

    @property
    def controller_granted(self) -> bool:
        """Whether a connected client holds control (a successful Request Control)."""
        return self._controller_link is not None

    # -- simulation ----------------------------------------------------------------------------

    def period_s(self) -> float:
        """The notify interval."""
        return self.config.notify_interval_s

    async def start(self) -> None:
        """Power on; a configured profile starts playing now."""
        await super().start()
        if self.config.profile is not None:
            self._profile_started_at = self.now()
            self._apply_profile()

    async def tick(self, dt_s: float) -> None:
        """Move the belt and deck by `dt_s`, play the profile, notify Treadmill Data."""
        self._apply_profile()
        if self.running:
            self.elapsed_time_s += dt_s
            km = self.speed_kmh * dt_s / 3600.0
            self.total_distance_m += km * 1000.0
            climb = max(self.incline_pct, 0.0) * _CLIMB_FACTOR
            self.energy_kcal += km * _BODY_KG * _KCAL_PER_KG_KM * (1.0 + climb)
            self.climbed_m += km * 1000.0 * max(self.incline_pct, 0.0) / 100.0
        self._move_deck(dt_s)
        self.heart_rate_bpm = round(70 + self.speed_kmh * 7 + max(self.incline_pct, 0) * 2)
        await self._send_data()

    def _move_deck(self, dt_s: float) -> None:
        gap = self.target_incline_pct - self.incline_pct
        step = self.config.incline_rate_pct_per_s * dt_s
        self.incline_pct = (
            self.target_incline_pct
            if abs(gap) <= step
            else (self.incline_pct + math.copysign(step, gap))
        )

    def _apply_profile(self) -> None:
        profile, started = self.config.profile, self._profile_started_at
        if profile is None or started is None:
            return
        position = profile.position(max(0.0, self.now() - started))
        if position is None:
            self._profile_started_at = None
            if self.running or self.paused:
                self.press_stop()
            return
        if position.index == self._profile_index:
            return
        self._profile_index = position.index
        segment = position.segment
        if segment.incline_pct is not None:
            self.set_incline_by_console(segment.incline_pct)
        if segment.speed_kmh > 0:
            self.set_belt(segment.speed_kmh)
        elif self.running:
            self.press_stop(pause=True)

    def record(self) -> TreadmillData:
        """The Treadmill Data record the treadmill would send now (km/h or mph on the wire)."""
        features = self.config.features

        def when(feature: MachineFeature, value: _V) -> _V | None:
            return value if feature in features else None

        scale = 1 / KM_PER_MILE if self.config.units_mph else 1.0
        elapsed = self.elapsed_time_s
        per_hour = round(self.energy_kcal / elapsed * 3600) if elapsed else 0
        average = self.total_distance_m / elapsed * 3.6 * scale if elapsed else 0.0
        climb_w = _BODY_KG * 9.81 * self.speed_kmh / 3.6 * max(self.incline_pct, 0.0) / 100
        hr = self.heart_rate_bpm if self.config.include_heart_rate else None
        distance = int(self.total_distance_m)
        if self.config.distance_step_m is not None:
            step = self.config.distance_step_m
            distance = distance // step * step if step > 0 else 0
        shown = self.target_incline_pct if self.config.incline_reports_target else self.incline_pct
        incline = round(shown, 1) if self.config.report_incline else None
        return TreadmillData(
            speed_kmh=round(self.speed_kmh * scale, 2),
            average_speed_kmh=when(MachineFeature.AVERAGE_SPEED, round(average, 2)),
            total_distance_m=when(MachineFeature.TOTAL_DISTANCE, distance),
            incline_pct=when(MachineFeature.INCLINATION, incline),
            ramp_angle_deg=when(
                MachineFeature.INCLINATION,
                round(math.degrees(math.atan(self.incline_pct / 100)), 1)
                if self.config.report_incline
                else None,
            ),
            positive_elevation_gain_m=when(MachineFeature.ELEVATION_GAIN, round(self.climbed_m, 1)),
            negative_elevation_gain_m=when(MachineFeature.ELEVATION_GAIN, 0.0),
            total_energy_kcal=when(MachineFeature.EXPENDED_ENERGY, int(self.energy_kcal)),
            energy_per_hour_kcal=when(MachineFeature.EXPENDED_ENERGY, per_hour),
            energy_per_minute_kcal=when(MachineFeature.EXPENDED_ENERGY, per_hour // 60),
            heart_rate_bpm=when(MachineFeature.HEART_RATE, hr),
            metabolic_equivalent=when(
                MachineFeature.METABOLIC_EQUIVALENT, round(1.0 + self.speed_kmh * 0.9, 1)
            ),
            elapsed_time_s=when(MachineFeature.ELAPSED_TIME, int(elapsed)),
            remaining_time_s=when(MachineFeature.REMAINING_TIME, int(self.remaining_s())),
            force_on_belt_n=when(MachineFeature.FORCE_ON_BELT_AND_POWER_OUTPUT, 0),
            power_w=when(MachineFeature.FORCE_ON_BELT_AND_POWER_OUTPUT, round(climb_w)),
        )

    def remaining_s(self) -> float:
        """Seconds left in the scripted run (0 without one)."""
        profile, started = self.config.profile, self._profile_started_at
        if profile is None or started is None:
            return 0.0
        return max(0.0, profile.duration_s - (self.now() - started))

    async def _send_data(self) -> None:
        if self.config.silent_when_stopped and not self.running:
            return
        if self.garbage_next > 0:
            self.garbage_next -= 1
            await self.notify(self._data, _GARBAGE[self.garbage_next % len(_GARBAGE)])
            return
        record = self.record()
        if self.config.split_records:
            packets = split_treadmill_data(record, _NOTIFY_MAX_PAYLOAD)
        else:
            packets = [encode_treadmill_data(record)]
        for packet in packets:
            cut = packet if self.truncate_at is None else packet[: self.truncate_at]
            await self.notify(self._data, cut)

    # -- console ------------------------------------------------------------------------------

    def set_belt(self, speed_kmh: float) -> None:
        """The runner sets the belt speed on the console (0 stops the belt)."""
        if speed_kmh <= 0:
            if self.running:
                self.press_stop()
            return
        if not self.running:
            self.press_start()
        self.speed_kmh = speed_kmh
        self._status_later(
            MachineStatus(MachineStatusOp.TARGET_SPEED_CHANGED, target_speed_kmh=speed_kmh)
        )

    def set_incline_by_console(self, pct: float) -> None:
        """The runner sets an incline on the console: the deck moves, status 0x06 goes out."""
        self.target_incline_pct = pct
        self._status_later(
            MachineStatus(MachineStatusOp.TARGET_INCLINE_CHANGED, target_incline_pct=pct)
        )

    def press_start(self) -> None:
        """The runner presses Start (or Resume)."""
        self._start_belt()
        self._status_later(MachineStatus(MachineStatusOp.STARTED_OR_RESUMED))

    def press_stop(self, pause: bool = False) -> None:
        """The runner presses Stop, or Pause with `pause=True`."""
        self._stop_belt(pause=pause)
        self._status_later(MachineStatus(MachineStatusOp.STOPPED_OR_PAUSED, paused=pause))

    def revoke_control(self) -> None:
        """Take control back from the client (status 0xFF), as a console or another app would."""
        self._controller_link = None
        self._status_later(MachineStatus(MachineStatusOp.CONTROL_PERMISSION_LOST))

    def _start_belt(self) -> None:
        if not self.running and not self.paused:
            # A new workout: its time and energy start from zero together (energy per hour
            # is energy over elapsed time, and must fit its 16-bit field).
            self.elapsed_time_s = 0.0
            self.energy_kcal = 0.0
        self.running, self.paused = True, False
        self.speed_kmh = max(self.speed_kmh, self.config.speed_range.min_kmh)
        self._set_training(TrainingStatusCode.MANUAL_MODE)

    def _stop_belt(self, *, pause: bool) -> None:
        self.running, self.paused = False, pause
        self.speed_kmh = 0.0
        self._set_training(TrainingStatusCode.IDLE if not pause else TrainingStatusCode.OTHER)

    def _set_training(self, code: TrainingStatusCode) -> None:
        if code != self._training:
            self._training = code
            self.spawn(self.notify(self._training_char, self._training_bytes()))

    def _status_later(self, status: MachineStatus, skip: Connection | None = None) -> None:
        self.spawn(self.notify(self._status, encode_machine_status(status), skip=skip))

    # -- control point ------------------------------------------------------------------------

    def on_link_lost(self, connection: Connection) -> None:
        """Control ends with the link of the client that held it (docs/ftms.md §7.3)."""
        self._pending.discard(connection)
        self._asked_control.discard(connection)
        if connection is self._controller_link:
            self._controller_link = None

    def _on_control_write(self, connection: Connection, value: bytes) -> None:
        bit = CCCD_NOTIFY if self.config.control_point_notifies else CCCD_INDICATE
        if not self.subscribed(connection, self._control, bit):
            raise att.ATT_Error(_ATT_CCCD_IMPROPER)
        if connection in self._pending:
            raise att.ATT_Error(_ATT_PROCEDURE_IN_PROGRESS)
        if not value:
            raise att.ATT_Error(_ATT_INVALID_LENGTH)
        try:
            request = parse_control_point_request(value)
        except CodecError:
            request = ControlPointRequest(op=value[0], parameter=bytes(value[1:]))
            malformed = True
        else:
            malformed = False
        self.control_log.append(request)
        if self.ignore_control_point or self._broken:
            return
        if malformed:
            result = ResultCode.INVALID_PARAMETER
        else:
            result = self.force_result or self._handle(connection, request)
        self._pending.add(connection)
        self.spawn(self._respond(connection, int(request.op), result))

    async def _respond(self, connection: Connection, op: int, result: ResultCode) -> None:
        try:
            if self.slow_indications_s > 0:
                await asyncio.sleep(self.slow_indications_s)
            if connection in self.connections:
                response = encode_control_point_response(op, result)
                if self.config.control_point_notifies:
                    await self.device.notify_subscriber(connection, self._control, response)
                else:
                    await self.device.indicate_subscriber(connection, self._control, response)
        finally:
            self._pending.discard(connection)

    def _handle(self, connection: Connection, request: ControlPointRequest) -> ResultCode:
        op = request.op
        if op == ControlOp.REQUEST_CONTROL:
            if self.config.grant_on_second_request and connection not in self._asked_control:
                self._asked_control.add(connection)
                return ResultCode.CONTROL_NOT_PERMITTED
            holder = self._controller_link
            if holder is not None and holder is not connection and holder in self.connections:
                return ResultCode.CONTROL_NOT_PERMITTED
            self._controller_link = connection
            return ResultCode.SUCCESS
        if op not in _SUPPORTED_OPS:
            return ResultCode.OP_CODE_NOT_SUPPORTED
        if connection is not self._controller_link:
            return ResultCode.CONTROL_NOT_PERMITTED
        match op:
            case ControlOp.RESET:
                return self._reset(connection)
            case ControlOp.SET_TARGET_SPEED:
                return self._set_speed(connection, request.speed_kmh)
            case ControlOp.SET_TARGET_INCLINATION:
                return self._set_incline(connection, request.incline_pct)
            case ControlOp.START_OR_RESUME if self.config.start_resume_breaks:
                self._broken = True
                if self.running:
                    self.press_stop(pause=True)
                return ResultCode.SUCCESS
            case ControlOp.START_OR_RESUME:
                if self.running:
                    return ResultCode.OPERATION_FAILED
                self._start_belt()
                self._status_later(MachineStatus(MachineStatusOp.STARTED_OR_RESUMED), connection)
                return ResultCode.SUCCESS
            case _:
                if not self.running:
                    return ResultCode.OPERATION_FAILED
                pause = bool(request.pause)
                self._stop_belt(pause=pause)
                status = MachineStatus(MachineStatusOp.STOPPED_OR_PAUSED, paused=pause)
                self._status_later(status, connection)
                return ResultCode.SUCCESS

    def _level_deck(self) -> float:
        """Where the deck rests: flat, or the nearest end of a range that excludes 0 %."""
        rng = self.config.incline_range
        return 0.0 if rng is None else min(max(0.0, rng.min_pct), rng.max_pct)

    def _reset(self, connection: Connection) -> ResultCode:
        self._stop_belt(pause=False)
        self.elapsed_time_s = 0.0
        self.energy_kcal = 0.0
        self.target_incline_pct = self._level_deck()
        self._controller_link = None
        self._status_later(MachineStatus(MachineStatusOp.RESET), connection)
        return ResultCode.SUCCESS

    def _set_speed(self, connection: Connection, speed_kmh: float | None) -> ResultCode:
        if TargetSetting.SPEED not in self.config.targets:
            return ResultCode.OP_CODE_NOT_SUPPORTED
        rng = self._wire_speed_range()
        if speed_kmh is None or not _on_grid(speed_kmh, rng.min_kmh, rng.max_kmh, rng.step_kmh):
            return ResultCode.INVALID_PARAMETER
        if self.config.reject_set_while_stopped and not self.running:
            return ResultCode.OPERATION_FAILED
        self.speed_kmh = speed_kmh * (KM_PER_MILE if self.config.units_mph else 1.0)
        status = MachineStatus(MachineStatusOp.TARGET_SPEED_CHANGED, target_speed_kmh=speed_kmh)
        self._status_later(status, connection)
        return ResultCode.SUCCESS

    def _set_incline(self, connection: Connection, pct: float | None) -> ResultCode:
        rng = self.config.incline_range
        if TargetSetting.INCLINATION not in self.config.targets or rng is None:
            return ResultCode.OP_CODE_NOT_SUPPORTED
        if pct is not None and pct < 0 and self.config.negative_target_to_max:
            pct = rng.max_pct  # the sint16 read as unsigned: far beyond the top, clamped
        if pct is None or not _on_grid(pct, rng.min_pct, rng.max_pct, rng.step_pct):
            return ResultCode.INVALID_PARAMETER
        if self.config.reject_half_steps and not math.isclose(pct, round(pct), abs_tol=1e-6):
            return ResultCode.INVALID_PARAMETER
        if self.config.reject_set_while_stopped and not self.running:
            return ResultCode.OPERATION_FAILED
        self.target_incline_pct = pct
        status = MachineStatus(MachineStatusOp.TARGET_INCLINE_CHANGED, target_incline_pct=pct)
        self._status_later(status, connection)
        return ResultCode.SUCCESS


_SUPPORTED_OPS = frozenset(
    {
        ControlOp.RESET,
        ControlOp.SET_TARGET_SPEED,
        ControlOp.SET_TARGET_INCLINATION,
        ControlOp.START_OR_RESUME,
        ControlOp.STOP_OR_PAUSE,
    }
)

"""Pure. A run as a FIT activity file, written with the fit-tool library.

The file holds, in order: file id, device info, a timer start event, one record a second
(distance, speed, heart rate, cadence, stride, and an altitude built from the incline), each
followed by the strap's RR intervals of that second in `hrv` messages, a timer stop event,
one lap per kilometre, a session (sport running, sub-sport treadmill; a walk when the average
moving speed is low) with the total ascent, and the activity.

FIT counts running cadence in strides (a pair of steps) per minute, so a footpod's steps per
minute are halved, with the half step in `fractional_cadence`.

Manufacturer and product are the ids the file claims to come from. The default, 255, is
FIT's "development": every reader accepts it, but some platforms compute training effect,
recovery time and similar figures only for files from a device they know, so a runner can
set the ids of their own watch (`[export] fit_manufacturer`, `fit_product`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fit_tool.fit_file_builder import FitFileBuilder
from fit_tool.profile.messages.activity_message import ActivityMessage
from fit_tool.profile.messages.device_info_message import DeviceInfoMessage
from fit_tool.profile.messages.event_message import EventMessage
from fit_tool.profile.messages.file_id_message import FileIdMessage
from fit_tool.profile.messages.hrv_message import HrvMessage
from fit_tool.profile.messages.lap_message import LapMessage
from fit_tool.profile.messages.record_message import RecordMessage
from fit_tool.profile.messages.session_message import SessionMessage
from fit_tool.profile.profile_type import (
    Activity,
    Event,
    EventType,
    FileType,
    LapTrigger,
    Sport,
    SubSport,
)

from treadwell.daemon.export.run import lap_start, lap_totals, laps, totals, track

if TYPE_CHECKING:
    from datetime import datetime

    from treadwell.daemon.export.run import Point, RunExport, Totals

MAX_ALTITUDE_M = 12_000.0
MAX_SPEED_MPS = 65.0
MAX_RR_MS = 65_000.0
RR_PER_MESSAGE = 5
SERIAL_NUMBER = 0x54574C31  # any fixed number: the file's device is Treadwell itself


def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def _speed(mps: float) -> float:
    """A speed the 16-bit FIT field holds (a belt faster than 65 m/s is a bad reading)."""
    return min(mps, MAX_SPEED_MPS)


def _event(at: datetime, event_type: EventType) -> EventMessage:
    message = EventMessage()
    message.timestamp = _ms(at)
    message.event = Event.TIMER
    message.event_type = event_type
    message.event_group = 0
    return message


def _record(point: Point) -> RecordMessage:
    message = RecordMessage()
    message.timestamp = _ms(point.at)
    message.distance = point.distance_m
    message.speed = _speed(point.speed_mps)
    message.enhanced_speed = _speed(point.speed_mps)
    if point.altitude_m <= MAX_ALTITUDE_M:
        message.altitude = point.altitude_m  # the 16-bit field; the enhanced one goes higher
    message.enhanced_altitude = point.altitude_m
    message.grade = point.incline_pct
    if point.heart_rate_bpm is not None:
        message.heart_rate = point.heart_rate_bpm
    if point.cadence_spm is not None:
        message.cadence = point.cadence_spm // 2
        message.fractional_cadence = (point.cadence_spm % 2) / 2
    if point.stride_m is not None:
        message.step_length = point.stride_m * 1000.0
    return message


def _hrv(rr_ms: tuple[float, ...]) -> list[HrvMessage]:
    """A strap's RR intervals after the record of their second, at most five a message."""
    valid = [value / 1000 for value in rr_ms if 0 < value < MAX_RR_MS]
    messages = []
    for first in range(0, len(valid), RR_PER_MESSAGE):
        message = HrvMessage()
        message.time = valid[first : first + RR_PER_MESSAGE]
        messages.append(message)
    return messages


def _sport(figures: Totals) -> tuple[Sport, SubSport]:
    if figures.walking:
        return Sport.WALKING, SubSport.INDOOR_WALKING
    return Sport.RUNNING, SubSport.TREADMILL


def _summary(
    message: LapMessage | SessionMessage, start: datetime, end: datetime, figures: Totals
) -> None:
    sport, sub_sport = _sport(figures)
    message.timestamp = _ms(end)
    message.start_time = _ms(start)
    message.event = Event.LAP if isinstance(message, LapMessage) else Event.SESSION
    message.event_type = EventType.STOP
    message.sport = sport
    message.sub_sport = sub_sport
    message.total_elapsed_time = figures.elapsed_s
    message.total_timer_time = figures.elapsed_s
    message.total_distance = figures.distance_m
    message.total_ascent = round(figures.ascent_m)
    message.total_descent = 0
    message.avg_speed = _speed(figures.average_speed_mps)
    message.enhanced_avg_speed = _speed(figures.average_speed_mps)
    message.max_speed = _speed(figures.max_speed_mps)
    message.enhanced_max_speed = _speed(figures.max_speed_mps)
    if figures.average_hr_bpm is not None:
        message.avg_heart_rate = figures.average_hr_bpm
    if figures.max_hr_bpm is not None:
        message.max_heart_rate = figures.max_hr_bpm


def encode(run: RunExport, *, manufacturer: int = 255, product: int = 0) -> bytes:
    """The run as a FIT activity file (see the module docstring).

    Raises:
        ExportError: The run has no samples.
    """
    points = track(run)
    start = min(run.started_at, points[0].at)
    end = max(run.ended_at, points[-1].at)
    builder = FitFileBuilder(auto_define=True, min_string_size=50)

    file_id = FileIdMessage()
    file_id.type = FileType.ACTIVITY
    file_id.manufacturer = manufacturer
    file_id.product = product
    file_id.serial_number = SERIAL_NUMBER
    file_id.time_created = _ms(start)
    builder.add(file_id)

    device = DeviceInfoMessage()
    device.timestamp = _ms(start)
    device.device_index = 0
    device.manufacturer = manufacturer
    device.product = product
    device.serial_number = SERIAL_NUMBER
    device.product_name = "Treadwell"
    builder.add(device)

    builder.add(_event(start, EventType.START))
    for point in points:
        builder.add(_record(point))
        for hrv in _hrv(point.rr_ms):
            builder.add(hrv)
    builder.add(_event(end, EventType.STOP_ALL))

    for index, lap in enumerate(laps(points)):
        message = LapMessage()
        message.message_index = index
        message.lap_trigger = (
            LapTrigger.DISTANCE if lap.last < len(points) - 1 else (LapTrigger.SESSION_END)
        )
        lap_end = points[lap.last].at if lap.last < len(points) - 1 else end
        _summary(message, lap_start(points, lap, run), lap_end, lap_totals(points, lap))
        builder.add(message)

    figures = totals(points)
    session = SessionMessage()
    session.message_index = 0
    session.first_lap_index = 0
    session.num_laps = len(laps(points))
    _summary(session, start, end, figures)
    builder.add(session)

    activity = ActivityMessage()
    activity.timestamp = _ms(end)
    activity.total_timer_time = figures.elapsed_s
    activity.num_sessions = 1
    activity.type = Activity.MANUAL
    activity.event = Event.ACTIVITY
    activity.event_type = EventType.STOP
    builder.add(activity)
    return bytes(builder.build().to_bytes())

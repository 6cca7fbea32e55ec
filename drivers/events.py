"""Pure. What the links report to the daemon: typed, frozen events.

Every event carries `device`, the link's label (for example ``"treadmill"`` or ``"strap"``),
so one callback can serve several links.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from treadwell.drivers.codec.ftms import (
        InclinationRange,
        MachineFeatures,
        MachineStatus,
        SpeedRange,
        TrainingStatus,
        TreadmillData,
    )
    from treadwell.drivers.codec.heart_rate import HeartRateMeasurement
    from treadwell.drivers.codec.rsc import RscMeasurement
    from treadwell.drivers.discovery import DeviceKind
    from treadwell.drivers.quirks import Quirks


class HeartRateSource(StrEnum):
    """Which device a heart-rate value came from."""

    STRAP = "strap"
    TREADMILL = "treadmill"


@dataclass(frozen=True, slots=True)
class TreadmillInfo:
    """What a treadmill told us about itself right after connecting.

    Attributes:
        name: The advertised name.
        address: The Bluetooth address.
        features: Fitness Machine Feature, with target bits dropped whose range
            characteristic is missing (docs/ftms.md §2).
        speed_range: Supported Speed Range in km/h, or None when not readable.
        incline_range: Supported Inclination Range in percent (quirks applied), or None.
        can_set_incline: Whether incline can be set over the control point.
        quirks: The model's deviations from FTMS in effect (table rows the deck's own
            answers contradict are left out).
        reported_incline_range: Supported Inclination Range exactly as read (spec units),
            or None when it was not read.
        notes: Plain sentences on quirks not applied, behaviour learned on this connection
            and why incline control is unavailable; for logs, `treadwell doctor` and
            diagnostics.
    """

    name: str
    address: str
    features: MachineFeatures
    speed_range: SpeedRange | None
    incline_range: InclinationRange | None
    can_set_incline: bool
    quirks: Quirks
    reported_incline_range: InclinationRange | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LinkConnected:
    """A link connected and finished its setup (reads and subscriptions)."""

    device: str
    kind: DeviceKind
    name: str
    address: str
    info: TreadmillInfo | None = None


@dataclass(frozen=True, slots=True)
class LinkDisconnected:
    """A link lost its device; it keeps trying to reconnect by itself."""

    device: str
    kind: DeviceKind
    reason: str


@dataclass(frozen=True, slots=True)
class TreadmillReading:
    """One complete Treadmill Data record, in km/h and percent (quirks already applied).

    Attributes:
        device: The link's label.
        data: The record.
        heart_rate_source: Where `data.heart_rate_bpm` came from, if it carries one.
        incline_assumed: `data.incline_pct` is not a measurement of the deck's position:
            the deck never reports its incline and this is the last incline the link
            commanded successfully (D13), or its incline field carries the target (D27).
        distance_estimated: The deck's total distance is stuck at 0 or moves in 10 m steps
            (D26); `data.total_distance_m` is integrated from the reported speed.
    """

    device: str
    data: TreadmillData
    heart_rate_source: HeartRateSource | None = None
    incline_assumed: bool = False
    distance_estimated: bool = False


@dataclass(frozen=True, slots=True)
class MachineStatusChanged:
    """A Fitness Machine Status notification (start, stop, pause, console incline, ...)."""

    device: str
    status: MachineStatus


@dataclass(frozen=True, slots=True)
class TrainingStatusChanged:
    """A Training Status notification."""

    device: str
    status: TrainingStatus


@dataclass(frozen=True, slots=True)
class HeartRateReading:
    """One Heart Rate Measurement from a strap."""

    device: str
    measurement: HeartRateMeasurement


@dataclass(frozen=True, slots=True)
class RscReading:
    """One Running Speed and Cadence Measurement from a footpod."""

    device: str
    measurement: RscMeasurement


@dataclass(frozen=True, slots=True)
class ControlStateChanged:
    """We gained or lost control of the treadmill's control point."""

    device: str
    granted: bool


@dataclass(frozen=True, slots=True)
class InclineConfirmed:
    """Treadmill Data showed the deck at an incline we set (docs/ftms.md §7.4 step 5)."""

    device: str
    incline_pct: float


LinkEvent = (
    LinkConnected
    | LinkDisconnected
    | TreadmillReading
    | MachineStatusChanged
    | TrainingStatusChanged
    | HeartRateReading
    | RscReading
    | ControlStateChanged
    | InclineConfirmed
)

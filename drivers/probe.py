"""I/O. The first-connect probe: what a treadmill supports and which control operations it takes.

`probe()` connects Treadwell's own treadmill link (so the quirk table, its checks against the
deck and everything the link learns apply exactly as in the daemon), watches Treadmill Data for
a few seconds, and tries only harmless control: Request Control, then Set Target Inclination
to the incline the deck already shows (never a speed, never Start/Resume). The result is a
`ProbeReport`, which `advice()` turns into lines that say what works, what does not, and what
to do about it. Reports are plain JSON-able dictionaries so that the daemon can remember them
per device (see `treadwell.daemon.device_memory`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from treadwell.drivers.codec.treadmill_data import MEASUREMENTS
from treadwell.drivers.discovery import DeviceKind, DeviceTarget
from treadwell.drivers.errors import (
    BeltNotRunningError,
    ControlPointError,
    DriverError,
    InclineOutOfLimitsError,
)
from treadwell.drivers.events import LinkConnected, TreadmillReading
from treadwell.drivers.incline import InclineLimits
from treadwell.drivers.quirks import QUIRKS, Quirks
from treadwell.drivers.treadmill import TreadmillLink

if TYPE_CHECKING:
    from treadwell.drivers.backend import BleBackend
    from treadwell.drivers.codec.ftms import InclinationRange, MachineFeatures, SpeedRange
    from treadwell.drivers.events import LinkEvent, TreadmillInfo

ACCEPTED = "accepted"
NOT_TRIED = "not tried"


@dataclass(slots=True)
class ProbeReport:
    """What one probe found out about one treadmill (all fields JSON-able)."""

    name: str
    address: str
    checked_at: str
    features: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    speed_range: dict[str, float] | None = None
    incline_range: dict[str, float] | None = None
    reported_incline_range: dict[str, float] | None = None
    can_set_incline: bool = False
    notes: list[str] = field(default_factory=list)
    table_rows: list[str] = field(default_factory=list)
    control: dict[str, str] = field(default_factory=dict)
    readings: int = 0
    data_fields: list[str] = field(default_factory=list)
    incline_assumed: bool = False
    distance_estimated: bool = False
    learned: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-able dictionary."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeReport:
        """Read a report back (unknown keys from newer versions are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def learned_quirks(self) -> Quirks:
        """What the link learned, to hand to the next `TreadmillLink(learned=...)`."""
        step = self.learned.get("incline_step_pct")
        return Quirks(
            incline_step_pct=float(step) if isinstance(step, int | float) else None,
            set_incline_only_while_running=bool(
                self.learned.get("set_incline_only_while_running", False)
            ),
            incline_reports_target=bool(self.learned.get("incline_reports_target", False)),
        )


def _range(rng: SpeedRange | InclinationRange | None) -> dict[str, float] | None:
    return None if rng is None else {k: float(v) for k, v in dataclasses.asdict(rng).items()}


def _names(flags: object) -> list[str]:
    return [str(getattr(f, "name", f)) for f in flags] if flags else []  # type: ignore[attr-defined]


def learned_fields(quirks: Quirks) -> dict[str, Any]:
    """What a link learned, as the report's JSON-able `learned` fields."""
    return _learned(quirks)


def _learned(quirks: Quirks) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if quirks.incline_step_pct is not None:
        out["incline_step_pct"] = quirks.incline_step_pct
    if quirks.set_incline_only_while_running:
        out["set_incline_only_while_running"] = True
    if quirks.incline_reports_target:
        out["incline_reports_target"] = True
    return out


def report_from_info(info: TreadmillInfo) -> ProbeReport:
    """The part of a report the connection itself tells (features, ranges, notes)."""
    features: MachineFeatures = info.features
    return ProbeReport(
        name=info.name,
        address=info.address,
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        features=_names(features.features),
        targets=_names(features.target_settings),
        speed_range=_range(info.speed_range),
        incline_range=_range(info.incline_range),
        reported_incline_range=_range(info.reported_incline_range),
        can_set_incline=info.can_set_incline,
        notes=list(info.notes),
        table_rows=[e.deviation for e in QUIRKS if e.matches(info.name)][:1],
    )


async def probe(
    backend: BleBackend,
    target: DeviceTarget | None = None,
    *,
    watch_s: float = 5.0,
    connect_timeout_s: float = 30.0,
    control: bool = True,
    learned: Quirks | None = None,
) -> ProbeReport:
    """Connect to a treadmill, watch its data, try harmless control; return what was found.

    Args:
        backend: The bleak backend classes.
        target: Which treadmill (None: the first one found).
        watch_s: How long to watch Treadmill Data.
        connect_timeout_s: How long to look for the treadmill and set the link up.
        control: Try Request Control and a no-motion Set Target Inclination.
        learned: What an earlier probe or run learned about this deck.

    Raises:
        DeviceNotFoundError: The treadmill did not turn up within `connect_timeout_s`.
    """
    readings: list[TreadmillReading] = []
    connected: asyncio.Future[LinkConnected] = asyncio.get_running_loop().create_future()

    def on_event(event: LinkEvent) -> None:
        if isinstance(event, LinkConnected) and not connected.done():
            connected.set_result(event)
        elif isinstance(event, TreadmillReading):
            readings.append(event)

    link = TreadmillLink(
        target or DeviceTarget(DeviceKind.TREADMILL),
        backend=backend,
        on_event=on_event,
        belt_wait_s=0.0,
        learned=learned,
    )
    task = asyncio.create_task(link.run(), name="probe link")
    try:
        try:
            async with asyncio.timeout(connect_timeout_s):
                event = await connected
        except TimeoutError:
            from treadwell.drivers.errors import DeviceNotFoundError  # noqa: PLC0415

            what = (target or DeviceTarget(DeviceKind.TREADMILL)).describe()
            raise DeviceNotFoundError(
                f"could not connect to the {what} within {connect_timeout_s:g} s; is it "
                "switched on, awake and not connected to another app?"
            ) from None
        if event.info is None:  # a treadmill link always reports its info
            raise AssertionError
        report = report_from_info(event.info)
        await asyncio.sleep(watch_s)
        if control:
            report.control = await _try_control(link, report)
        info = link.info or event.info
        report.notes = list(info.notes)
        report.incline_range = _range(info.incline_range)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    report.readings = len(readings)
    fields = {name for r in readings for name in MEASUREMENTS if getattr(r.data, name) is not None}
    report.data_fields = sorted(fields)
    report.incline_assumed = any(r.incline_assumed for r in readings)
    report.distance_estimated = any(r.distance_estimated for r in readings)
    report.learned = _learned(link.learned)
    return report


async def _try_control(link: TreadmillLink, report: ProbeReport) -> dict[str, str]:
    result = {"request_control": NOT_TRIED, "set_target_inclination": NOT_TRIED}
    if not report.can_set_incline:
        # Nothing Treadwell would control: leave the control point alone.
        return result
    try:
        await link.request_control()
    except ControlPointError as exc:
        result["request_control"] = f"refused: {exc}"
        return result
    except DriverError as exc:
        result["request_control"] = f"failed: {exc}"
        return result
    result["request_control"] = ACCEPTED
    current = link.last_incline_pct
    if current is None:
        result["set_target_inclination"] = (
            f"{NOT_TRIED}: the deck does not report its incline, and a test target could move it"
        )
        return result
    try:
        await link.set_incline(current, limits=InclineLimits(current, current))
    except BeltNotRunningError:
        result["set_target_inclination"] = "only while the belt runs"
    except InclineOutOfLimitsError:
        result["set_target_inclination"] = (
            f"{NOT_TRIED}: the deck's incline ({current:g} %) is not on its own step"
        )
    except ControlPointError as exc:
        result["set_target_inclination"] = f"refused: {exc}"
    except DriverError as exc:
        result["set_target_inclination"] = f"failed: {exc}"
    else:
        result["set_target_inclination"] = ACCEPTED
    return result


def advice(report: ProbeReport) -> list[tuple[str, str]]:
    """Lines for `treadwell doctor`: (mark, text), mark one of ``ok``, ``no``, ``note``."""
    lines: list[tuple[str, str]] = []
    if report.readings:
        shown = ", ".join(report.data_fields)
        lines.append(("ok", f"sends Treadmill Data ({report.readings} records: {shown})"))
    else:
        lines.append(
            (
                "no",
                "sent no Treadmill Data while we watched: step on the belt or start it, and "
                "check that no other app holds the treadmill",
            )
        )
    rng = report.incline_range
    if report.can_set_incline and rng is not None:
        lines.append(
            (
                "ok",
                f"incline control: {rng['min_pct']:g} % to {rng['max_pct']:g} % in "
                f"{rng['step_pct']:g} % steps",
            )
        )
    else:
        lines.append(
            (
                "no",
                "no incline control over Bluetooth: Treadwell still tracks runs and sends its "
                "prompts, and suggests inclines for you to set on the console",
            )
        )
    lines += _control_lines(report)
    if report.incline_assumed:
        lines.append(
            ("note", "the deck never reports its incline: Treadwell shows the incline it set")
        )
    if report.distance_estimated:
        lines.append(
            ("note", "the deck's distance is stuck or coarse: Treadwell integrates the speed")
        )
    if report.table_rows:
        lines.append(("note", f"known model: {report.table_rows[0]}"))
    lines += [("note", note) for note in report.notes]
    return lines


def _control_lines(report: ProbeReport) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    taken = report.control.get("request_control", NOT_TRIED)
    if taken == ACCEPTED:
        lines.append(("ok", "gives control to Treadwell (Request Control accepted)"))
    elif taken != NOT_TRIED:
        lines.append(
            (
                "no",
                f"Request Control {taken}; close other fitness apps connected to the treadmill "
                "(only one may hold control) and try again",
            )
        )
    sets = report.control.get("set_target_inclination", NOT_TRIED)
    if sets == ACCEPTED:
        lines.append(("ok", "accepts incline targets"))
    elif sets == "only while the belt runs":
        lines.append(
            ("note", "takes incline targets only while the belt runs: Treadwell waits for it")
        )
    elif sets.startswith(("refused", "failed")):
        lines.append(("no", f"Set Target Inclination {sets}"))
    elif sets.startswith(NOT_TRIED) and sets != NOT_TRIED:
        lines.append(("note", f"Set Target Inclination {sets}"))
    return lines

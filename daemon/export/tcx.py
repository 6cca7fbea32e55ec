"""Pure. A run as a TCX file (Garmin's Training Center XML, version 2).

One activity with sport "Running" (TCX knows no walking), one lap per kilometre, and a
trackpoint a second with time, altitude (built from the incline), distance and heart rate;
speed and running cadence go in the ActivityExtension's TPX element, as TCX readers expect.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

from treadwell.daemon.export.run import lap_start, lap_totals, laps, track

if TYPE_CHECKING:
    from datetime import datetime

    from treadwell.daemon.export.run import RunExport

TCX_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
EXT_NS = "http://www.garmin.com/xmlschemas/ActivityExtension/v2"


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _sub(parent: ET.Element, tag: str, text: str | None = None, ns: str = TCX_NS) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _heart(parent: ET.Element, tag: str, value: int) -> None:
    _sub(_sub(parent, tag), "Value", str(value))


def encode(run: RunExport) -> bytes:
    """The run as TCX (UTF-8 XML).

    Raises:
        ExportError: The run has no samples.
    """
    ET.register_namespace("", TCX_NS)
    ET.register_namespace("ax", EXT_NS)
    points = track(run)
    root = ET.Element(f"{{{TCX_NS}}}TrainingCenterDatabase")
    activity = _sub(_sub(root, "Activities"), "Activity")
    activity.set("Sport", "Running")
    _sub(activity, "Id", _time(min(run.started_at, points[0].at)))
    all_laps = laps(points)
    for number, lap in enumerate(all_laps):
        figures = lap_totals(points, lap)
        element = _sub(activity, "Lap")
        element.set("StartTime", _time(lap_start(points, lap, run)))
        _sub(element, "TotalTimeSeconds", f"{figures.elapsed_s:.1f}")
        _sub(element, "DistanceMeters", f"{figures.distance_m:.2f}")
        _sub(element, "MaximumSpeed", f"{figures.max_speed_mps:.3f}")
        _sub(element, "Calories", "0")
        if figures.average_hr_bpm is not None and figures.max_hr_bpm is not None:
            _heart(element, "AverageHeartRateBpm", figures.average_hr_bpm)
            _heart(element, "MaximumHeartRateBpm", figures.max_hr_bpm)
        _sub(element, "Intensity", "Active")
        last = number == len(all_laps) - 1
        _sub(element, "TriggerMethod", "Manual" if last else "Distance")
        track_element = _sub(element, "Track")
        for point in points[lap.first : lap.last + 1]:
            trackpoint = _sub(track_element, "Trackpoint")
            _sub(trackpoint, "Time", _time(point.at))
            _sub(trackpoint, "AltitudeMeters", f"{point.altitude_m:.2f}")
            _sub(trackpoint, "DistanceMeters", f"{point.distance_m:.2f}")
            if point.heart_rate_bpm is not None:
                _heart(trackpoint, "HeartRateBpm", point.heart_rate_bpm)
            tpx = _sub(_sub(trackpoint, "Extensions"), "TPX", ns=EXT_NS)
            _sub(tpx, "Speed", f"{point.speed_mps:.3f}", ns=EXT_NS)
            if point.cadence_spm is not None:
                _sub(tpx, "RunCadence", str(point.cadence_spm // 2), ns=EXT_NS)
    tree = ET.ElementTree(root)
    ET.indent(tree, space=" ")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"

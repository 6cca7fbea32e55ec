"""Pure. Device quirks as data: one table entry per treadmill model that deviates from FTMS.

Real treadmills bend the Fitness Machine Service in a handful of documented ways (FTMS.md §10).
Each way is one field of `Quirks`; each model is one `QuirkEntry` in `QUIRKS`, matched by a
regular expression on the advertised name (case-insensitive, anchored at the start). Supporting
a new model means adding one entry here and one row to its table test.

The link applies the quirks at its edge: readings are converted into honest km/h and percent
before anyone sees them, and requests are converted back just before they are encoded.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from treadwell.drivers.codec.ftms import PaceWidth

MPH_TO_KMH = 1.609344
_RAW_PER_PCT = 10  # the FTMS incline fields carry 0.1 % units


@dataclass(frozen=True, slots=True)
class Quirks:
    """How one treadmill model deviates from the FTMS specification.

    Attributes:
        speed_in_mph: D4: speed fields and the speed range are in mph although FTMS says km/h.
        incline_step_pct: D8: the smallest incline step the model accepts, overriding a finer
            increment read from Supported Inclination Range; None keeps the device's step.
        incline_min_pct: D9: the real decline minimum when the range characteristic is
            missing or wrong; None keeps the device's minimum.
        set_incline_only_while_running: D11: targets sent while the belt is stopped are
            ignored or rejected, so the link refuses them with a clear error instead.
        incline_map: D10: points ``(percent, device raw value)`` of a non-linear incline
            encoding, ascending; between points the map is linear, beyond them it extends the
            outer segment. Empty means the spec's linear 0.1 % encoding.
        pace_width: Width of the pace fields in Treadmill Data (FTMS.md §3.3).
        vendor_step_count: D5: RFU flag bit 13 carries a vendor step counter; None lets the
            codec decide from the packet length.
    """

    speed_in_mph: bool = False
    incline_step_pct: float | None = None
    incline_min_pct: float | None = None
    set_incline_only_while_running: bool = False
    incline_map: tuple[tuple[float, int], ...] = ()
    pace_width: PaceWidth = PaceWidth.UINT8
    vendor_step_count: bool | None = None

    def incline_to_raw(self, incline_pct: float) -> int:
        """Convert a real incline in percent to the raw value this model expects on the wire."""
        if not self.incline_map:
            return round(incline_pct * _RAW_PER_PCT)
        return round(_interpolate(self.incline_map, incline_pct))

    def raw_to_incline(self, raw: float) -> float:
        """Convert a raw incline value the model reported back to a real incline in percent."""
        if not self.incline_map:
            return raw / _RAW_PER_PCT
        inverse = tuple((float(device), pct) for pct, device in self.incline_map)
        return round(_interpolate(inverse, raw), 2)

    def speed_to_kmh(self, speed: float) -> float:
        """Convert a speed as the model reports it to km/h."""
        return round(speed * MPH_TO_KMH, 2) if self.speed_in_mph else speed

    def speed_from_kmh(self, speed_kmh: float) -> float:
        """Convert a speed in km/h to the unit the model expects in a request."""
        return round(speed_kmh / MPH_TO_KMH, 2) if self.speed_in_mph else speed_kmh


def _interpolate(points: tuple[tuple[float, float], ...], x: float) -> float:
    xs = [p[0] for p in points]
    index = min(max(bisect_right(xs, x), 1), len(points) - 1)
    (x0, y0), (x1, y1) = points[index - 1], points[index]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


@dataclass(frozen=True, slots=True)
class QuirkEntry:
    """One model (or family) in the quirk table.

    Attributes:
        pattern: Regular expression matched case-insensitively at the start of the
            advertised name.
        quirks: The deviations of the models it matches.
        source: Where the deviation was documented (FTMS.md §10 deviation number).
    """

    pattern: str
    quirks: Quirks
    source: str

    def matches(self, name: str) -> bool:
        """Whether this entry applies to a device advertising `name`."""
        return re.match(self.pattern, name, flags=re.IGNORECASE) is not None


# iConcept / "T01_" incline table (D10). Only these points are documented: 1 % = 0x3C,
# 2 % = 0x82 and 15 % = 0x3E8; the steps in between are interpolated.
_ICONCEPT_MAP = ((0.0, 0), (1.0, 0x3C), (2.0, 0x82), (15.0, 0x3E8))
# 3G Pro / Elite (D10): 0x10 plus 10 per percent.
_T3G_MAP = ((0.0, 0x10), (15.0, 0x10 + 150))

QUIRKS: tuple[QuirkEntry, ...] = (
    QuirkEntry(r"FS-BT-T4", Quirks(speed_in_mph=True), "D4: speed range reads 0.6-3.8 mph"),
    QuirkEntry(
        r"(KS-|ZP-ZEALR1)",
        Quirks(vendor_step_count=True, set_incline_only_while_running=True),
        "D5 step counter in flag bit 13; D11 targets only after Start (KingSmith)",
    ),
    QuirkEntry(r"CITYSPORTS", Quirks(vendor_step_count=True), "D5: flags 0x2484"),
    QuirkEntry(
        r"(T01_|ICONCEPT)",
        Quirks(incline_step_pct=1.0, incline_map=_ICONCEPT_MAP),
        "D8 1 % steps; D10 table-coded incline",
    ),
    QuirkEntry(
        r"3G (PRO|ELITE)",
        Quirks(incline_step_pct=1.0, incline_map=_T3G_MAP),
        "D8 1 % steps; D10 0x10 + 10 per percent",
    ),
    QuirkEntry(
        r"(SOLE )?F8[59]",
        Quirks(incline_step_pct=1.0, incline_min_pct=-5.0),
        "D8 Sole F85 rejects 0.5 %; D9 -5 % decline",
    ),
    QuirkEntry(
        r"(SOLE )?F80", Quirks(set_incline_only_while_running=True), "D11: only once started"
    ),
    QuirkEntry(
        r"(SOLE )?TT8", Quirks(incline_step_pct=1.0, incline_min_pct=-6.0), "D8 and D9 (-6 %)"
    ),
    QuirkEntry(r"(SOLE )?S77", Quirks(incline_step_pct=1.0), "D8: 1 % steps"),
    QuirkEntry(r"(KETTLER|TRX3500|TOORX|FIT-)", Quirks(incline_step_pct=1.0), "D8: 1 % steps"),
    QuirkEntry(r"ADIDAS", Quirks(incline_min_pct=-6.0), "D9: -6 % decline"),
    QuirkEntry(r"(LIFESMART )?TM[46]500", Quirks(incline_min_pct=-3.0), "D9: -3 % decline"),
    QuirkEntry(r"NORDICTRACK.*1750", Quirks(incline_min_pct=-3.0), "D9: -3 % decline"),
    QuirkEntry(
        r"PARAGON X",
        Quirks(set_incline_only_while_running=True),
        "D11: targets before Start/Resume are reset",
    ),
)


def quirks_for(name: str | None, table: tuple[QuirkEntry, ...] = QUIRKS) -> Quirks:
    """Return the quirks of the first table entry matching an advertised name.

    Args:
        name: The advertised name, or None when the device advertised none.
        table: The quirk table to search (the built-in one unless a test passes its own).

    Returns:
        The matching entry's quirks, or the spec-conformant defaults when none matches.
    """
    if name:
        for entry in table:
            if entry.matches(name):
                return entry.quirks
    return Quirks()

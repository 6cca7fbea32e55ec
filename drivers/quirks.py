"""Pure. Device quirks as data: one table, one row per known deviation from FTMS.

Real treadmills bend the Fitness Machine Service in a handful of recurring ways (docs/quirks.md
lists them). Each way is one field of `Quirks`; each row of `QUIRKS` says which deviation it
covers, where it was seen, and which advertised names it applies to (a regular expression,
case-insensitive, anchored at the start). Rows without a name pattern describe deviations the
link detects from the deck's behaviour on every treadmill; they are in the table so that the
whole list lives in one place, each with its evidence.

A name is a weak hint: anyone can advertise "T01_". So a row that changes how incline is
written is applied only where it agrees with what the deck itself reports (`settle_incline`),
and whatever the table says, `wire_incline` checks the value on the wire against the runner's
limits before it is sent.

The link applies the quirks at its edge: readings are converted into honest km/h and percent
before anyone sees them, and requests are converted back just before they are encoded.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_right
from dataclasses import dataclass

from treadwell.drivers.codec.ftms import InclinationRange, PaceWidth
from treadwell.drivers.errors import InclineOutOfLimitsError

MPH_TO_KMH = 1.609344
_RAW_PER_PCT = 10  # the FTMS incline fields carry 0.1 % units
_EPSILON = 1e-6
# The plausible span of a motorised deck's range read the spec's way: from a -10 % decline to
# the steepest documented deck (40 %), and able to lie flat.
PLAUSIBLE_MIN_PCT = -10.0
PLAUSIBLE_MAX_PCT = 40.0


@dataclass(frozen=True, slots=True)
class Quirks:
    """How one treadmill model deviates from the FTMS specification.

    Attributes:
        speed_in_mph: D4: speed fields and the speed range are in mph although FTMS says km/h.
        incline_step_pct: D8: the smallest incline step the model accepts, overriding a finer
            increment read from Supported Inclination Range; None keeps the device's step.
        incline_min_pct: D9: a decline minimum documented for the model; it may only narrow
            the range the deck reports, never widen it (see `settle_incline`).
        set_incline_only_while_running: D11: targets sent while the belt is stopped are
            ignored or rejected, so the link holds them back and sends them once it runs.
        incline_map: D10: points ``(percent, device raw value)`` of a non-linear incline
            encoding, ascending; between points the map is linear, beyond them it extends the
            outer segment. Empty means the spec's linear 0.1 % encoding.
        pace_width: Width of the pace fields in Treadmill Data.
        vendor_step_count: D5: RFU flag bit 13 carries a vendor step counter; None lets the
            codec decide from the packet length.
        request_control_twice: D7: the deck grants control only at the second Request Control.
        no_start_resume: D23: a Start or Resume on the control point breaks the deck's control
            point or toggles its pause; the link never sends one to it.
        incline_reports_target: D27: the incline field carries the target, not the deck's
            position; readings mark their incline as assumed.
    """

    speed_in_mph: bool = False
    incline_step_pct: float | None = None
    incline_min_pct: float | None = None
    set_incline_only_while_running: bool = False
    incline_map: tuple[tuple[float, int], ...] = ()
    pace_width: PaceWidth = PaceWidth.UINT8
    vendor_step_count: bool | None = None
    request_control_twice: bool = False
    no_start_resume: bool = False
    incline_reports_target: bool = False

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
    """One row of the quirk table.

    Attributes:
        pattern: Regular expression matched case-insensitively at the start of the
            advertised name, or None for a deviation detected from behaviour on every deck.
        quirks: The deviations of the models it matches (defaults for behaviour rows).
        deviation: What the deck does differently (the D-number of docs/quirks.md first).
        evidence: Where it was seen.
        example: A name the pattern matches (the table tests advertise it).
    """

    pattern: str | None
    quirks: Quirks
    deviation: str
    evidence: str
    example: str = ""

    def matches(self, name: str) -> bool:
        """Whether this entry applies to a device advertising `name`."""
        if self.pattern is None:
            return False
        return re.match(self.pattern, name, flags=re.IGNORECASE) is not None


# iConcept / "T01_" incline table (D10). Only these points are documented: 1 % = 0x3C,
# 2 % = 0x82 and 15 % = 0x3E8; the steps in between are interpolated.
_ICONCEPT_MAP = ((0.0, 0), (1.0, 0x3C), (2.0, 0x82), (15.0, 0x3E8))
# 3G Pro / Elite (D10): 0x10 plus 10 per percent.
_T3G_MAP = ((0.0, 0x10), (15.0, 0x10 + 150))
_QZ = "qdomyos-zwift src/devices/horizontreadmill/horizontreadmill.cpp"

QUIRKS: tuple[QuirkEntry, ...] = (
    QuirkEntry(
        r"FS-BT-T4",
        Quirks(speed_in_mph=True, no_start_resume=True),
        "D4 speed in mph in the km/h fields (range reads 0.6-3.8); D23 FitShow module",
        "justintout/treadmill README",
        "FS-BT-T4",
    ),
    QuirkEntry(
        r"(FS-|SF-T|BH[ -])",
        Quirks(no_start_resume=True),
        "D23: Start/Resume sent before a target leaves the control point unusable",
        "FitShow modules and BH decks, user reports collected in " + _QZ,
        "FS-A1B2C3",
    ),
    QuirkEntry(
        r"(KS-|ZP-ZEALR1)",
        Quirks(vendor_step_count=True, set_incline_only_while_running=True, no_start_resume=True),
        "D5 step counter behind flag bit 13; D11 targets only while the belt runs; D23 "
        "Start/Resume toggles pause on the walking pad",
        "Trot is_kingsmith_name; mcdax/walkingpad-controller README; z1-walkingpad PROTOCOL.md",
        "KS-HD-Z1D",
    ),
    QuirkEntry(
        r"CITYSPORTS",
        Quirks(vendor_step_count=True),
        "D5: flags 0x2484, step counter behind flag bit 13",
        "hughesjs/FitnessMachine protocol/README.md",
        "CITYSPORTS-Linker",
    ),
    QuirkEntry(
        r"(T01_|ICONCEPT)",
        Quirks(incline_step_pct=1.0, incline_map=_ICONCEPT_MAP),
        "D8 1 % steps; D10 table-coded incline (1 % = 0x3C, 2 % = 0x82, 15 % = 0x3E8)",
        _QZ + " (ICONCEPT_FTMS_treadmill)",
        "T01_2C61",
    ),
    QuirkEntry(
        r"3G (PRO|ELITE)",
        Quirks(incline_step_pct=1.0, incline_map=_T3G_MAP),
        "D8 1 % steps; D10 incline coded as 0x10 + 10 per percent",
        _QZ + " (T3G_PRO, T3G_ELITE)",
        "3G Elite",
    ),
    QuirkEntry(
        r"(WELLFIT|SW\d|YPOO)",
        Quirks(request_control_twice=True, incline_step_pct=1.0),
        "D7 control granted only at the second Request Control; D8 1 % steps",
        _QZ + " (btinit sends 00 twice for these)",
        "WELLFIT TM",
    ),
    QuirkEntry(
        r"(SOLE )?F8[59]",
        Quirks(incline_step_pct=1.0, incline_min_pct=-5.0),
        "D8 rejects 0.5 % steps; D9 -5 % decline",
        _QZ + " (sole_f85_treadmill)",
        "SOLE F85",
    ),
    QuirkEntry(
        r"(SOLE )?F80",
        Quirks(set_incline_only_while_running=True),
        "D11: incline targets work only once the belt runs",
        "qdomyos-zwift issue 429",
        "SOLE F80",
    ),
    QuirkEntry(
        r"(SOLE )?TT8",
        Quirks(incline_step_pct=1.0, incline_min_pct=-6.0),
        "D8 1 % steps; D9 -6 % decline",
        _QZ,
        "TT8",
    ),
    QuirkEntry(r"(SOLE )?S77", Quirks(incline_step_pct=1.0), "D8: 1 % steps", _QZ, "Sole S77"),
    QuirkEntry(
        r"(KETTLER|TRX3500|TOORX|FIT-)",
        Quirks(incline_step_pct=1.0),
        "D8: 1 % steps",
        _QZ + " (minStepInclination)",
        "KETTLER Treadmill",
    ),
    QuirkEntry(r"ADIDAS", Quirks(incline_min_pct=-6.0), "D9: -6 % decline", _QZ, "Adidas T-19"),
    QuirkEntry(
        r"(LIFESMART )?TM[46]500",
        Quirks(incline_min_pct=-3.0),
        "D9: -3 % decline",
        _QZ,
        "Lifesmart TM6500",
    ),
    QuirkEntry(
        r"NORDICTRACK.*1750",
        Quirks(incline_min_pct=-3.0),
        "D9: -3 % decline",
        "cagnulein/QZCompanionNordictrackTreadmill issue 137",
        "NordicTrack Commercial 1750",
    ),
    QuirkEntry(
        r"PARAGON X",
        Quirks(set_incline_only_while_running=True),
        "D11: targets sent before Start/Resume are reset",
        "Unchain iOS app STATUS.md",
        "Paragon X",
    ),
    # -- detected from behaviour on every deck ------------------------------------------------
    QuirkEntry(
        None,
        Quirks(),
        "D7: Request Control answered Control Not Permitted once, granted at the second try",
        "ph4r05/ph4-walkingpad pull 25; z1-walkingpad PROTOCOL.md",
    ),
    QuirkEntry(
        None,
        Quirks(),
        "D24: control-point answers sent as notifications instead of indications",
        "FitShow and walking-pad GATT tables whose control point has notify, not indicate",
    ),
    QuirkEntry(
        None,
        Quirks(),
        "D16: incline range 0/0 or no range characteristic: no incline control",
        "dudanov/hassio-ftms issues 16 and 20; justintout/treadmill README",
    ),
    QuirkEntry(
        None,
        Quirks(),
        "D11: Operation Failed while the belt is stopped: the target is sent once it runs",
        "qdomyos-zwift issue 429; mcdax/walkingpad-controller README (FTMS cold start)",
    ),
    QuirkEntry(
        None,
        Quirks(),
        "D8: Invalid Parameter for a half step: the step is learned and the target re-snapped",
        _QZ + " (sole_f85_treadmill)",
    ),
    QuirkEntry(
        None,
        Quirks(),
        "D25: a negative target drove one deck to its maximum: never negative unless the "
        "deck's own range goes below 0 %",
        "user reports on decks that read the sint16 target as unsigned",
    ),
    QuirkEntry(
        None,
        Quirks(),
        "D13: no incline in Treadmill Data: the commanded incline is reported, marked assumed",
        _QZ + " (Schwinn 810, FIT-TM, Mobvoi, Yesoul echo the requested value)",
    ),
    QuirkEntry(
        None,
        Quirks(),
        "D27: the incline field reports the target at once, not the deck's position: learned "
        "from a jump no incline motor makes (over 2.5 % a second), readings marked assumed",
        "user reports of decks whose incline reading leads the deck",
    ),
    QuirkEntry(
        None,
        Quirks(),
        "D26: total distance stuck at 0 or moving in 10 m steps: distance integrated from speed",
        "walking pads reporting whole tens of metres (user reports)",
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


@dataclass(frozen=True, slots=True)
class SettledIncline:
    """The incline handling for one connection, the table checked against the deck.

    Attributes:
        quirks: The quirks in effect (table rows the deck contradicts removed).
        incline_range: The range in real percent, or None when incline cannot be set.
        notes: Plain sentences on what was not applied and why (for logs and doctor).
    """

    quirks: Quirks
    incline_range: InclinationRange | None
    notes: tuple[str, ...] = ()


def _plausible(low: float, high: float) -> bool:
    eps = _EPSILON
    return PLAUSIBLE_MIN_PCT - eps <= low <= eps and low < high <= PLAUSIBLE_MAX_PCT + eps


def map_agrees(quirks: Quirks, reported: InclinationRange) -> bool:
    """Whether a deck's reported range shows it uses the table's incline encoding.

    The map is believed only when the range read the spec's way is implausible for a deck
    (above 40 %, or unable to lie flat) while the same raw values read through the map land
    inside the map's documented span as a plausible range. A spec-conformant deck that merely
    advertises a listed name therefore keeps the spec's encoding.
    """
    if not quirks.incline_map:
        return True
    first, last = quirks.incline_map[0][0], quirks.incline_map[-1][0]
    low = quirks.raw_to_incline(reported.min_pct * _RAW_PER_PCT)
    high = quirks.raw_to_incline(reported.max_pct * _RAW_PER_PCT)
    inside = first - 0.05 <= low and high <= last + 0.05
    return not _plausible(reported.min_pct, reported.max_pct) and inside and _plausible(low, high)


def settle_incline(
    quirks: Quirks, reported: InclinationRange | None, *, name: str
) -> SettledIncline:
    """Decide how incline is written to one deck: the table row checked against the deck.

    Args:
        quirks: The table's quirks for the deck's name.
        reported: Supported Inclination Range as read (spec units), or None when the deck
            offers no incline targets or no range characteristic.
        name: The deck's name, for the notes.

    Returns:
        The quirks to apply, the range in real percent, and notes on what was left out.
    """
    notes: list[str] = []
    if reported is None:
        notes.append(
            f"{name} offers no incline targets or no Supported Inclination Range: no incline "
            "control over Bluetooth"
        )
        return SettledIncline(dataclasses.replace(quirks, incline_map=()), None, tuple(notes))
    if reported.max_pct <= reported.min_pct:
        notes.append(
            f"{name} reports an empty incline range ({reported.min_pct:g} % to "
            f"{reported.max_pct:g} %): no incline control over Bluetooth"
        )
        return SettledIncline(dataclasses.replace(quirks, incline_map=()), None, tuple(notes))
    if quirks.incline_map and not map_agrees(quirks, reported):
        notes.append(
            f"the quirk table codes incline differently for decks named like {name}, but this "
            f"deck reports {reported.min_pct:g} % to {reported.max_pct:g} %, a range the "
            "spec's encoding explains: the table's incline coding is not applied"
        )
        quirks = dataclasses.replace(quirks, incline_map=())
    low = quirks.raw_to_incline(reported.min_pct * _RAW_PER_PCT)
    high = quirks.raw_to_incline(reported.max_pct * _RAW_PER_PCT)
    step = reported.step_pct if not quirks.incline_map else quirks.incline_step_pct or 1.0
    table_min = quirks.incline_min_pct
    if table_min is not None:
        if table_min < low - _EPSILON:
            notes.append(
                f"the quirk table lists a {table_min:g} % minimum for decks named like {name}, "
                f"but this deck reports {low:g} %: the deck's own minimum is kept"
            )
            quirks = dataclasses.replace(quirks, incline_min_pct=None)
        else:
            low = min(table_min, high)
    if quirks.incline_step_pct is not None:
        step = max(step, quirks.incline_step_pct)
    return SettledIncline(quirks, InclinationRange(low, high, step), tuple(notes))


def wire_incline(
    target_pct: float,
    quirks: Quirks,
    *,
    deck: InclinationRange,
    reported_min_pct: float,
    limit_min_pct: float,
    limit_max_pct: float,
) -> int:
    """Return the raw Set Target Inclination value for a target, after a last safety check.

    Whatever the table says, the value on the wire read back in the deck's own units lies
    within the runner's limits and the deck's range, and it is negative only when the deck's
    own reported range goes below 0 %.

    Args:
        target_pct: The snapped target in real percent.
        quirks: The quirks in effect for the deck.
        deck: The deck's range in real percent.
        reported_min_pct: The minimum the deck reported, read the spec's way.
        limit_min_pct: The runner's lower limit.
        limit_max_pct: The runner's upper limit.

    Raises:
        InclineOutOfLimitsError: The wire value would break one of those rules.
    """
    raw = quirks.incline_to_raw(target_pct)
    real = quirks.raw_to_incline(raw)
    low, high = max(limit_min_pct, deck.min_pct), min(limit_max_pct, deck.max_pct)
    if not low - 0.05 <= real <= high + 0.05:
        raise InclineOutOfLimitsError(
            f"refusing to send incline code {raw}: it means {real:g} %, outside your limits "
            f"{limit_min_pct:g} % to {limit_max_pct:g} % or the deck's range"
        )
    if raw < 0 and reported_min_pct >= 0:
        raise InclineOutOfLimitsError(
            f"refusing a negative incline ({target_pct:g} %): the deck does not report a "
            "decline range, and some decks read a negative target as their maximum"
        )
    return raw

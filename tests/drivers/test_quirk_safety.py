"""A name is a weak hint: the quirk table never sends a conformant deck beyond the limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.drivers.links import FAST, Recorder, running, target
from treadwell.drivers.codec.ftms import ControlOp, InclinationRange
from treadwell.drivers.discovery import DeviceKind
from treadwell.drivers.errors import InclineOutOfLimitsError
from treadwell.drivers.events import LinkConnected, TreadmillReading
from treadwell.drivers.incline import InclineLimits, snap_incline
from treadwell.drivers.quirks import (
    QUIRKS,
    QuirkEntry,
    Quirks,
    map_agrees,
    quirks_for,
    settle_incline,
    wire_incline,
)
from treadwell.drivers.treadmill import TreadmillLink
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from treadwell.drivers.virtual.world import VirtualWorld

NAMED_ROWS = [entry for entry in QUIRKS if entry.pattern is not None]
CONFORMANT = InclinationRange(0.0, 15.0, 0.5)
RUNNER = InclineLimits(0.0, 3.0)


@pytest.mark.looptime
@pytest.mark.parametrize("name", [entry.example for entry in NAMED_ROWS])
async def test_conformant_deck_advertising_a_listed_name_never_exceeds_the_limit(
    world: VirtualWorld, name: str
) -> None:
    treadmill = await world.add_treadmill(
        TreadmillConfig(name=name, incline_range=CONFORMANT, incline_rate_pct_per_s=5.0)
    )
    recorder = Recorder()
    link = TreadmillLink(
        target(DeviceKind.TREADMILL), backend=world.backend, on_event=recorder, backoff=FAST
    )
    async with running(link):
        await recorder.wait_for(LinkConnected)
        treadmill.set_belt(4.0)  # some listed decks take targets only while the belt runs
        await recorder.wait_for(TreadmillReading, lambda r: (r.data.speed_kmh or 0) > 0)
        sent = await link.set_incline(2.0, limits=RUNNER)
        shown = await recorder.wait_for(
            TreadmillReading, lambda r: r.data.incline_pct == pytest.approx(2.0), timeout=30
        )
        with pytest.raises(InclineOutOfLimitsError):
            await link.set_incline(5.0, limits=RUNNER)

    sets = ControlOp.SET_TARGET_INCLINATION
    wire = [r.incline_pct for r in treadmill.control_log if r.op == sets]
    assert sent == 2.0
    assert wire == [2.0]
    assert treadmill.target_incline_pct == pytest.approx(2.0)
    assert shown.data.incline_pct == pytest.approx(2.0)
    assert link.info is not None
    assert link.info.quirks.incline_map == ()


@pytest.mark.looptime
@pytest.mark.parametrize("name", ["T01_2C61", "3G Elite"])
async def test_table_coding_not_applied_is_said_plainly(world: VirtualWorld, name: str) -> None:
    await world.add_treadmill(TreadmillConfig(name=name, incline_range=CONFORMANT))
    recorder = Recorder()
    link = TreadmillLink(
        target(DeviceKind.TREADMILL), backend=world.backend, on_event=recorder, backoff=FAST
    )
    async with running(link):
        connected = await recorder.wait_for(LinkConnected)

    assert connected.info is not None
    assert connected.info.incline_range == InclinationRange(0.0, 15.0, 1.0)
    assert any("not applied" in note for note in connected.info.notes)
    assert connected.info.reported_incline_range == CONFORMANT


@pytest.mark.parametrize(
    ("quirks", "reported", "agrees"),
    [
        (quirks_for("T01_"), InclinationRange(0.0, 100.0, 0.1), True),  # codes up to 0x3E8
        (quirks_for("T01_"), InclinationRange(0.0, 15.0, 0.5), False),  # the spec's 0-15 %
        (quirks_for("T01_"), InclinationRange(0.0, 40.0, 0.5), False),  # steep but plausible
        (quirks_for("T01_"), InclinationRange(0.0, 200.0, 0.1), False),  # beyond the table
        (quirks_for("3G Pro"), InclinationRange(1.6, 16.6, 0.1), True),  # 0x10 + 10 per %
        (quirks_for("3G Pro"), InclinationRange(0.0, 15.0, 0.5), False),
        (Quirks(), InclinationRange(0.0, 15.0, 0.5), True),  # nothing to agree with
    ],
)
def test_incline_coding_applies_only_where_the_deck_range_agrees(
    quirks: Quirks, reported: InclinationRange, agrees: bool
) -> None:
    assert map_agrees(quirks, reported) is agrees


@pytest.mark.parametrize(
    "reported", [None, InclinationRange(0.0, 0.0, 0.0), InclinationRange(5.0, 5.0, 0.5)]
)
def test_missing_or_empty_range_means_no_incline_control(
    reported: InclinationRange | None,
) -> None:
    settled = settle_incline(quirks_for("T01_"), reported, name="deck")

    assert settled.incline_range is None
    assert settled.quirks.incline_map == ()
    assert "no incline control" in settled.notes[0]


def test_a_negative_target_never_goes_to_a_deck_without_a_decline_range() -> None:
    with pytest.raises(InclineOutOfLimitsError, match="negative"):
        wire_incline(
            -2.0,
            Quirks(),
            deck=InclinationRange(-3.0, 15.0, 0.5),
            reported_min_pct=0.0,
            limit_min_pct=-5.0,
            limit_max_pct=5.0,
        )
    assert (
        wire_incline(
            -2.0,
            Quirks(),
            deck=InclinationRange(-3.0, 15.0, 0.5),
            reported_min_pct=-3.0,
            limit_min_pct=-5.0,
            limit_max_pct=5.0,
        )
        == -20
    )


@pytest.mark.parametrize("quirks", [Quirks(), quirks_for("T01_"), quirks_for("3G Pro")])
def test_wire_value_beyond_the_limit_is_refused_whatever_the_coding(quirks: Quirks) -> None:
    # The last check before the wire, even for a target that skipped the snapping.
    with pytest.raises(InclineOutOfLimitsError, match="outside your limits"):
        wire_incline(
            4.0,
            quirks,
            deck=InclinationRange(0.0, 15.0, 1.0),
            reported_min_pct=0.0,
            limit_min_pct=0.0,
            limit_max_pct=3.0,
        )


_RANGES = st.builds(
    lambda low, span, step: InclinationRange(low / 2, (low + span) / 2, step),
    st.integers(-20, 0),
    st.integers(1, 80),
    st.sampled_from([0.1, 0.5, 1.0]),
)


@settings(max_examples=300, deadline=None)
@given(
    row=st.sampled_from(QUIRKS),
    reported=_RANGES,
    low=st.integers(-10, 5),
    span=st.integers(0, 30),
    request=st.integers(-20, 60),
)
def test_any_row_on_a_plausible_deck_keeps_the_wire_within_the_limits(
    row: QuirkEntry, reported: InclinationRange, low: int, span: int, request: int
) -> None:
    quirks = row.quirks
    limits = InclineLimits(low / 2, (low + span) / 2)
    settled = settle_incline(quirks, reported, name="deck")
    assert settled.incline_range is not None
    rng = settled.incline_range
    try:
        snapped = snap_incline(
            request / 2,
            device_min_pct=rng.min_pct,
            device_max_pct=rng.max_pct,
            step_pct=rng.step_pct,
            limits=limits,
        )
        raw = wire_incline(
            snapped,
            settled.quirks,
            deck=rng,
            reported_min_pct=reported.min_pct,
            limit_min_pct=limits.min_pct,
            limit_max_pct=limits.max_pct,
        )
    except InclineOutOfLimitsError:
        return
    # A plausible deck is read the spec's way: the wire value is the incline it will take.
    assert limits.min_pct - 0.05 <= raw / 10 <= limits.max_pct + 0.05
    assert reported.min_pct - 0.05 <= raw / 10 <= reported.max_pct + 0.05
    assert raw >= 0 or reported.min_pct < 0

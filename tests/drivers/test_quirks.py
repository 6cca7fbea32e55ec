from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.drivers.links import FAST, Recorder, running, target
from treadwell.drivers.codec.ftms import ControlOp, InclinationRange, SpeedRange
from treadwell.drivers.discovery import DeviceKind
from treadwell.drivers.errors import BeltNotRunningError
from treadwell.drivers.events import InclineConfirmed, LinkConnected, TreadmillReading
from treadwell.drivers.incline import InclineLimits
from treadwell.drivers.quirks import QUIRKS, QuirkEntry, Quirks, quirks_for
from treadwell.drivers.treadmill import TreadmillLink
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from treadwell.drivers.virtual.world import VirtualWorld

LIMITS = InclineLimits(-6.0, 10.0)
ICONCEPT = quirks_for("T01_")
MILE = 1.609344


# One row per table entry: an advertised name and what must come out for it.
@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("FS-BT-T4", lambda q: q.speed_in_mph),
        ("KS-HD-Z1D", lambda q: q.vendor_step_count and q.set_incline_only_while_running),
        ("ZP-ZEALR1", lambda q: q.vendor_step_count),
        ("CITYSPORTS-Linker", lambda q: q.vendor_step_count),
        ("T01_2C61", lambda q: q.incline_step_pct == 1.0 and q.incline_to_raw(1.0) == 0x3C),
        ("iConcept FTMS", lambda q: q.incline_to_raw(15.0) == 0x3E8),
        ("3G Elite", lambda q: q.incline_to_raw(2.0) == 0x10 + 20),
        ("3G Pro", lambda q: q.incline_step_pct == 1.0),
        ("SOLE F85", lambda q: q.incline_step_pct == 1.0 and q.incline_min_pct == -5.0),
        ("F89", lambda q: q.incline_min_pct == -5.0),
        ("SOLE F80", lambda q: q.set_incline_only_while_running),
        ("TT8", lambda q: q.incline_min_pct == -6.0 and q.incline_step_pct == 1.0),
        ("Sole S77", lambda q: q.incline_step_pct == 1.0),
        ("KETTLER Treadmill", lambda q: q.incline_step_pct == 1.0),
        ("TRX3500", lambda q: q.incline_step_pct == 1.0),
        ("Toorx FTMS", lambda q: q.incline_step_pct == 1.0),
        ("FIT-TM", lambda q: q.incline_step_pct == 1.0),
        ("Adidas T-19", lambda q: q.incline_min_pct == -6.0),
        ("Lifesmart TM6500", lambda q: q.incline_min_pct == -3.0),
        ("TM4500", lambda q: q.incline_min_pct == -3.0),
        ("NordicTrack Commercial 1750", lambda q: q.incline_min_pct == -3.0),
        ("Paragon X", lambda q: q.set_incline_only_while_running),
        ("FS-A1B2C3", lambda q: q.no_start_resume),
        ("SF-T5", lambda q: q.no_start_resume),
        ("WellFit TM", lambda q: q.request_control_twice),
    ],
)
def test_each_documented_model_gets_its_quirks(name: str, check: object) -> None:
    quirks = quirks_for(name)
    assert quirks != Quirks()
    assert callable(check)
    assert check(quirks)


def test_every_named_row_matches_its_own_example_first() -> None:
    for entry in QUIRKS:
        if entry.pattern is None:
            continue
        assert entry.example, entry.pattern
        assert next(e for e in QUIRKS if e.matches(entry.example)) is entry


def test_every_row_names_its_deviation_and_its_evidence() -> None:
    for entry in QUIRKS:
        assert entry.deviation.startswith("D"), entry
        assert entry.evidence, entry
    assert not any(entry.matches("anything") for entry in QUIRKS if entry.pattern is None)


@pytest.mark.parametrize("name", [None, "", "Treadwell Virtual Treadmill", "Horizon 7.0AT"])
def test_unknown_models_follow_the_spec(name: str | None) -> None:
    assert quirks_for(name) == Quirks()


def test_a_new_model_is_one_table_entry() -> None:
    table = (QuirkEntry(r"ACME RUN", Quirks(incline_step_pct=1.0), "D8", "test"), *QUIRKS)
    assert quirks_for("acme run 5", table).incline_step_pct == 1.0
    assert quirks_for("ACME RUN 5") == Quirks()


@pytest.mark.parametrize(
    ("quirks", "pct", "raw"),
    [
        (Quirks(), 2.5, 25),
        (Quirks(), -3.0, -30),
        (ICONCEPT, 1.0, 60),
        (ICONCEPT, 2.0, 130),
        (ICONCEPT, 15.0, 1000),
        (ICONCEPT, 8.5, 565),
        (quirks_for("3G Pro"), 0.0, 16),
        (quirks_for("3G Pro"), 5.0, 66),
    ],
)
def test_incline_maps_convert_both_ways(quirks: Quirks, pct: float, raw: int) -> None:
    assert quirks.incline_to_raw(pct) == raw
    assert quirks.raw_to_incline(raw) == pytest.approx(pct)


@settings(max_examples=200)
@given(
    quirks=st.sampled_from([Quirks(), ICONCEPT, quirks_for("3G Pro")]),
    pct=st.integers(0, 30).map(lambda half: half / 2),
)
def test_incline_map_round_trips_on_the_half_percent_grid(quirks: Quirks, pct: float) -> None:
    assert quirks.raw_to_incline(quirks.incline_to_raw(pct)) == pytest.approx(pct, abs=0.01)


@pytest.mark.parametrize("kmh", [0.0, 1.0, 8.0, 16.09])
def test_mph_models_convert_speed_both_ways(kmh: float) -> None:
    mph = quirks_for("FS-BT-T4")
    assert mph.speed_to_kmh(mph.speed_from_kmh(kmh)) == pytest.approx(kmh, abs=0.01)
    assert Quirks().speed_to_kmh(kmh) == kmh


# -- each quirk mode end to end against the virtual world --------------------------------------


def link_to(world: VirtualWorld, recorder: Recorder) -> TreadmillLink:
    return TreadmillLink(
        target(DeviceKind.TREADMILL), backend=world.backend, on_event=recorder, backoff=FAST
    )


@pytest.mark.looptime
async def test_mph_treadmill_readings_and_ranges_arrive_in_kmh(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(
        # 1 to 6 mph in 0.1 mph steps, as the FS-BT-T4 console shows it.
        TreadmillConfig(
            name="FS-BT-T4", units_mph=True, speed_range=SpeedRange(MILE, 6 * MILE, 0.1)
        )
    )
    recorder = Recorder()
    link = link_to(world, recorder)
    async with running(link):
        connected = await recorder.wait_for(LinkConnected)
        treadmill.set_belt(5.0)
        reading = await recorder.wait_for(TreadmillReading, lambda r: (r.data.speed_kmh or 0) > 1)
        sent = await link.set_speed(8.0)

    assert connected.info is not None
    assert connected.info.speed_range is not None
    assert connected.info.speed_range == SpeedRange(1.61, 9.66, 0.16)
    assert reading.data.speed_kmh == pytest.approx(5.0, abs=0.02)
    assert sent == pytest.approx(5.0 * MILE, abs=0.01)  # 8 km/h = 4.97 mph, on the 0.1 mph grid
    assert treadmill.control_log[-1].speed_kmh == pytest.approx(5.0)
    assert treadmill.speed_kmh == pytest.approx(5.0 * MILE, abs=0.01)


@pytest.mark.looptime
async def test_one_percent_step_model_gets_whole_percent_targets(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(
        TreadmillConfig(name="KETTLER Track", incline_range=InclinationRange(0.0, 12.0, 0.5))
    )
    recorder = Recorder()
    link = link_to(world, recorder)
    async with running(link):
        connected = await recorder.wait_for(LinkConnected)
        sent = await link.set_incline(2.5, limits=LIMITS)

    assert connected.info is not None
    assert connected.info.incline_range == InclinationRange(0.0, 12.0, 1.0)
    assert sent == 3.0
    assert treadmill.control_log[-1].incline_pct == pytest.approx(3.0)


@pytest.mark.looptime
async def test_table_decline_minimum_never_widens_the_range_the_deck_reports(
    world: VirtualWorld,
) -> None:
    await world.add_treadmill(
        TreadmillConfig(name="TM6500", incline_range=InclinationRange(0.0, 15.0, 0.5))
    )
    recorder = Recorder()
    async with running(link_to(world, recorder)):
        connected = await recorder.wait_for(LinkConnected)

    assert connected.info is not None
    assert connected.info.incline_range == InclinationRange(0.0, 15.0, 0.5)
    assert any("deck's own minimum is kept" in note for note in connected.info.notes)


@pytest.mark.looptime
async def test_table_decline_minimum_narrows_a_deeper_reported_range(world: VirtualWorld) -> None:
    await world.add_treadmill(
        TreadmillConfig(name="TM6500", incline_range=InclinationRange(-6.0, 15.0, 0.5))
    )
    recorder = Recorder()
    async with running(link_to(world, recorder)):
        connected = await recorder.wait_for(LinkConnected)

    assert connected.info is not None
    assert connected.info.incline_range == InclinationRange(-3.0, 15.0, 0.5)
    assert connected.info.notes == ()


@pytest.mark.looptime
async def test_set_only_while_running_model_gets_the_target_once_the_belt_runs(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill(
        TreadmillConfig(name="SOLE F80", reject_set_while_stopped=True)
    )
    recorder = Recorder()
    link = link_to(world, recorder)
    async with running(link):
        await recorder.wait_for(LinkConnected)
        pending = asyncio.create_task(link.set_incline(2.0, limits=LIMITS))
        mark = recorder.mark()
        await recorder.wait_for(TreadmillReading, after=mark)
        await recorder.wait_for(TreadmillReading, after=recorder.mark())
        assert not pending.done()
        assert treadmill.control_log == []
        treadmill.set_belt(6.0)
        sent = await asyncio.wait_for(pending, 30.0)

    assert sent == 2.0
    assert [int(r.op) for r in treadmill.control_log] == [
        ControlOp.REQUEST_CONTROL,
        ControlOp.SET_TARGET_INCLINATION,
    ]


@pytest.mark.looptime
async def test_set_only_while_running_model_says_so_when_the_belt_never_starts(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill(
        TreadmillConfig(name="SOLE F80", reject_set_while_stopped=True)
    )
    recorder = Recorder()
    link = TreadmillLink(
        target(DeviceKind.TREADMILL),
        backend=world.backend,
        on_event=recorder,
        backoff=FAST,
        belt_wait_s=5.0,
    )
    async with running(link):
        await recorder.wait_for(LinkConnected)
        with pytest.raises(BeltNotRunningError, match="start the belt first"):
            await link.set_incline(2.0, limits=LIMITS)

    assert treadmill.control_log == []


@pytest.mark.looptime
async def test_table_coded_incline_is_translated_both_ways(world: VirtualWorld) -> None:
    # iConcept decks take 0x82 for 2 % and report the same code back in Treadmill Data.
    treadmill = await world.add_treadmill(
        TreadmillConfig(
            name="T01_2C61",
            incline_range=InclinationRange(0.0, 100.0, 0.1),
            incline_rate_pct_per_s=20.0,
        )
    )
    recorder = Recorder()
    link = link_to(world, recorder)
    async with running(link):
        connected = await recorder.wait_for(LinkConnected)
        sent = await link.set_incline(2.0, limits=LIMITS)
        confirmed = await recorder.wait_for(InclineConfirmed)

    assert connected.info is not None
    assert connected.info.incline_range == InclinationRange(0.0, 15.0, 1.0)
    assert sent == 2.0
    assert treadmill.control_log[-1].incline_pct == pytest.approx(13.0)
    assert confirmed.incline_pct == 2.0
    assert link.last_incline_pct == pytest.approx(2.0)

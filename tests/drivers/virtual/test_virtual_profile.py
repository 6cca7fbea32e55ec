"""Run profiles and advertising data: pure, table- and property-driven."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadwell.drivers.uuids import FTMS_SERVICE_UUID, HEART_RATE_SERVICE_UUID
from treadwell.drivers.virtual.advertising import (
    AdType,
    build_advertising_data,
    split_structures,
    to_advertisement_data,
)
from treadwell.drivers.virtual.profile import RunProfile, Segment

segments = st.builds(
    Segment,
    duration_s=st.floats(min_value=0.5, max_value=3600),
    speed_kmh=st.floats(min_value=0, max_value=25),
    incline_pct=st.none() | st.floats(min_value=-5, max_value=15),
)


@pytest.mark.parametrize(
    ("elapsed_s", "index", "into_segment_s"),
    [(0.0, 0, 0.0), (59.9, 0, 59.9), (60.0, 1, 0.0), (90.0, 1, 30.0), (179.0, 2, 59.0)],
)
def test_position_names_the_segment_playing_at_a_time(
    elapsed_s: float, index: int, into_segment_s: float
) -> None:
    profile = RunProfile.of([(60, 5.0, 1.0), (60, 0.0), (60, 9.0, None)])
    position = profile.position(elapsed_s)
    assert position is not None
    assert position.index == index
    assert position.elapsed_in_segment_s == pytest.approx(into_segment_s)


def test_a_profile_is_finished_at_its_duration() -> None:
    profile = RunProfile.steady(2, 6.0, 1.5)
    assert profile.duration_s == 120
    assert profile.segments == (Segment(120, 6.0, 1.5),)
    assert profile.position(120.0) is None


def test_the_demo_lasts_about_twenty_minutes_and_pauses_once() -> None:
    demo = RunProfile.demo()
    assert 18 * 60 <= demo.duration_s <= 22 * 60
    assert [s.speed_kmh for s in demo.segments].count(0.0) == 1
    assert demo.segments[0].speed_kmh < demo.segments[2].speed_kmh


@pytest.mark.parametrize(
    ("duration_s", "speed_kmh", "incline_pct"),
    [
        (0, 5.0, None),
        (-1, 5.0, None),
        (math.nan, 5.0, None),
        (10, -1.0, None),
        (10, math.inf, None),
        (10, 5.0, math.nan),
    ],
)
def test_impossible_segments_are_refused(
    duration_s: float, speed_kmh: float, incline_pct: float | None
) -> None:
    with pytest.raises(ValueError, match="segment"):
        Segment(duration_s, speed_kmh, incline_pct)


def test_an_empty_profile_and_negative_times_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one segment"):
        RunProfile(())
    with pytest.raises(ValueError, match="elapsed time"):
        RunProfile.steady(1, 5.0).position(-0.1)


@settings(max_examples=200)
@given(st.lists(segments, min_size=1, max_size=8), st.floats(min_value=0, max_value=1.0))
def test_every_time_within_the_run_lands_inside_its_segment(
    parts: list[Segment], fraction: float
) -> None:
    profile = RunProfile(tuple(parts))
    elapsed = profile.duration_s * fraction
    position = profile.position(elapsed)
    if position is None:
        assert elapsed >= profile.duration_s - 1e-6
        return
    assert profile.segments[position.index] == position.segment
    assert 0 <= position.elapsed_in_segment_s < position.segment.duration_s
    start = sum(s.duration_s for s in profile.segments[: position.index])
    assert start + position.elapsed_in_segment_s == pytest.approx(elapsed)


def test_advertising_data_round_trips_into_bleak_form() -> None:
    data = build_advertising_data("Tread", (0x1826, 0x180D), {0x1826: b"\x01\x01\x00"})
    structures = split_structures(data + data)  # doubled, as the local link replays it
    adv = to_advertisement_data(structures, rssi=-50)
    assert adv.local_name == "Tread"
    assert adv.service_uuids == [FTMS_SERVICE_UUID, HEART_RATE_SERVICE_UUID]
    assert adv.service_data == {FTMS_SERVICE_UUID: b"\x01\x01\x00"}
    assert adv.rssi == -50
    assert len(structures) == 4


def test_other_ad_structures_decode_and_broken_ones_are_skipped() -> None:
    uuid128 = bytes(range(16))
    structures = [
        (AdType.SHORTENED_LOCAL_NAME, b"Tr"),
        (AdType.COMPLETE_UUID32, b"\x26\x18\x00\x00"),
        (AdType.INCOMPLETE_UUID128, uuid128),
        (AdType.SERVICE_DATA_UUID32, b"\x0d\x18\x00\x00\x07"),
        (AdType.SERVICE_DATA_UUID128, uuid128 + b"\x09"),
        (AdType.MANUFACTURER_DATA, b"\x6b\x00\xaa"),
        (AdType.TX_POWER_LEVEL, b"\xf6"),
        (AdType.SERVICE_DATA_UUID16, b"\x01"),
        (0x99, b"?"),
    ]
    adv = to_advertisement_data(structures, rssi=-70)
    long_form = "0f0e0d0c-0b0a-0908-0706-050403020100"
    assert adv.local_name == "Tr"
    assert adv.service_uuids == [FTMS_SERVICE_UUID, long_form]
    assert adv.service_data == {HEART_RATE_SERVICE_UUID: b"\x07", long_form: b"\x09"}
    assert adv.manufacturer_data == {0x006B: b"\xaa"}
    assert adv.tx_power == -10


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", []),
        (b"\x00\x02\x01\x06", []),  # zero length: padding ends the data
        (b"\x02\x01\x06\x05\x09ab", [(0x01, b"\x06")]),  # the name runs past the end
    ],
)
def test_split_structures_stops_at_padding_and_truncation(
    raw: bytes, expected: list[tuple[int, bytes]]
) -> None:
    assert split_structures(raw) == expected


def test_an_oversized_structure_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        build_advertising_data("x" * 300)

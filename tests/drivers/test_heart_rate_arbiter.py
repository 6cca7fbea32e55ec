from __future__ import annotations

import pytest

from treadwell.drivers.arbiter import HeartRateArbiter, HeartRateChoice
from treadwell.drivers.codec.heart_rate import HeartRateMeasurement, SensorContact
from treadwell.drivers.events import HeartRateSource


def strap(bpm: int, contact: SensorContact = SensorContact.CONTACT) -> HeartRateMeasurement:
    return HeartRateMeasurement(
        heart_rate_bpm=bpm, sensor_contact=contact, energy_expended_kj=None, rr_intervals_ms=()
    )


STRAP = HeartRateSource.STRAP
MACHINE = HeartRateSource.TREADMILL


@pytest.mark.parametrize(
    ("strap_reading", "treadmill_bpm", "now", "expected"),
    [
        (strap(140), 120, 10.0, HeartRateChoice(140, STRAP)),
        (strap(140, SensorContact.NOT_SUPPORTED), 120, 10.0, HeartRateChoice(140, STRAP)),
        (strap(140, SensorContact.NO_CONTACT), 120, 10.0, HeartRateChoice(120, MACHINE)),
        (strap(0), 120, 10.0, HeartRateChoice(120, MACHINE)),
        (None, 120, 10.0, HeartRateChoice(120, MACHINE)),
        (strap(140), None, 10.0, HeartRateChoice(140, STRAP)),
        (strap(140), 0, 10.0, HeartRateChoice(140, STRAP)),
        (None, None, 10.0, None),
        (strap(140), 120, 16.0, None),  # both older than 5 s
    ],
)
def test_strap_wins_when_fresh_and_in_contact(
    strap_reading: HeartRateMeasurement | None,
    treadmill_bpm: int | None,
    now: float,
    expected: HeartRateChoice | None,
) -> None:
    arbiter = HeartRateArbiter(stale_after_s=5.0)
    if strap_reading is not None:
        arbiter.on_strap(strap_reading, now=10.0)
    arbiter.on_treadmill(treadmill_bpm, now=10.0)
    assert arbiter.choose(now) == expected


def test_stale_strap_falls_back_to_a_fresh_treadmill_value() -> None:
    arbiter = HeartRateArbiter(stale_after_s=5.0)
    arbiter.on_strap(strap(150), now=0.0)
    arbiter.on_treadmill(118, now=9.0)
    assert arbiter.choose(10.0) == HeartRateChoice(118, MACHINE)


def test_lost_strap_is_forgotten_at_once() -> None:
    arbiter = HeartRateArbiter()
    arbiter.on_strap(strap(150), now=0.0)
    arbiter.on_treadmill(118, now=0.0)
    arbiter.strap_lost()
    assert arbiter.choose(0.5) == HeartRateChoice(118, MACHINE)

from __future__ import annotations

from itertools import islice

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadwell.drivers.backoff import Backoff


def test_delays_grow_exponentially_up_to_the_cap() -> None:
    delays = list(islice(Backoff(1.0, 30.0, 2.0).delays(rand=lambda: 0.0), 8))
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_jitter_only_shortens_a_delay_by_at_most_its_fraction() -> None:
    delays = list(islice(Backoff(1.0, 8.0, 2.0, jitter=0.25).delays(rand=lambda: 0.999), 5))
    nominal = [1.0, 2.0, 4.0, 8.0, 8.0]
    for got, full in zip(delays, nominal, strict=True):
        assert full * 0.75 <= got < full


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_s": 0.0},
        {"initial_s": 5.0, "max_s": 1.0},
        {"factor": 0.5},
        {"jitter": 1.0},
        {"jitter": -0.1},
    ],
)
def test_nonsense_backoff_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(**kwargs)


@settings(max_examples=200)
@given(
    initial=st.floats(0.01, 5.0),
    cap=st.floats(5.0, 60.0),
    factor=st.floats(1.0, 4.0),
    jitter=st.floats(0.0, 0.9),
    rolls=st.lists(st.floats(0.0, 0.999), min_size=1, max_size=30),
)
def test_every_delay_is_positive_and_never_above_the_cap(
    initial: float, cap: float, factor: float, jitter: float, rolls: list[float]
) -> None:
    feed = iter(rolls)
    delays = Backoff(initial, cap, factor, jitter).delays(rand=lambda: next(feed))
    for delay in islice(delays, len(rolls)):
        assert 0 < delay <= cap

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from treadwell.drivers.distance import DistanceEstimator


def feed_run(
    estimator: DistanceEstimator, speed_kmh: float, seconds: int, deck: list[int]
) -> list[tuple[int | None, bool]]:
    out = []
    for t in range(seconds):
        estimate = estimator.feed(float(t), speed_kmh, deck[t])
        out.append((estimate.total_m, estimate.estimated))
    return out


def test_distance_stuck_at_zero_is_integrated_once_it_clearly_should_move() -> None:
    out = feed_run(DistanceEstimator(), 3.6, 30, [0] * 30)  # 1 m/s

    assert out[5] == (0, False)
    assert out[-1] == (29, True)


def test_coarse_steps_are_refined_but_never_reach_the_next_step() -> None:
    deck = [t // 10 * 10 for t in range(60)]  # 1 m/s reported in tens
    out = feed_run(DistanceEstimator(), 3.6, 60, deck)

    assert out[-1][1]
    assert [d for d, _ in out[35:40]] == [35, 36, 37, 38, 39]
    assert all(deck[t] <= (out[t][0] or 0) < deck[t] + 10 for t in range(60))


def test_an_honest_deck_keeps_its_own_value() -> None:
    deck = list(range(0, 60))
    out = feed_run(DistanceEstimator(), 3.6, 60, deck)

    assert out == [(d, False) for d in deck]


def test_no_distance_field_stays_absent() -> None:
    assert DistanceEstimator().feed(0.0, 5.0, None).total_m is None


def test_a_new_workout_on_the_deck_starts_over() -> None:
    estimator = DistanceEstimator()
    feed_run(estimator, 3.6, 40, [t // 10 * 10 for t in range(40)])
    restarted = estimator.feed(41.0, 3.6, 0)

    assert (restarted.total_m, restarted.estimated) == (0, False)


@settings(max_examples=200)
@given(
    steps=st.lists(
        st.tuples(st.floats(0.1, 5.0), st.floats(0.0, 20.0), st.integers(0, 30)), max_size=60
    )
)
def test_the_distance_handed_out_never_decreases_while_the_deck_does_not(
    steps: list[tuple[float, float, int]],
) -> None:
    estimator = DistanceEstimator()
    t, deck, last = 0.0, 0, 0
    for gap, speed, gain in steps:
        t += gap
        deck += gain
        total = estimator.feed(t, speed, deck).total_m
        assert total is not None
        assert total >= last
        assert total >= deck
        last = total

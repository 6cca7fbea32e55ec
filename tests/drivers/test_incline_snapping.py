from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadwell.drivers.errors import InclineOutOfLimitsError
from treadwell.drivers.incline import InclineLimits, snap_incline

WIDE = InclineLimits(-10.0, 40.0)


@pytest.mark.parametrize(
    ("requested", "device", "limits", "expected"),
    [
        (2.5, (0.0, 15.0, 0.5), WIDE, 2.5),
        (2.3, (0.0, 15.0, 0.5), WIDE, 2.5),
        (2.2, (0.0, 15.0, 0.5), WIDE, 2.0),
        (2.5, (0.0, 15.0, 1.0), WIDE, 3.0),
        (2.4, (0.0, 15.0, 1.0), WIDE, 2.0),
        (-2.0, (-3.0, 15.0, 0.5), WIDE, -2.0),
        (-2.7, (-3.0, 15.0, 0.5), WIDE, -2.5),
        (-5.0, (-3.0, 15.0, 0.5), WIDE, -3.0),
        (20.0, (0.0, 15.0, 0.5), WIDE, 15.0),
        (2.2, (0.0, 15.0, 0.5), InclineLimits(2.2, 2.8), 2.5),
        (2.8, (0.0, 15.0, 1.0), InclineLimits(2.2, 3.0), 3.0),
        (1.23, (0.0, 15.0, 0.0), WIDE, 1.2),
        (6.0, (0.0, 15.0, 0.5), InclineLimits(0.0, 6.0), 6.0),
    ],
)
def test_requested_incline_is_snapped_to_range_and_step(
    requested: float,
    device: tuple[float, float, float],
    limits: InclineLimits,
    expected: float,
) -> None:
    low, high, step = device
    got = snap_incline(
        requested, device_min_pct=low, device_max_pct=high, step_pct=step, limits=limits
    )
    assert got == pytest.approx(expected)


@pytest.mark.parametrize("requested", [6.5, -0.5, 40.0])
def test_request_outside_the_runners_limits_is_refused_with_advice(requested: float) -> None:
    with pytest.raises(InclineOutOfLimitsError, match="configured limits are 0 % to 6 %"):
        snap_incline(
            requested,
            device_min_pct=-3.0,
            device_max_pct=15.0,
            step_pct=0.5,
            limits=InclineLimits(0.0, 6.0),
        )


def test_no_step_value_within_limits_is_refused() -> None:
    with pytest.raises(InclineOutOfLimitsError, match="none of those lies within your limits"):
        snap_incline(
            2.5,
            device_min_pct=0.0,
            device_max_pct=15.0,
            step_pct=1.0,
            limits=InclineLimits(2.2, 2.8),
        )


def test_limits_that_do_not_overlap_the_treadmill_range_are_refused() -> None:
    with pytest.raises(InclineOutOfLimitsError):
        snap_incline(
            -2.0,
            device_min_pct=0.0,
            device_max_pct=15.0,
            step_pct=0.5,
            limits=InclineLimits(-3.0, -1.0),
        )


def test_reversed_limits_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="reversed"):
        InclineLimits(5.0, 1.0)


@st.composite
def requests(draw: st.DrawFn) -> tuple[float, float, float, float, InclineLimits]:
    low = draw(st.floats(-6.0, 3.0, allow_nan=False))
    limits = InclineLimits(low, low + draw(st.floats(1.0, 20.0, allow_nan=False)))
    return (
        draw(st.floats(-6.0, 20.0, allow_nan=False)),
        draw(st.sampled_from([-6.0, -3.0, 0.0])),
        draw(st.sampled_from([10.0, 12.0, 15.0])),
        draw(st.sampled_from([0.1, 0.5, 1.0])),
        limits,
    )


@settings(max_examples=300)
@given(case=requests())
def test_snapped_incline_is_the_nearest_step_value_inside_range_and_limits(
    case: tuple[float, float, float, float, InclineLimits],
) -> None:
    requested, device_min, device_max, step, limits = case
    low, high = max(limits.min_pct, device_min), min(limits.max_pct, device_max)
    # Brute-force oracle: every step value inside both the range and the limits.
    allowed = [k * step for k in range(-200, 400) if low - 1e-6 <= k * step <= high + 1e-6]
    inside_limits = limits.min_pct - 1e-6 <= requested <= limits.max_pct + 1e-6
    if not inside_limits or not allowed:
        with pytest.raises(InclineOutOfLimitsError):
            snap_incline(
                requested,
                device_min_pct=device_min,
                device_max_pct=device_max,
                step_pct=step,
                limits=limits,
            )
        return
    got = snap_incline(
        requested,
        device_min_pct=device_min,
        device_max_pct=device_max,
        step_pct=step,
        limits=limits,
    )
    best = min(abs(value - requested) for value in allowed)
    assert any(abs(got - value) < 1e-6 for value in allowed)
    assert abs(got - requested) <= best + 1e-6

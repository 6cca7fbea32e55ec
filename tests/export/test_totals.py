"""Per-runner totals for Home Assistant: today, this week and all time, from the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadwell.daemon.totals import HistoryRow, Totals, runner_totals
from treadwell.daemon.totals_discovery import build_runner_totals_discovery, totals_topic

# Wednesday 2 December 2026, 20:30 in a zone one hour ahead of UTC.
ZONE = timezone(timedelta(hours=1))
NOW = datetime(2026, 12, 2, 19, 30, tzinfo=UTC)


def naive(year: int, month: int, day: int) -> datetime:
    """A bound for hypothesis, which takes naive datetimes and a zone apart."""
    return datetime(year, month, day)  # noqa: DTZ001


def row(
    runner: str,
    started: datetime,
    km: float,
    minutes: float,
    window_min: float = 0.0,
    *,
    run_id: int = 1,
) -> HistoryRow:
    return HistoryRow(runner, run_id, started, km * 1000, minutes * 60, window_min * 60)


@pytest.mark.parametrize(
    ("started", "today", "week"),
    [
        (datetime(2026, 12, 2, 6, 0, tzinfo=UTC), True, True),  # this morning
        (datetime(2026, 12, 1, 23, 30, tzinfo=UTC), True, True),  # 00:30 local today
        (datetime(2026, 12, 1, 22, 30, tzinfo=UTC), False, True),  # 23:30 local yesterday
        (datetime(2026, 11, 30, 0, 0, tzinfo=UTC), False, True),  # Monday 01:00 local
        (datetime(2026, 11, 29, 22, 59, tzinfo=UTC), False, False),  # Sunday 23:59 local
        (datetime(2025, 12, 2, 6, 0, tzinfo=UTC), False, False),  # a year ago, same week number
    ],
)
def test_a_run_counts_on_its_local_day_and_iso_week(
    started: datetime, today: bool, week: bool
) -> None:
    totals = runner_totals([row("ana", started, 5.0, 30.0, 20.0)], NOW, ZONE)["ana"]
    one = Totals(5000.0, 1800.0, 1, 1200.0)
    assert totals.today == (one if today else Totals())
    assert totals.week == (one if week else Totals())
    assert totals.all_time == one


def test_each_runner_has_their_own_totals_and_last_run() -> None:
    rows = [
        row("ana", NOW - timedelta(hours=2), 5.0, 30.0, 20.0, run_id=3),
        row("ben", NOW - timedelta(days=1), 3.0, 25.0, 0.0, run_id=2),
        row("ana", NOW - timedelta(days=30), 10.0, 60.0, 45.0, run_id=1),
    ]
    totals = runner_totals(rows, NOW, ZONE, runners=["ana", "cleo"])
    assert set(totals) == {"ana", "ben", "cleo"}
    assert totals["ana"].all_time.to_dict() == {
        "distance_km": 15.0,
        "time_min": 90.0,
        "runs": 2,
        "window_min": 65.0,
    }
    assert totals["ana"].today.runs == 1
    assert totals["ana"].last_run is not None
    assert totals["ana"].last_run.run_id == 3
    assert totals["ben"].today == Totals()
    assert totals["ben"].week.runs == 1
    assert totals["cleo"].all_time == Totals()
    payload = totals["ana"].to_payload(["/x/ana/run-3.fit"])
    assert payload["last_run"]["files"] == ["/x/ana/run-3.fit"]
    assert payload["today"]["distance_km"] == 5.0
    assert totals["cleo"].to_payload()["last_run"] is None


rows_strategy = st.lists(
    st.builds(
        row,
        st.sampled_from(["ana", "ben"]),
        st.datetimes(
            min_value=naive(2026, 1, 1), max_value=naive(2026, 12, 31), timezones=st.just(UTC)
        ),
        st.floats(min_value=0, max_value=50),
        st.floats(min_value=0, max_value=300),
        st.floats(min_value=0, max_value=300),
    ),
    max_size=30,
)


@given(
    rows_strategy,
    st.datetimes(min_value=naive(2026, 1, 1), max_value=naive(2027, 1, 1), timezones=st.just(UTC)),
)
def test_today_fits_in_the_week_which_fits_in_all_time(
    rows: list[HistoryRow], now: datetime
) -> None:
    for totals in runner_totals(rows, now, ZONE).values():
        assert totals.today.runs <= totals.week.runs <= totals.all_time.runs
        assert totals.today.distance_m <= totals.week.distance_m + 1e-6
        assert totals.week.distance_m <= totals.all_time.distance_m + 1e-6
        assert totals.all_time.runs == sum(1 for r in rows if r.runner == totals.runner)


@given(
    rows_strategy,
    st.datetimes(
        min_value=naive(2026, 1, 1), max_value=naive(2026, 12, 31), timezones=st.just(UTC)
    ),
)
def test_within_a_day_the_totals_never_go_down_as_runs_are_added(
    rows: list[HistoryRow], now: datetime
) -> None:
    # What `total_increasing` needs: adding a run never lowers any total.
    before = runner_totals(rows, now, ZONE)
    after = runner_totals(
        [*rows, row("ana", now - timedelta(minutes=1), 1.0, 5.0, 1.0, run_id=99)], now, ZONE
    )
    for name, totals in before.items():
        for period in ("today", "week", "all_time"):
            old, new = getattr(totals, period), getattr(after[name], period)
            assert new.runs >= old.runs
            assert new.distance_m >= old.distance_m


def test_totals_discovery_has_a_total_increasing_sensor_per_period_and_figure() -> None:
    topic, payload = build_runner_totals_discovery(
        base="tw",
        discovery_prefix="homeassistant",
        daemon_id="tw-gym",
        runner_slug="ana",
        runner_name="Ana",
        sw_version="1.0",
    )
    assert topic == "homeassistant/device/tw-gym_runner_ana/config"
    components = payload["components"]
    for period in ("today", "week", "all_time"):
        for figure in ("distance", "time", "runs", "window"):
            sensor = components[f"{period}_{figure}"]
            assert sensor["state_class"] == "total_increasing"
            assert sensor["state_topic"] == totals_topic("tw", "ana") == "tw/runners/ana/totals"
            assert sensor["value_template"].startswith(f"{{{{ value_json.{period}.")
            assert sensor["unique_id"].startswith("tw-gym_runner_ana_")
    assert components["all_time_distance"]["unit_of_measurement"] == "km"
    assert components["today_window"]["device_class"] == "duration"
    assert components["last_run"]["state_class"] == "measurement"
    assert components["last_run"]["json_attributes_topic"] == "tw/runners/ana/totals"
    assert payload["device"]["name"] == "Treadwell Ana"
    assert len({c["unique_id"] for c in components.values()}) == len(components)

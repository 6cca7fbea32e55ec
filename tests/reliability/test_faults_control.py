"""The strap drops out and comes back; the incline control point fails in every way it can.

In-process (see `tests/reliability/inprocess.py`): the test switches the virtual strap off
and on, and makes the virtual treadmill's control point answer with each failure code or not
answer at all. Expected: the daemon reports each failure on `{base}/error`, the deck is not
moved by a refused request, and the run and the daemon carry on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.reliability.inprocess import devices, running, settings_for
from tests.support.mqtt_client import publish, subscriber
from treadwell.drivers.codec.ftms import ResultCode
from treadwell.drivers.virtual.profile import RunProfile

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto
    from tests.support.mqtt_client import Subscriber

pytestmark = [pytest.mark.reliability, pytest.mark.mqtt]

SPEEDUP = 20.0
STEADY = RunProfile.steady(60, 8.0)
FAILURES = [
    ResultCode.OP_CODE_NOT_SUPPORTED,
    ResultCode.INVALID_PARAMETER,
    ResultCode.OPERATION_FAILED,
    ResultCode.CONTROL_NOT_PERMITTED,
]


def states(sub: Subscriber) -> list[dict[str, Any]]:
    return sub.json_on("tw/treadmill/state")


def errors(sub: Subscriber) -> list[dict[str, Any]]:
    return sub.json_on("tw/error")


async def test_every_control_point_failure_and_a_timeout_is_reported_and_the_daemon_carries_on(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = settings_for(mosquitto, tmp_path, SPEEDUP, back_pain="none")
    async with (
        subscriber(mosquitto, "tw/#") as sub,
        devices(SPEEDUP, STEADY) as world,
        running(settings, world.world),
    ):
        treadmill = world.treadmill
        await sub.wait_for(lambda _: any(s["running"] for s in states(sub)), "the run started")
        for count, code in enumerate(FAILURES, start=1):
            treadmill.force_result = code
            await publish(mosquitto, "tw/treadmill/incline/set", b"1.5")
            await sub.wait_on("tw/error", count)
        treadmill.force_result = None
        treadmill.ignore_control_point = True
        await publish(mosquitto, "tw/treadmill/incline/set", b"1.5")
        await sub.wait_on("tw/error", len(FAILURES) + 1)
        assert treadmill.incline_pct == 0.0
        treadmill.ignore_control_point = False
        await publish(mosquitto, "tw/treadmill/incline/set", b"2.0")
        await sub.wait_for(lambda _: treadmill.incline_pct == pytest.approx(2.0), "deck at 2%")
        run_ids = {s["run_id"] for s in states(sub) if s["running"]}
        seen = len(states(sub))
        await sub.wait_for(lambda _: len(states(sub)) > seen + 2, "more state")

    reports = errors(sub)
    assert [r["topic"] for r in reports] == ["tw/treadmill/incline/set"] * (len(FAILURES) + 1)
    assert all(r["error"] for r in reports)
    assert "did not answer" in reports[-1]["error"]
    assert len(run_ids) == 1
    assert not sub.on("tw/run")
    assert states(sub)[-1]["connected"] is True


async def test_a_strap_lost_and_found_mid_run_leaves_one_run_and_heart_rate_returns(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = settings_for(mosquitto, tmp_path, SPEEDUP, back_pain="none")
    async with (
        subscriber(mosquitto, "tw/#") as sub,
        devices(SPEEDUP, STEADY, treadmill_hr=False) as world,
        running(settings, world.world),
    ):
        await sub.wait_for(
            lambda _: bool(states(sub)[-1:] and states(sub)[-1]["heart_rate_bpm"]), "HR"
        )
        await world.strap.power_off()
        await sub.wait_for(lambda _: states(sub)[-1]["heart_rate_bpm"] is None, "HR gone")
        gone_at = len(states(sub))
        await world.strap.power_on()
        await sub.wait_for(lambda _: states(sub)[-1]["heart_rate_bpm"] is not None, "HR back")
        assert all(s["connected"] and s["running"] for s in states(sub)[gone_at:])

    assert len({s["run_id"] for s in states(sub) if s["running"]}) == 1
    assert not sub.on("tw/error")
    assert not sub.on("tw/run")

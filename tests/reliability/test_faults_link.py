"""The treadmill loses power mid-run and comes back after 5 s, after 30 s, or never.

In-process (see `tests/reliability/inprocess.py`): the test switches the virtual treadmill off
and on at chosen moments and reads every control-point request it received. Times are the
treadmill's (sped-up) seconds. Expected: one run, the distance carried on from the treadmill's
counter, the treadmill shown disconnected and unavailable while it is off, and no incline set
after it comes back until control has been requested again.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from tests.reliability.inprocess import devices, running, settings_for
from tests.support.mqtt_client import publish, subscriber
from treadwell.daemon.store import Store
from treadwell.drivers.codec.ftms import ControlOp
from treadwell.drivers.virtual.profile import RunProfile

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto
    from tests.support.mqtt_client import Subscriber
    from treadwell.drivers.virtual.treadmill import VirtualTreadmill

pytestmark = [pytest.mark.reliability, pytest.mark.mqtt]

SPEEDUP = 30.0
# Three minutes at 9 km/h, then the console stops the belt: the run ends.
PROFILE = RunProfile.of([(180.0, 9.0)])
CUT_AT_S = 30.0
DASHBOARD_INCLINE = 1.0


async def until_elapsed(treadmill: VirtualTreadmill, seconds: float) -> None:
    """Wait until the treadmill's own elapsed-time counter reaches `seconds`."""
    async with asyncio.timeout(60):
        while treadmill.elapsed_time_s < seconds:
            await asyncio.sleep(0.02)


def states(sub: Subscriber) -> list[dict[str, Any]]:
    return sub.json_on("tw/treadmill/state")


@pytest.mark.parametrize("back_after_s", [5.0, 30.0, None], ids=["5s", "30s", "never"])
async def test_a_power_cut_mid_run_keeps_one_run_and_waits_for_control_before_any_incline(
    mosquitto: Mosquitto, tmp_path: Path, back_after_s: float | None
) -> None:
    # Incline help starts 90 s into the run: after the treadmill is back in both cases.
    settings = settings_for(mosquitto, tmp_path, SPEEDUP, incline_underway_s=90.0)
    async with (
        subscriber(mosquitto, "tw/#") as sub,
        devices(SPEEDUP, PROFILE) as world,
        running(settings, world.world),
    ):
        treadmill = world.treadmill
        await sub.wait_for(lambda _: any(s["running"] for s in states(sub)), "the run started")
        # The dashboard sets an incline first, so control is held when the power goes.
        await publish(mosquitto, "tw/treadmill/incline/set", b"1.0")
        await sub.wait_for(lambda _: treadmill.controller_granted, "control granted")
        await until_elapsed(treadmill, CUT_AT_S)

        await treadmill.power_off()
        cut = len(treadmill.control_log)
        seen_at_cut = len(sub.messages)
        await sub.wait_for(
            lambda _: any(m.payload == b"offline" for m in sub.on("tw/treadmill/availability")),
            "the treadmill unavailable",
        )
        await sub.wait_for(
            lambda _: not states(sub)[-1]["connected"], "the state showing it disconnected"
        )
        if back_after_s is not None:
            await asyncio.sleep(back_after_s / SPEEDUP)
            await treadmill.power_on()
        await sub.wait_on("tw/run", timeout=40)
        await asyncio.sleep(0.5)

    after_cut = treadmill.control_log[cut:]
    assert not [r for r in treadmill.control_log if r.op == ControlOp.SET_TARGET_SPEED]
    with Store.in_dir(tmp_path, read_only=True) as store:
        runs = store.runs()
    assert len(runs) == 1
    assert runs[0].status == "finished"
    run = sub.json_on("tw/run")[-1]
    distances = [float(s["total_distance_m"]) for s in states(sub) if s["total_distance_m"]]
    assert distances == sorted(distances)  # never went backwards across the cut
    offline_then = [s for s in states(sub)[:] if s["connected"] is False]
    assert offline_then, "the state never showed the treadmill disconnected"

    if back_after_s is None:
        assert after_cut == []
        assert sub.on("tw/treadmill/availability")[-1].payload == b"offline"
        await sub.wait_for(
            lambda _: not states(sub)[-1]["connected"], "the state showing it disconnected"
        )
        assert run["distance_m"] <= max(distances) + 1
        return

    # Back: online again, and any incline came only after a fresh Request Control.
    assert sub.on("tw/treadmill/availability")[-1].payload == b"online"
    after = [m for m in sub.messages[seen_at_cut:] if m.topic == "tw/treadmill/state"]
    assert any(m.json()["connected"] is True for m in after)  # type: ignore[index]
    ops = [r.op for r in after_cut]
    assert ControlOp.SET_TARGET_INCLINATION in ops, f"no incline after the cut: {ops}"
    assert ops[0] == ControlOp.REQUEST_CONTROL
    first_set = ops.index(ControlOp.SET_TARGET_INCLINATION)
    assert ControlOp.REQUEST_CONTROL in ops[:first_set]
    # One run whose distance follows the treadmill's counter, which kept counting while cut
    # off: the outage's metres (25 m per 10 s) are in it. The run began a few metres in, at
    # or before the first state that shows it running.
    started = next(s for s in states(sub) if s["running"])["total_distance_m"]
    assert treadmill.total_distance_m - started - 3 <= run["distance_m"]
    assert run["distance_m"] <= treadmill.total_distance_m + 1

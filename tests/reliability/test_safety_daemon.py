"""Whatever arrives, the treadmill is never asked for an unsafe incline or any speed.

A property test over the whole daemon on the virtual world (in-process, real mosquitto, sped-up
clock): each example is a random sequence of dashboard commands (any incline, flag changes,
check-ins), console incline changes, link drops, power cuts, revoked control and control-point
faults, played against a treadmill that is running. The virtual treadmill records every
control-point write; at the moment each arrives the test notes whether the daemon's own flags
had the red flag in effect. Afterwards, every Set Target Inclination must lie within the
runner's limits and the treadmill's range and must not have been sent under a red flag, and
there must be no Set Target Speed at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiomqtt
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.daemon.test_app import SPEEDUP, STRAP_NAME, TREADMILL_NAME, running, settings_for
from treadwell.drivers.codec.ftms import ControlOp, ControlPointRequest, ResultCode
from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig
from treadwell.drivers.virtual.world import VirtualWorld
from treadwell.rules.household import limits_for
from treadwell.rules.model import BackPain

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto
    from treadwell.daemon.app import Daemon
    from treadwell.drivers.virtual.treadmill import VirtualTreadmill

pytestmark = [pytest.mark.reliability, pytest.mark.mqtt, pytest.mark.slow]

# Ten minutes of running: ~5 s of real time at SPEEDUP, long enough for the warm-up to end
# and the automation to suggest an incline.
PROFILE = RunProfile.of([(600.0, 9.0), (60.0, 0.0)])

Action = tuple[str, float]

actions = st.one_of(
    st.tuples(
        st.just("incline"),
        st.one_of(st.floats(-20.0, 50.0), st.sampled_from([0.0, 2.5, 3.0, 3.5, 15.0, -10.0])),
    ),
    st.tuples(st.just("flag"), st.sampled_from([0.0, 1.0, 2.0])),  # none, ache, red
    st.tuples(st.just("checkin"), st.integers(0, 10).map(float)),
    st.tuples(st.just("console"), st.floats(-3.0, 20.0)),
    st.tuples(st.just("drop"), st.just(0.0)),
    st.tuples(st.just("power_cut"), st.floats(0.0, 1.0)),
    st.tuples(st.just("revoke"), st.just(0.0)),
    st.tuples(st.just("fault"), st.sampled_from([0.0, 2.0, 3.0, 4.0, 5.0])),
    st.tuples(st.just("ignore"), st.sampled_from([0.0, 1.0])),
    st.tuples(st.just("slow"), st.sampled_from([0.0, 0.3, 1.0])),
    st.tuples(st.just("wait"), st.floats(0.0, 1.0)),
)

FLAGS = ("none", "ache", "red")
KINDS = ("none", "ache", "sharp", "radiating", "night")


@dataclass(frozen=True, slots=True)
class Sent:
    """One control-point write as the treadmill received it, and the daemon's flag then."""

    request: ControlPointRequest
    red: bool


class WatchedLog(list[ControlPointRequest]):
    """The treadmill's `control_log`, noting the daemon's red flag at every write."""

    def __init__(self, daemon: Daemon, slug: str) -> None:
        super().__init__()
        self.daemon = daemon
        self.slug = slug
        self.sent: list[Sent] = []

    def append(self, request: ControlPointRequest) -> None:
        house = self.daemon.house
        flags = house.runner(house.runner_on(self.slug)).flags
        red = flags.effective(self.daemon._clock.now()) is BackPain.RED
        self.sent.append(Sent(request, red))
        super().append(request)


async def play(
    action: Action, treadmill: VirtualTreadmill, client: aiomqtt.Client, base: str
) -> None:
    kind, value = action
    match kind:
        case "incline":
            await client.publish(f"{base}/treadmill/incline/set", json.dumps(value), qos=1)
        case "flag":
            payload = json.dumps({"back_pain": FLAGS[int(value)]})
            await client.publish(f"{base}/flags/set", payload, qos=1)
        case "checkin":
            pain = int(value)
            payload = json.dumps({"pain": pain, "kind": KINDS[pain % len(KINDS)]})
            await client.publish(f"{base}/checkin", payload, qos=1)
        case "console":
            treadmill.set_incline_by_console(value)
        case "drop":
            await treadmill.drop_link()
        case "power_cut":
            await treadmill.power_off()
            await asyncio.sleep(value)
            await treadmill.power_on()
        case "revoke":
            treadmill.revoke_control()
        case "fault":
            treadmill.force_result = ResultCode(int(value)) if value else None
        case "ignore":
            treadmill.ignore_control_point = bool(value)
        case "slow":
            treadmill.slow_indications_s = value
        case _:
            await asyncio.sleep(value)
    await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def scene(
    mosquitto: Mosquitto, state_dir: Path, base: str
) -> AsyncIterator[tuple[Daemon, VirtualTreadmill, WatchedLog]]:
    async with VirtualWorld(speedup=SPEEDUP) as world:
        treadmill = await world.add_treadmill(
            TreadmillConfig(name=TREADMILL_NAME, profile=PROFILE, advertising_interval_ms=20)
        )
        await world.add_strap(
            StrapConfig(name=STRAP_NAME, follow=treadmill, advertising_interval_ms=20)
        )
        config = settings_for(
            mosquitto, state_dir, base=base, client_id=f"safety-{base}", back_pain="ache"
        )
        async with running(config, world) as daemon:
            watched = WatchedLog(daemon, "treadmill")
            treadmill.control_log = watched
            yield daemon, treadmill, watched


@settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(script=st.lists(actions, min_size=5, max_size=25))
@example(
    # A red flag arriving while a slow incline procedure is in flight.
    script=[("wait", 0.8), ("slow", 1.0), ("incline", 2.0), ("flag", 2.0), ("incline", 2.5)]
)
@example(
    # The same while control must be requested again first (a slow answer to that request).
    script=[("wait", 0.8), ("revoke", 0.0), ("slow", 1.0), ("incline", 2.0), ("flag", 2.0),
            ("wait", 2.5)]
)  # fmt: skip
@example(
    # Faults and link loss around the automation's own incline.
    script=[("fault", 4.0), ("wait", 1.0), ("drop", 0.0), ("fault", 0.0), ("wait", 1.0),
            ("revoke", 0.0), ("incline", 3.0), ("power_cut", 0.5), ("incline", 2.5)]
)  # fmt: skip
async def test_the_treadmill_never_gets_an_unsafe_incline_or_a_speed(
    mosquitto: Mosquitto, tmp_path: Path, script: list[Action]
) -> None:
    base = f"safe{uuid.uuid4().hex[:8]}"
    async with (
        scene(mosquitto, tmp_path / base, base) as (daemon, treadmill, watched),
        aiomqtt.Client(mosquitto.host, mosquitto.port) as client,
    ):
        await asyncio.sleep(1.0)  # the link comes up and the run starts
        for action in script:
            await play(action, treadmill, client, base)
        await asyncio.sleep(1.0)  # let procedures in flight finish
        low, high = limits_for(daemon.house, "treadmill")
    rng = treadmill.config.incline_range
    assert rng is not None
    for sent in watched.sent:
        request = sent.request
        assert request.op != ControlOp.SET_TARGET_SPEED, watched.sent
        if request.op != ControlOp.SET_TARGET_INCLINATION:
            continue
        assert request.incline_pct is not None
        assert low <= request.incline_pct <= high, (request, low, high)
        assert rng.min_pct <= request.incline_pct <= rng.max_pct, (request, rng)
        assert not sent.red, f"incline {request.incline_pct}% sent under a red flag: {script}"

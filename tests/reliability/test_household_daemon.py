"""A household on the whole daemon: two treadmills, two runners, a real broker, the virtual world.

The scenarios are the cases that broke before runners existed (a check-in reaching only one
treadmill, run ids shared by two treadmills, a check-in stored with no run); the property
test plays random interleavings of flags, check-ins, runner switches, dashboard commands, link
drops and daemon restarts and checks every control-point write the treadmills received: never
an incline for a runner whose flag is red, never above the smallest ceiling, never a speed.
`TREADWELL_HOUSEHOLD_EXAMPLES` raises the number of examples (50 by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiomqtt
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support.mqtt_client import publish, subscriber
from treadwell.daemon.app import Daemon
from treadwell.daemon.clock import Clock
from treadwell.daemon.config import Settings
from treadwell.daemon.store import Store
from treadwell.drivers.codec.ftms import ControlOp, ControlPointRequest
from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig, VirtualTreadmill
from treadwell.drivers.virtual.world import VirtualWorld
from treadwell.rules.model import BackPain

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.reliability, pytest.mark.mqtt]

SPEEDUP = 120.0
DECKS = ("garage", "loft")
RUNNERS = ("alice", "bob")
CEILINGS = {"alice": 3.0, "bob": 2.0}
DECK_CEILINGS = {"garage": 10.0, "loft": 2.5}
EXAMPLES = int(os.environ.get("TREADWELL_HOUSEHOLD_EXAMPLES", "50"))
# Long enough that the belts keep running through every example of a test.
LONG_RUN = RunProfile.steady(600, 9.0)


def household_settings(
    broker: Mosquitto, state_dir: Path, base: str, *, straps: bool = False, **rules: float
) -> Settings:
    """Two decks, two runners (alice consents, bob does not), both flags 'ache' to start."""
    runners: list[dict[str, object]] = [
        {"name": "alice", "max_incline_pct": 3.0, "automation_allowed": True},
        {"name": "bob", "max_incline_pct": 2.0},
    ]
    if straps:
        runners[0]["strap"] = "Alice Strap"
        runners[1]["strap"] = "Bob Strap"
    return Settings(
        mqtt={"host": broker.host, "port": broker.port, "base_topic": base, "client_id": base},
        ble={"backend": "virtual", "speedup": SPEEDUP},
        treadmills=[
            {
                "name": deck,
                "match_name": f"{deck.title()} Deck",
                "automation_allowed": True,
                "max_incline_pct": DECK_CEILINGS[deck],
            }
            for deck in DECKS
        ],
        runners=runners,
        rules={"incline_underway_s": 30.0, "stop_timeout_s": 120.0, **rules},
        flags={"back_pain": "ache"},
        state_dir=state_dir,
    )


@dataclass
class Home:
    """The virtual world with both decks (and straps that follow them)."""

    world: VirtualWorld
    decks: dict[str, VirtualTreadmill]


@contextlib.asynccontextmanager
async def home(profile: RunProfile | None = LONG_RUN) -> AsyncIterator[Home]:
    async with VirtualWorld(speedup=SPEEDUP) as world:
        decks = {
            deck: await world.add_treadmill(
                TreadmillConfig(
                    name=f"{deck.title()} Deck", profile=profile, advertising_interval_ms=20
                )
            )
            for deck in DECKS
        }
        for runner, deck in zip(RUNNERS, DECKS, strict=True):
            await world.add_strap(
                StrapConfig(
                    name=f"{runner.title()} Strap", follow=decks[deck], advertising_interval_ms=20
                )
            )
        yield Home(world, decks)


@contextlib.asynccontextmanager
async def running(settings: Settings, world: VirtualWorld) -> AsyncIterator[Daemon]:
    daemon = Daemon(settings, backend=world.backend, clock=Clock(SPEEDUP))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    try:
        yield daemon
    finally:
        stop.set()
        async with asyncio.timeout(60):  # generous: a busy machine stops slowly
            await task


async def until(condition: object, what: str, timeout: float = 30.0) -> None:
    """Wait for `condition()` to hold (checked every 50 ms); fail after `timeout`."""
    assert callable(condition)
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


def sets(deck: VirtualTreadmill) -> list[float]:
    return [
        r.incline_pct
        for r in deck.control_log
        if r.op == ControlOp.SET_TARGET_INCLINATION and r.incline_pct is not None
    ]


# -- scenarios ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checkin", "level", "prompt"),
    [
        # Sharp pain: get it checked soon (no incline changes, running not forbidden).
        (b'{"pain": 8, "kind": "sharp"}', "check", "get_checked"),
        # Sharp, severe and down the leg: stop running until seen.
        (b'{"pain": 8, "kinds": ["sharp", "radiating"]}', "red", "stop_running"),
    ],
)
async def test_a_red_checkin_stops_the_incline_on_every_treadmill_of_that_runner(
    mosquitto: Mosquitto, tmp_path: Path, checkin: bytes, level: str, prompt: str
) -> None:
    base = f"h{uuid.uuid4().hex[:6]}"
    settings = household_settings(mosquitto, tmp_path, base)
    async with (
        subscriber(mosquitto, f"{base}/#") as sub,
        home() as place,
        running(settings, place.world) as daemon,
    ):
        # alice (the default runner) runs on both decks; wait for both runs to be hers.
        await until(lambda: all(daemon.house.slot(d).engine.running for d in DECKS), "both runs")
        run_ids = {daemon.house.slot(deck).engine.run_id for deck in DECKS}
        await publish(mosquitto, f"{base}/checkin", checkin)
        await sub.wait_for(
            lambda _: any(
                f["back_pain"] == level for f in sub.json_on(f"{base}/runners/alice/flags")
            ),
            f"alice's {level} flag",
        )
        before = {deck: len(sets(place.decks[deck])) for deck in DECKS}
        await publish(mosquitto, f"{base}/loft/incline/set", b"2.0")
        await sub.wait_on(f"{base}/error")
        await asyncio.sleep(1.0)  # a minute of treadmill time: the automation would act
        after = {deck: len(sets(place.decks[deck])) for deck in DECKS}
    assert after == before
    error = json.loads(sub.on(f"{base}/error")[0].payload)
    assert error["topic"] == f"{base}/loft/incline/set"
    assert "red back-pain flag" in error["error"]
    told = {p["run_id"] for p in sub.json_on(f"{base}/runners/alice/prompt") if p["kind"] == prompt}
    assert run_ids <= told


async def test_runs_starting_together_on_two_treadmills_get_their_own_ids_and_prompts(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    base = f"h{uuid.uuid4().hex[:6]}"
    async with (
        subscriber(mosquitto, f"{base}/prompt") as sub,
        home() as place,
        running(household_settings(mosquitto, tmp_path, base), place.world) as daemon,
    ):
        await until(lambda: all(daemon.house.slot(d).engine.running for d in DECKS), "runs")
        run_ids = {daemon.house.slot(d).engine.run_id for d in DECKS}
        await sub.wait_for(
            lambda _: {p["run_id"] for p in sub.json_on(f"{base}/prompt")} >= run_ids,
            "a prompt for each run",
        )
    assert len(run_ids) == 2
    ids = [p["id"] for p in sub.json_on(f"{base}/prompt")]
    assert len(ids) == len(set(ids))


async def test_a_checkin_after_a_run_is_stored_with_its_run_and_runner(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    base = f"h{uuid.uuid4().hex[:6]}"
    # The belts stand still for a while (5 s of real time): bob is chosen before they move.
    short = RunProfile.of([(600.0, 0.0), (240.0, 9.0), (200.0, 0.0)])
    settings = household_settings(mosquitto, tmp_path, base, stop_timeout_s=30.0)
    async with (
        subscriber(mosquitto, f"{base}/#") as sub,
        home(short) as place,
        running(settings, place.world) as daemon,
    ):
        await sub.wait_on(f"{base}/status")
        await publish(mosquitto, f"{base}/garage/runner/set", b"bob")
        await until(lambda: daemon.house.runner_on("garage") == "bob", "bob on the garage deck")
        assert not daemon.house.slot("garage").engine.running
        await sub.wait_on(f"{base}/runners/bob/run", timeout=40)
        await publish(mosquitto, f"{base}/runners/bob/checkin", b'{"pain": 2, "kind": "ache"}')
        await until(lambda: daemon.house.runner("bob").history[-1].pain == 2, "bob's check-in")
    bob_run = json.loads(sub.on(f"{base}/runners/bob/run")[-1].payload)
    with Store.in_dir(tmp_path, read_only=True) as store:
        (checkin,) = store.checkins()
        record = store.run_by_key(bob_run["run_id"])
    assert (checkin.runner, checkin.run_key) == ("bob", bob_run["run_id"])
    assert record is not None
    assert checkin.run_id == record.id
    assert record.runner == "bob"
    assert bob_run["runner"] == "bob"


async def test_a_bound_strap_decides_who_runs(mosquitto: Mosquitto, tmp_path: Path) -> None:
    base = f"h{uuid.uuid4().hex[:6]}"
    settings = household_settings(mosquitto, tmp_path, base, straps=True)
    async with home() as place, running(settings, place.world) as daemon:
        await until(lambda: set(daemon.house.present) == set(RUNNERS), "both straps")
        await until(lambda: all(daemon.house.slot(d).engine.running for d in DECKS), "runs")
        owners = {daemon.house.slot(d).run_runner for d in DECKS}
    assert owners == set(RUNNERS)


# -- the safety property --------------------------------------------------------------------

Step = tuple[str, str, float]

steps = st.one_of(
    st.tuples(
        st.just("incline"), st.sampled_from(DECKS), st.sampled_from([-1.0, 1.5, 2.5, 3.5, 9.0])
    ),
    st.tuples(st.just("flag"), st.sampled_from(RUNNERS), st.sampled_from([0.0, 1.0, 2.0])),
    st.tuples(st.just("checkin"), st.sampled_from(RUNNERS), st.integers(0, 10).map(float)),
    st.tuples(st.just("select"), st.sampled_from(DECKS), st.sampled_from([0.0, 1.0, 2.0])),
    st.tuples(st.just("drop"), st.sampled_from(DECKS), st.just(0.0)),
    st.tuples(st.just("restart"), st.just(""), st.just(0.0)),
    st.tuples(st.just("wait"), st.just(""), st.sampled_from([0.2, 0.5])),
)
FLAGS = ("none", "ache", "red")
KINDS = ("none", "ache", "sharp", "radiating", "night")


@dataclass(frozen=True, slots=True)
class Sent:
    """A control-point write, whose runner it was for, and whether their flag was red then."""

    request: ControlPointRequest
    runner: str
    red: bool


class Watch(list[ControlPointRequest]):
    """A deck's control log that notes the daemon's view at every write."""

    def __init__(self, deck: str, holder: dict[str, Daemon]) -> None:
        super().__init__()
        self.deck = deck
        self.holder = holder
        self.sent: list[Sent] = []

    def append(self, request: ControlPointRequest) -> None:
        daemon = self.holder["daemon"]
        house = daemon.house
        runner = house.runner_on(self.deck)
        flag = house.runner(runner).flags.effective(daemon._clock.now())
        self.sent.append(Sent(request, runner, flag is BackPain.RED))
        super().append(request)


async def play(step: Step, place: Home, client: aiomqtt.Client, base: str) -> None:
    kind, target, value = step
    match kind:
        case "incline":
            await client.publish(f"{base}/{target}/incline/set", json.dumps(value), qos=1)
        case "flag":
            payload = json.dumps({"back_pain": FLAGS[int(value)]})
            await client.publish(f"{base}/runners/{target}/flags/set", payload, qos=1)
        case "checkin":
            payload = json.dumps({"pain": int(value), "kind": KINDS[int(value) % len(KINDS)]})
            await client.publish(f"{base}/runners/{target}/checkin", payload, qos=1)
        case "select":
            runner = ("auto", *RUNNERS)[int(value)]
            await client.publish(f"{base}/{target}/runner/set", runner, qos=1)
        case "drop":
            await place.decks[target].drop_link()
        case _:
            await asyncio.sleep(value)
    await asyncio.sleep(0.05)


@pytest.fixture
async def place() -> AsyncIterator[Home]:
    async with home() as made:
        yield made


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(script=st.lists(steps, min_size=3, max_size=12))
async def test_household_safety_holds_whatever_arrives(
    mosquitto: Mosquitto, tmp_path: Path, place: Home, script: list[Step]
) -> None:
    base = f"hh{uuid.uuid4().hex[:8]}"
    settings = household_settings(mosquitto, tmp_path / base, base)
    holder: dict[str, Daemon] = {}
    watches = {deck: Watch(deck=deck, holder=holder) for deck in DECKS}
    for deck in DECKS:
        place.decks[deck].control_log = watches[deck]
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        index = 0
        while index < len(script):
            async with running(settings, place.world) as daemon:
                holder["daemon"] = daemon
                await asyncio.sleep(0.3)
                while index < len(script) and script[index][0] != "restart":
                    await play(script[index], place, client, base)
                    index += 1
                await asyncio.sleep(0.5)  # procedures in flight finish (or are cancelled)
            index += 1  # the restart itself (or the end)
    for deck, watch in watches.items():
        deck_range = place.decks[deck].config.incline_range
        assert deck_range is not None
        for sent in watch.sent:
            request = sent.request
            assert request.op != ControlOp.SET_TARGET_SPEED, script
            if request.op != ControlOp.SET_TARGET_INCLINATION:
                continue
            assert request.incline_pct is not None
            assert not sent.red, (deck, sent, script)
            ceiling = min(CEILINGS[sent.runner], DECK_CEILINGS[deck], deck_range.max_pct)
            assert 0.0 <= request.incline_pct <= ceiling + 1e-9, (deck, sent, script)


def cli_config(tmp_path: Path, mosquitto: Mosquitto, base: str, more: str) -> str:
    """A configuration file for the command line: the broker, `more`, and runner Bob."""
    config = tmp_path / "cli.toml"
    config.write_text(
        f'[mqtt]\nhost = "{mosquitto.host}"\nport = {mosquitto.port}\nbase_topic = "{base}"\n'
        + more
        + '[[runners]]\nname = "Bob"\n'
    )
    return str(config)


async def cli(*args: str) -> tuple[int | None, str, str]:
    """Run `python -m treadwell.daemon *args`: exit code, standard output, standard error."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "treadwell.daemon", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode, out.decode(), err.decode()


async def test_the_checkin_command_reaches_the_runner_it_names_and_is_confirmed(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    base = f"h{uuid.uuid4().hex[:6]}"
    settings = household_settings(mosquitto, tmp_path / "state", base)
    config = cli_config(tmp_path, mosquitto, base, '[[runners]]\nname = "alice"\n')
    async with home(None) as place, running(settings, place.world) as daemon:
        await until(lambda: daemon.bridge.connected, "the daemon online")
        code, out, err = await cli(
            "checkin", "--runner", "Bob", "--pain", "3", "--kind", "ache", "--config", config
        )
    assert code == 0, err
    assert out == "check-in taken for bob: pain 3, ache\n"
    with Store.in_dir(tmp_path / "state", read_only=True) as store:
        (checkin,) = store.checkins()
    assert (checkin.runner, checkin.pain, checkin.kind) == ("bob", 3, "ache")


async def test_the_runner_command_chooses_who_runs_next(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    base = f"h{uuid.uuid4().hex[:6]}"
    settings = household_settings(mosquitto, tmp_path / "state", base)
    decks = '[[treadmills]]\nname = "garage"\n[[treadmills]]\nname = "loft"\n'
    config = cli_config(tmp_path, mosquitto, base, decks + '[[runners]]\nname = "alice"\n')
    async with home(None) as place, running(settings, place.world) as daemon:
        await until(lambda: daemon.bridge.connected, "the daemon online")
        code, out, err = await cli("runner", "loft", "Bob", "--config", config)
        on_loft = daemon.house.runner_on("loft")
    assert code == 0, err
    assert out == "loft: next run is bob's\n"
    assert on_loft == "bob"

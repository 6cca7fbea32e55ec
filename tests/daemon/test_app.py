"""The whole daemon on the virtual world against a real mosquitto: runs, prompts, commands.

Each test builds a virtual treadmill (and strap) in-process, runs the real `Daemon` with a
sped-up clock, and watches the broker with an ordinary MQTT subscriber, as a dashboard would.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.mqtt_client import Subscriber, publish, subscriber
from treadwell.daemon.app import Daemon, _Tick
from treadwell.daemon.clock import Clock
from treadwell.daemon.config import Settings
from treadwell.daemon.store import Store
from treadwell.drivers.codec.ftms import ControlOp, TreadmillData
from treadwell.drivers.events import TreadmillReading
from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig, VirtualTreadmill
from treadwell.drivers.virtual.world import VirtualWorld
from treadwell.rules import household
from treadwell.rules.model import RulesInputError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt

SPEEDUP = 120.0
TREADMILL_NAME = "Test Treadmill"
STRAP_NAME = "Test Strap"
# Seven minutes of running, then the belt stops: ~7 s of real time at SPEEDUP.
SHORT_RUN = RunProfile.of([(420.0, 9.0), (120.0, 0.0)])


def settings_for(
    broker: Mosquitto,
    state_dir: Path,
    *,
    base: str = "tw",
    back_pain: str = "ache",
    automation: bool = True,
    client_id: str = "tw-test",
    **rules: float,
) -> Settings:
    """Daemon settings for a test: the virtual devices by name, short rule timings."""
    return Settings(
        mqtt={"host": broker.host, "port": broker.port, "base_topic": base, "client_id": client_id},
        ble={"backend": "virtual", "speedup": SPEEDUP},
        treadmills=[
            {
                "name": "treadmill",
                "match_name": TREADMILL_NAME,
                "automation_allowed": automation,
                "max_incline_pct": 3.0,
            }
        ],
        straps=[{"name": "strap", "match_name": STRAP_NAME}],
        rules={
            "hydration_reminder_after_s": 120.0,
            "checkin_after_s": 240.0,
            # 1 s of real silence at 120x: a busy machine must not split a run.
            "stop_timeout_s": 120.0,
            **rules,
        },
        flags={"back_pain": back_pain},
        state_dir=state_dir,
    )


@contextlib.asynccontextmanager
async def virtual_devices(
    profile: RunProfile | None = SHORT_RUN,
) -> AsyncIterator[tuple[VirtualWorld, VirtualTreadmill]]:
    async with VirtualWorld(speedup=SPEEDUP) as world:
        treadmill = await world.add_treadmill(
            TreadmillConfig(name=TREADMILL_NAME, profile=profile, advertising_interval_ms=20)
        )
        await world.add_strap(
            StrapConfig(name=STRAP_NAME, follow=treadmill, advertising_interval_ms=20)
        )
        yield world, treadmill


@contextlib.asynccontextmanager
async def running(
    settings: Settings, world: VirtualWorld, speedup: float = SPEEDUP
) -> AsyncIterator[Daemon]:
    daemon = Daemon(settings, backend=world.backend, clock=Clock(speedup))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    try:
        yield daemon
    finally:
        stop.set()
        async with asyncio.timeout(15):
            await task


def prompts(sub: Subscriber, base: str = "tw") -> list[dict[str, Any]]:
    return sub.json_on(f"{base}/prompt")


def kinds(sub: Subscriber, base: str = "tw") -> list[object]:
    return [p["kind"] for p in prompts(sub, base)]


def has_kind(kind: str, base: str = "tw") -> Any:
    return lambda msgs: any(
        m.topic == f"{base}/prompt" and json.loads(m.payload)["kind"] == kind for m in msgs
    )


async def test_an_achy_run_gets_warmup_incline_set_on_the_treadmill_and_recovery_prompts(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscriber(mosquitto, "tw/#") as sub,
        virtual_devices() as (world, treadmill),
        running(settings_for(mosquitto, tmp_path), world),
    ):
        await sub.wait_for(has_kind("incline"), "the incline prompt")
        await sub.wait_for(
            lambda _: treadmill.incline_pct == pytest.approx(2.5), "the deck at 2.5%"
        )
        await sub.wait_for(has_kind("checkin"), "the check-in", timeout=30)

    sets = [r for r in treadmill.control_log if r.op == ControlOp.SET_TARGET_INCLINATION]
    assert [r.incline_pct for r in sets] == [2.5]
    assert not [r for r in treadmill.control_log if r.op == ControlOp.SET_TARGET_SPEED]
    assert kinds(sub) == ["warmup", "incline", "hydration", "stretch", "hydration", "checkin"]
    every = prompts(sub)
    assert len({p["id"] for p in every}) == len(every)
    for prompt in every:
        assert prompt["disclaimer"]
        assert prompt["created_at"].endswith("+00:00")
        # The warm-up comes before the belt moves: it belongs to no run yet.
        if prompt["kind"] == "warmup":
            assert prompt["run_id"] is None
            assert prompt["id"].startswith("prerun-")
        else:
            assert prompt["run_id"].startswith("run-")
    incline = next(p for p in every if p["kind"] == "incline")
    assert incline["suggested_incline_pct"] == 2.5
    assert all(m.qos == 1 and not m.retain for m in sub.on("tw/prompt"))
    states = sub.json_on("tw/treadmill/state")
    assert {
        "speed_kmh",
        "incline_pct",
        "total_distance_m",
        "elapsed_time_s",
        "heart_rate_bpm",
        "running",
        "connected",
        "run_id",
    } <= set(states[-1])
    assert any(s["running"] and s.get("suggested_incline_pct") == 2.5 for s in states)
    assert any(s["heart_rate_bpm"] for s in states)
    run = sub.json_on("tw/run")[-1]
    assert run["distance_m"] > 500
    assert run["incline_time_in_window_s"] > 0
    assert sub.on("tw/status")[-1].payload == b"offline"
    assert json.loads(sub.on("tw/flags")[-1].payload)["back_pain"] == "ache"


async def test_no_flag_means_no_incline_help_and_nothing_sent_to_the_treadmill(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscriber(mosquitto, "tw/#") as sub,
        virtual_devices() as (world, treadmill),
        running(settings_for(mosquitto, tmp_path, back_pain="none"), world),
    ):
        await sub.wait_for(has_kind("stretch"), "the stretch prompt", timeout=30)
    assert "incline" not in kinds(sub)
    assert "warmup" in kinds(sub)
    assert not [r for r in treadmill.control_log if r.op == ControlOp.SET_TARGET_INCLINATION]


async def test_a_red_flag_run_brings_the_stop_prompt_and_never_an_incline(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscriber(mosquitto, "tw/#") as sub,
        virtual_devices() as (world, treadmill),
        running(settings_for(mosquitto, tmp_path, back_pain="red"), world),
    ):
        await sub.wait_for(has_kind("stop_running"), "the stop-running prompt")
        await publish(mosquitto, "tw/treadmill/incline/set", b"2.5")
        await sub.wait_on("tw/error")
        await sub.wait_for(has_kind("hydration"), "the hydration prompt", timeout=30)
    assert "incline" not in kinds(sub)
    assert not [r for r in treadmill.control_log if r.op == ControlOp.SET_TARGET_INCLINATION]
    error = json.loads(sub.on("tw/error")[0].payload)
    assert error["topic"] == "tw/treadmill/incline/set"
    assert "red" in error["error"]


async def test_commands_change_flags_and_a_shooting_pain_checkin_raises_the_check_flag(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscriber(mosquitto, "tw/#") as sub,
        virtual_devices(profile=None) as (world, _treadmill),
        running(settings_for(mosquitto, tmp_path, back_pain="none"), world),
    ):
        await sub.wait_on("tw/flags")
        await publish(mosquitto, "tw/flags/set", b'{"back_pain": "ache", "days": 2}')
        await sub.wait_for(
            lambda _: any(f["back_pain"] == "ache" for f in sub.json_on("tw/flags")), "ache flag"
        )
        flags = [f for f in sub.json_on("tw/flags") if f["back_pain"] == "ache"][-1]
        assert flags["expires_at"] is not None
        await publish(mosquitto, "tw/flags/set", b'{"back_pain": "sore"}')
        await publish(mosquitto, "tw/checkin", b'{"pain": 11, "kind": "ache"}')
        await sub.wait_on("tw/error", 2)
        # Pain down the leg that is not sharp: get it checked soon, no need to stop.
        await publish(mosquitto, "tw/checkin", b'{"pain": 7, "kind": "radiating"}')
        await sub.wait_for(has_kind("get_checked"), "the get-checked prompt")
        await sub.wait_for(
            lambda _: any(f["back_pain"] == "check" for f in sub.json_on("tw/flags")),
            "the check flag",
        )
    assert "stop_running" not in kinds(sub)
    errors = [json.loads(m.payload) for m in sub.on("tw/error")]
    assert [e["topic"] for e in errors] == ["tw/flags/set", "tw/checkin"]
    with Store.in_dir(tmp_path, read_only=True) as store:
        assert [(c.pain, c.kind) for c in store.checkins()] == [(7, "radiating")]
        stored = store.load_flags()
        assert stored is not None
        assert stored.back_pain == "check"


async def test_a_dashboard_incline_within_limits_is_set_and_one_above_is_refused(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscriber(mosquitto, "tw/#") as sub,
        virtual_devices(profile=RunProfile.steady(30, 8.0)) as (world, treadmill),
        running(settings_for(mosquitto, tmp_path, back_pain="none"), world),
    ):
        await sub.wait_for(
            lambda _: any(s["connected"] for s in sub.json_on("tw/treadmill/state")),
            "the treadmill connected",
        )
        await publish(mosquitto, "tw/treadmill/incline/set", b"4.5")
        await sub.wait_on("tw/error")
        await publish(mosquitto, "tw/treadmill/incline/set", b'{"incline_pct": 1.5}')
        await sub.wait_for(lambda _: treadmill.incline_pct == pytest.approx(1.5), "deck at 1.5%")
    sets = [
        r.incline_pct for r in treadmill.control_log if r.op == ControlOp.SET_TARGET_INCLINATION
    ]
    assert sets == [1.5]
    assert "outside your limits" in json.loads(sub.on("tw/error")[0].payload)["error"]


async def test_scheduled_prompts_survive_a_daemon_restart_and_arrive_once(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = settings_for(
        mosquitto, tmp_path, hydration_reminder_after_s=600.0, checkin_after_s=660.0
    )
    async with subscriber(mosquitto, "tw/prompt") as sub, virtual_devices() as (world, _):
        async with running(settings, world):
            await sub.wait_for(has_kind("stretch"), "the stretch prompt", timeout=30)
        # Stopped before the reminder (10 demo minutes = 10 s) is due; a new daemon takes over.
        assert kinds(sub).count("hydration") == 1
        async with running(settings, world):
            await sub.wait_for(has_kind("checkin"), "the check-in", timeout=30)
            await asyncio.sleep(1)
    assert kinds(sub).count("hydration") == 2
    assert kinds(sub).count("checkin") == 1
    ids = [p["id"] for p in prompts(sub)]
    assert len(ids) == len(set(ids))


async def test_two_daemons_share_one_broker_without_interfering(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscriber(mosquitto, "gym-a/#", "gym-b/#") as sub,
        virtual_devices(profile=None) as (world, _),
    ):
        a = settings_for(mosquitto, tmp_path / "a", base="gym-a", client_id="tw-a")
        b = settings_for(mosquitto, tmp_path / "b", base="gym-b", client_id="tw-b")
        async with running(a, world), running(b, world):
            await sub.wait_on("gym-a/status")
            await sub.wait_on("gym-b/status")
            await publish(mosquitto, "gym-a/flags/set", b'{"back_pain": "red"}')
            await sub.wait_for(
                lambda _: any(f["back_pain"] == "red" for f in sub.json_on("gym-a/flags")),
                "gym-a red",
            )
            await asyncio.sleep(0.5)
        assert [m.payload for m in sub.on("gym-a/status")][:1] == [b"online"]
        assert [m.payload for m in sub.on("gym-b/status")][:1] == [b"online"]
    assert all(f["back_pain"] == "ache" for f in sub.json_on("gym-b/flags"))
    assert not sub.on("gym-b/error")


async def test_once_ready_the_startup_heap_is_frozen_out_of_collections_until_the_daemon_stops(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # A full collection walking the daemon's whole heap held the loop ~30 ms (bench/README).
    assert gc.get_freeze_count() == 0
    ready = asyncio.Event()
    async with virtual_devices(profile=None) as (world, _):
        daemon = Daemon(
            settings_for(mosquitto, tmp_path),
            backend=world.backend,
            clock=Clock(SPEEDUP),
            on_ready=ready.set,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        async with asyncio.timeout(30):
            await ready.wait()
        frozen = gc.get_freeze_count()
        stop.set()
        async with asyncio.timeout(15):
            await task
    assert frozen > 10_000  # modules, configuration, connections: what startup built
    assert gc.get_freeze_count() == 0  # given back: the next daemon in this process starts afresh


async def _until_quiet(daemon: Daemon) -> None:
    """Until the dispatcher waits for input and the sender has nothing to do."""
    async with asyncio.timeout(30):
        while not (daemon._inputs_in_order.waiting and not daemon.bridge.sender_woken):
            await asyncio.sleep(0.01)


def _deck_reading(speed_kmh: float, device: str = "treadmill") -> TreadmillReading:
    return TreadmillReading(device, TreadmillData(speed_kmh=speed_kmh, total_distance_m=5))


async def test_a_reading_that_finds_the_dispatcher_waiting_is_decided_before_its_callback_returns(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        virtual_devices(profile=None) as (world, _),
        running(settings_for(mosquitto, tmp_path), world) as daemon,
    ):
        decided: list[object] = []
        dispatch = daemon._inputs_in_order
        decide = dispatch._decide

        def recording(item: Any) -> Any:
            decided.append(item)
            return decide(item)

        dispatch._decide = recording
        await _until_quiet(daemon)
        first = _deck_reading(9.0)
        daemon._take(first)
        # Decided in the callback that brought it: no turn of the loop in between.
        assert decided[-1] is first
        assert daemon.channels["treadmill"].latest is first.data
        assert daemon._inputs_in_order.waiting  # and ready for the next one

        # Inputs already waiting go first: a reading behind them waits its turn.
        await _until_quiet(daemon)
        tick, second = _Tick(), _deck_reading(9.5)
        daemon._put(tick)
        daemon._take(second)
        assert second not in decided
        async with asyncio.timeout(30):
            while second not in decided:
                await asyncio.sleep(0.01)
        assert decided.index(tick) < decided.index(second)


async def test_a_reading_that_cannot_be_decided_is_reported_and_the_next_one_is_taken(
    mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        virtual_devices(profile=None) as (world, _),
        running(settings_for(mosquitto, tmp_path), world) as daemon,
    ):
        await _until_quiet(daemon)
        daemon._take(_deck_reading(9.0, device="no-such-treadmill"))
        assert "daemon: failed to handle" in caplog.text
        assert daemon._inputs_in_order.waiting
        good = _deck_reading(9.0)
        daemon._take(good)
        assert daemon.channels["treadmill"].latest is good.data
    # Stopped: a late notification is not decided any more (the store is closed).
    late = _deck_reading(9.5)
    daemon._take(late)
    assert daemon.channels["treadmill"].latest is good.data


def _steady(total_m: int, heart_rate_bpm: int = 150) -> TreadmillReading:
    data = TreadmillData(speed_kmh=9.0, total_distance_m=total_m, heart_rate_bpm=heart_rate_bpm)
    return TreadmillReading("treadmill", data)


async def _decided_everything(daemon: Daemon) -> None:
    """Until the held readings went to the rules with what came after them."""
    await _until_quiet(daemon)
    assert daemon._repeats.held == 0


@contextlib.asynccontextmanager
async def _a_run_in_real_time(mosquitto: Mosquitto, tmp_path: Path) -> AsyncIterator[Daemon]:
    """A daemon whose run was started by the test's own readings, handed in as a link would.

    The rules' clock runs at real speed (the repeat window is a second of it); no treadmill
    is connected.
    """
    settings = settings_for(mosquitto, tmp_path, run_start_s=1.0, stop_timeout_s=60.0)
    async with (
        VirtualWorld(speedup=1.0) as world,
        running(settings, world, speedup=1.0) as daemon,
    ):
        await _until_quiet(daemon)
        daemon._take(_steady(0))
        await asyncio.sleep(1.1)  # the belt kept moving for run_start_s: a run starts
        daemon._take(_steady(3))
        await _until_quiet(daemon)
        assert daemon.house.slot("treadmill").engine.running
        yield daemon


async def _raise_the_red_flag(mosquitto: Mosquitto, daemon: Daemon) -> None:
    """Set the default runner's flag to red over MQTT; return once the rules have it."""
    await publish(mosquitto, "tw/flags/set", b'{"back_pain": "red"}')
    async with asyncio.timeout(30):
        while daemon.house.runner("default").flags.back_pain.value != "red":
            await asyncio.sleep(0.01)


async def test_repeated_readings_reach_the_rules_folded_before_a_tick_or_a_command(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with _a_run_in_real_time(mosquitto, tmp_path) as daemon:

        def run_stats() -> tuple[int, int, float]:
            run = daemon.house.slot("treadmill").engine.session.run
            assert run is not None
            return run.stats.hr_sum, run.stats.hr_count, run.stats.distance_m

        assert run_stats() == (150, 1, 0.0)
        # Back to back (well within a second): each repeats the last decided one. (The
        # daemon's own tick may come in between at any moment: it only flushes sooner.)
        for total in range(4, 12):
            daemon._take(_steady(total))
        await _until_quiet(daemon)
        assert daemon._repeats.spared > 0
        daemon._put(_Tick())
        await _decided_everything(daemon)
        # As if each had been decided: eight heart rates, the odometer's 8 m.
        assert run_stats() == (150 * 9, 9, 8.0)

        for total in range(12, 15):
            daemon._take(_steady(total))
        await _raise_the_red_flag(mosquitto, daemon)
        await _decided_everything(daemon)
        assert run_stats() == (150 * 12, 12, 11.0)

        # A reading that differs goes to the rules after the held one, on its own.
        for total in range(15, 17):
            daemon._take(_steady(total))
        daemon._take(_steady(17, heart_rate_bpm=151))
        await _decided_everything(daemon)
        assert run_stats() == (150 * 14 + 151, 15, 14.0)


async def test_a_held_reading_that_cannot_be_decided_does_not_cost_the_command_behind_it(
    mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    async with _a_run_in_real_time(mosquitto, tmp_path) as daemon:
        # From here the rules refuse the treadmill's readings (a fault injected into the
        # household's evaluate: the daemon's handling of it is what is tested).
        real = household.evaluate

        def refusing(state: Any, order: Any, now: Any) -> Any:
            if isinstance(order, household.TreadmillEvent):
                raise RulesInputError("refused for the test")
            return real(state, order, now)

        monkeypatch.setattr(household, "evaluate", refusing)
        for total in range(4, 8):
            daemon._take(_steady(total))
        await _raise_the_red_flag(mosquitto, daemon)
        assert "daemon: failed to handle" in caplog.text
        assert daemon._repeats.held == 0

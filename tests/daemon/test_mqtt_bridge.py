"""The MQTT bridge against a real mosquitto: the topic contract, commands, outbox, discovery."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pytest

from tests.support.mqtt_client import publish, subscriber
from treadwell.daemon.discovery import build_device_discovery
from treadwell.daemon.messages import (
    CheckinCommand,
    Command,
    FlagsSetCommand,
    InclineSetCommand,
)
from treadwell.daemon.mqtt import (
    EXIT_BRIDGE_FAILED,
    BridgeFailedError,
    BridgeSettings,
    InsecureCredentialsError,
    MqttBridge,
)
from treadwell.daemon.outbox import Outbox
from treadwell.daemon.store import StateStoreError
from treadwell.drivers.errors import TreadwellError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto

WAIT_S = 15.0
SECRET = "s3cret-" + uuid.uuid4().hex[:6]


@dataclass
class Harness:
    """A bridge running in the test's loop, with the commands it passed on."""

    bridge: MqttBridge
    outbox: Outbox
    commands: list[Command]
    ha_online_calls: list[int]
    stop: asyncio.Event
    task: asyncio.Task[None]


def bridge_settings(broker: Mosquitto, base: str = "tw", **changes: object) -> BridgeSettings:
    settings = BridgeSettings(
        host=broker.host,
        port=broker.port,
        base_topic=base,
        client_id=f"treadwell-{base}",
        devices=("treadmill",),
        max_state_rate_hz=2.0,
        backoff_initial_s=0.05,
        backoff_max_s=0.5,
        ha_online_jitter_s=0.0,
    )
    return replace(settings, **changes)  # type: ignore[arg-type]


def discovery_for(base: str) -> Callable[[], list[tuple[str, bytes]]]:
    def build() -> list[tuple[str, bytes]]:
        return [(f"homeassistant/device/{base}_treadmill/config", json.dumps({"b": base}).encode())]

    return build


@contextlib.asynccontextmanager
async def running_bridge(
    settings: BridgeSettings,
    tmp_path: Path,
    *,
    wait: bool = True,
    on_command: Callable[[Command], None] | None = None,
) -> AsyncIterator[Harness]:
    commands: list[Command] = []
    ha_calls: list[int] = []
    with Outbox(tmp_path / f"outbox-{settings.base_topic}.sqlite") as outbox:
        bridge = MqttBridge(
            settings,
            outbox=outbox,
            on_command=on_command or commands.append,
            on_ha_online=lambda: ha_calls.append(1),
            discovery=discovery_for(settings.base_topic),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(bridge.run(stop))
        harness = Harness(bridge, outbox, commands, ha_calls, stop, task)
        try:
            if wait:
                async with asyncio.timeout(WAIT_S):
                    await bridge.wait_connected()
            yield harness
        finally:
            stop.set()
            async with asyncio.timeout(WAIT_S):
                await task


def prompt(n: int) -> bytes:
    return json.dumps({"id": f"p{n}", "event_type": "hydration", "n": n}).encode()


@pytest.mark.mqtt
async def test_status_is_online_while_running_and_offline_after_a_clean_stop(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscriber(mosquitto, "tw/status") as sub,
        running_bridge(bridge_settings(mosquitto), tmp_path) as harness,
    ):
        await sub.wait_for(lambda _: sub.on("tw/status")[-1:] != [], "online")
        assert sub.on("tw/status")[-1].payload == b"online"
        assert harness.bridge.connected
    async with subscriber(mosquitto, "tw/status") as late:
        [status] = await late.wait_on("tw/status")
    assert status.payload == b"offline"
    assert status.retain
    assert not harness.bridge.connected


_BRIDGE_SCRIPT = textwrap.dedent(
    """
    import asyncio, pathlib, sys
    from treadwell.daemon.mqtt import BridgeSettings, MqttBridge
    from treadwell.daemon.outbox import Outbox

    async def main() -> None:
        settings = BridgeSettings(host="127.0.0.1", port=int(sys.argv[1]), base_topic="tw",
                                  client_id="treadwell-killed")
        with Outbox(pathlib.Path(sys.argv[2])) as outbox:
            bridge = MqttBridge(settings, outbox=outbox, on_command=print)
            await bridge.run(asyncio.Event())

    asyncio.run(main())
    """
)


@pytest.mark.mqtt
async def test_the_last_will_says_offline_when_the_daemon_is_killed(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with subscriber(mosquitto, "tw/status") as sub:
        proc = subprocess.Popen(
            [sys.executable, "-c", _BRIDGE_SCRIPT, str(mosquitto.port), str(tmp_path / "o.db")]
        )
        try:
            await sub.wait_for(
                lambda _: any(m.payload == b"online" for m in sub.on("tw/status")), "online"
            )
            count = len(sub.on("tw/status"))
            os.kill(proc.pid, signal.SIGKILL)
            statuses = await sub.wait_on("tw/status", count + 1)
        finally:
            proc.kill()
            proc.wait()
    assert statuses[-1].payload == b"offline"
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.mqtt
async def test_online_is_published_again_after_a_broker_restart(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with running_bridge(bridge_settings(mosquitto), tmp_path) as harness:
        mosquitto.stop()
        async with asyncio.timeout(WAIT_S):
            while harness.bridge.connected:
                await asyncio.sleep(0.02)
        mosquitto.start()
        async with asyncio.timeout(WAIT_S):
            await harness.bridge.wait_connected()
        async with subscriber(mosquitto, "tw/status") as sub:
            [status] = await sub.wait_on("tw/status")
        assert status.payload == b"online"


@pytest.mark.mqtt
async def test_state_is_retained_and_coalesced_so_the_latest_wins(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscriber(mosquitto, "tw/treadmill/state") as sub,
        running_bridge(bridge_settings(mosquitto, max_state_rate_hz=5.0), tmp_path) as harness,
    ):
        started = time.monotonic()
        for n in range(200):
            harness.bridge.publish_state("treadmill", json.dumps({"n": n}).encode())
            await asyncio.sleep(0)
        await sub.wait_for(
            lambda _: [m.json() for m in sub.on("tw/treadmill/state")][-1:] == [{"n": 199}],
            "the last state",
        )
        elapsed = time.monotonic() - started
    seen = [m.json() for m in sub.on("tw/treadmill/state")]
    # 200 updates, coalesced to the rate limit (5 a second) however long the loop took.
    assert len(seen) <= 5.0 * elapsed + 1
    assert len(seen) < 200
    assert seen == sorted(seen, key=lambda d: d["n"])  # type: ignore[index]
    assert all(m.qos == 0 for m in sub.on("tw/treadmill/state"))
    async with subscriber(mosquitto, "tw/treadmill/state") as late:
        [retained] = await late.wait_on("tw/treadmill/state")
    assert retained.retain
    assert retained.json() == {"n": 199}


@pytest.mark.mqtt
async def test_a_state_waiting_for_its_slot_does_not_wake_a_sender_whose_timer_is_set(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # A slot every 5 s: the test's steps, on a busy machine, take far less.
    settings = bridge_settings(mosquitto, max_state_rate_hz=0.2)
    async with (
        subscriber(mosquitto, "tw/treadmill/state") as sub,
        running_bridge(settings, tmp_path) as harness,
    ):
        bridge = harness.bridge

        def woken() -> bool:
            return bridge.sender_woken

        await wait_until(lambda: bridge._idle is not None, "an idle sender")
        bridge.publish_state("treadmill", b'{"n": 0}')  # written at once: its slot is free
        assert not woken()
        bridge.publish_state("treadmill", b'{"n": 1}')  # its slot is 5 s away
        # The sender had no timer (nothing waited): it is woken to set one for that slot.
        assert woken()
        await wait_until(
            lambda: bridge._idle is not None and bridge._idle_until != math.inf, "a timer"
        )
        bridge.publish_state("treadmill", b'{"n": 2}')
        bridge.publish_state("treadmill", b'{"n": 2}')  # unchanged: dropped
        # Due no earlier than the timer fires: nothing for the sender to do before it does.
        assert not woken()
        await sub.wait_for(lambda _: len(sub.on("tw/treadmill/state")) == 2, "the slot's state")
        # An idle sender without a timer is woken as before.
        await wait_until(lambda: bridge._idle_until == math.inf, "no timer")
        bridge.publish_state("treadmill", b'{"n": 3}')
        assert woken()
    assert [m.json() for m in sub.on("tw/treadmill/state")][:2] == [{"n": 0}, {"n": 2}]


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Wait until `condition()` holds; fail (not hang) after `WAIT_S`."""
    try:
        async with asyncio.timeout(WAIT_S):
            while not condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


@pytest.mark.mqtt
async def test_prompts_go_out_with_qos_2_not_retained_in_order(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscriber(mosquitto, "tw/prompt", qos=2) as sub,
        running_bridge(bridge_settings(mosquitto), tmp_path) as harness,
    ):
        for n in range(30):
            harness.bridge.publish_prompt(f"p{n}", prompt(n))
        harness.bridge.publish_prompt("p3", prompt(3))  # the same id again: not re-sent
        harness.bridge.publish_prompt("end", prompt(99))
        received = await sub.wait_for(
            lambda _: any(m.json() == json.loads(prompt(99)) for m in sub.on("tw/prompt")),
            "the last prompt",
        )
        # The subscriber can see the last prompt before the daemon has the broker's PUBCOMP.
        await wait_until(lambda: harness.outbox.pending() == [], "every prompt marked sent")
    ns = [m.json()["n"] for m in received if m.topic == "tw/prompt"]  # type: ignore[index]
    assert ns == [*range(30), 99]
    assert all(m.qos == 2 and not m.retain for m in received)


@pytest.mark.mqtt
async def test_waiting_for_the_hand_over_returns_once_the_broker_has_every_prompt(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscriber(mosquitto, "tw/prompt", qos=2) as sub,
        running_bridge(bridge_settings(mosquitto), tmp_path) as harness,
    ):
        for n in range(5):
            harness.bridge.publish_prompt(f"p{n}", prompt(n))
        assert await harness.bridge.prompts_handed_over(WAIT_S)
        # Acknowledged by the broker means marked sent: nothing is left to send.
        assert harness.outbox.pending() == []
        await sub.wait_for(lambda _: len(sub.on("tw/prompt")) == 5, "all five prompts")


@pytest.mark.mqtt
async def test_waiting_for_the_hand_over_does_not_wait_while_the_broker_is_down(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    mosquitto.stop()
    async with running_bridge(bridge_settings(mosquitto), tmp_path, wait=False) as harness:
        harness.bridge.publish_prompt("p0", prompt(0))
        # An hour's limit: were it waited for, the test would time out instead.
        async with asyncio.timeout(WAIT_S):
            assert not await harness.bridge.prompts_handed_over(3600.0)
        assert [item.message_id for item in harness.outbox.pending()] == ["p0"]
    mosquitto.start()


@pytest.mark.mqtt
async def test_prompts_queued_while_the_broker_is_down_arrive_once_in_order(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # A persistent subscriber session, so the broker keeps what arrives while it is away.
    async with subscriber(mosquitto, "tw/prompt", identifier="persistent-sub", clean=False):
        pass
    async with running_bridge(bridge_settings(mosquitto), tmp_path) as harness:
        harness.bridge.publish_prompt("before", prompt(0))
        async with asyncio.timeout(WAIT_S):
            while harness.outbox.pending():
                await asyncio.sleep(0.02)
        mosquitto.stop()
        async with asyncio.timeout(WAIT_S):
            while harness.bridge.connected:
                await asyncio.sleep(0.02)
        for n in range(1, 21):
            harness.bridge.publish_prompt(f"down-{n}", prompt(n))
            harness.bridge.publish_state("treadmill", json.dumps({"n": n}).encode())
        await asyncio.sleep(0.3)  # several reconnect attempts fail meanwhile
        assert [item.message_id for item in harness.outbox.pending()] == [
            f"down-{n}" for n in range(1, 21)
        ]
        mosquitto.start()
        async with subscriber(
            mosquitto, "tw/prompt", "tw/treadmill/state", identifier="persistent-sub", clean=False
        ) as sub:
            harness.bridge.publish_prompt("sentinel", prompt(100))
            await sub.wait_for(
                lambda _: any(m.json() == json.loads(prompt(100)) for m in sub.on("tw/prompt")),
                "the sentinel prompt",
            )
            await sub.wait_on("tw/treadmill/state")
            # Flush order is prompts, then telemetry: one more prompt makes a second state
            # visible if the bridge had queued one.
            harness.bridge.publish_prompt("sentinel-2", prompt(101))
            await sub.wait_for(
                lambda _: any(m.json() == json.loads(prompt(101)) for m in sub.on("tw/prompt")),
                "the second sentinel prompt",
            )
            states = [m.json() for m in sub.on("tw/treadmill/state")]
        async with asyncio.timeout(WAIT_S):
            while harness.outbox.pending():
                await asyncio.sleep(0.02)
    ns = [m.json()["n"] for m in sub.on("tw/prompt")]  # type: ignore[index]
    # The persistent subscriber was offline when "before" went out: the broker kept it for
    # that session, across its own restart, and hands it over first.
    assert ns == [0, *range(1, 21), 100, 101]
    # Telemetry is not queued while offline: only the latest state goes out.
    assert states[-1:] == [{"n": 20}]
    assert len(states) == 1


@pytest.mark.mqtt
async def test_good_commands_reach_on_command(mosquitto: Mosquitto, tmp_path: Path) -> None:
    async with running_bridge(bridge_settings(mosquitto), tmp_path) as harness:
        await publish(mosquitto, "tw/flags/set", b'{"back_pain": "ache", "days": 5}')
        await publish(mosquitto, "tw/checkin", b'{"pain": 6, "kind": "sharp"}')
        await publish(mosquitto, "tw/treadmill/incline/set", b"2.5")
        await publish(mosquitto, "tw/treadmill/incline/set", b'{"incline_pct": 1}')
        async with asyncio.timeout(WAIT_S):
            while len(harness.commands) < 4:
                await asyncio.sleep(0.02)
    assert sorted(harness.commands, key=repr) == sorted(
        [
            FlagsSetCommand(back_pain="ache", days=5),
            CheckinCommand(pain=6, kind="sharp"),
            InclineSetCommand(device="treadmill", incline_pct=2.5),
            InclineSetCommand(device="treadmill", incline_pct=1.0),
        ],
        key=repr,
    )


BAD_COMMANDS = [
    ("tw/flags/set", b"not json", "malformed JSON"),
    ("tw/flags/set", b"\x00\xff\xfe", "not UTF-8"),
    ("tw/flags/set", b'{"back_pain": 3}', "back_pain: Input should be"),
    ("tw/flags/set", b'{"back_pain": "ache", "days": 1000}', "days: Input should be less"),
    ("tw/checkin", b'{"pain": 3, "kind": "ache", "extra": 1}', "extra: Extra inputs"),
    ("tw/checkin", b'{"pain": "3", "kind": "ache"}', "pain: Input should be a valid integer"),
    ("tw/treadmill/incline/set", b"NaN", "NaN is not a number"),
    ("tw/treadmill/incline/set", b"99", "incline_pct: Input should be less"),
    ("tw/nope/incline/set", b"2", "unknown device"),
    ("tw/checkin", b"x" * 5000, "limit is 4096"),
]


@pytest.mark.mqtt
async def test_every_bad_command_is_reported_and_changes_nothing(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscriber(mosquitto, "tw/error") as sub,
        running_bridge(bridge_settings(mosquitto), tmp_path) as harness,
    ):
        for topic, payload, _error in BAD_COMMANDS:
            await publish(mosquitto, topic, payload)
        errors = await sub.wait_on("tw/error", len(BAD_COMMANDS))
        # The bridge keeps running: a good command after the bad ones still works.
        await publish(mosquitto, "tw/checkin", b'{"pain": 1, "kind": "none"}')
        async with asyncio.timeout(WAIT_S):
            while not harness.commands:
                await asyncio.sleep(0.02)
        assert harness.commands == [CheckinCommand(pain=1, kind="none")]
    # Sent one after the other with QoS 1, so they are received and reported in order.
    for (topic, _payload, error), message in zip(BAD_COMMANDS, errors, strict=True):
        report = message.json()
        assert isinstance(report, dict)
        assert set(report) == {"topic", "error", "received_at"}
        assert report["topic"] == topic
        assert error in report["error"]
        assert report["received_at"].endswith("+00:00")


async def retained_on(broker: Mosquitto, topic: str) -> list[bytes]:
    """What the broker retains on `topic`: a marker published after subscribing bounds the wait."""
    marker = f"test/marker-{uuid.uuid4().hex[:8]}"
    async with subscriber(broker, topic, marker) as sub:
        await publish(broker, marker, b"")
        await sub.wait_on(marker)
    return [m.payload for m in sub.on(topic) if m.retain]


@pytest.mark.mqtt
async def test_what_is_queued_when_a_clean_stop_comes_still_reaches_the_broker(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with running_bridge(bridge_settings(mosquitto), tmp_path) as harness:
        # Queued and stopped in one step: the sender has not had a turn in between.
        for n in range(20):
            harness.bridge.publish_retained(f"tw/run-{n}", f"summary {n}".encode())
        harness.bridge.publish_prompt("last", prompt(1))
        harness.stop.set()
        async with asyncio.timeout(WAIT_S):
            await harness.task
        assert harness.outbox.pending() == []  # the prompt was acknowledged before offline
    assert await retained_on(mosquitto, "tw/run-19") == [b"summary 19"]
    assert await retained_on(mosquitto, "tw/status") == [b"offline"]


@pytest.mark.mqtt
async def test_a_retained_command_replayed_on_subscribe_is_refused_and_cleared(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    await publish(mosquitto, "tw/flags/set", b'{"back_pain": "red"}', retain=True)
    async with (
        subscriber(mosquitto, "tw/error") as sub,
        running_bridge(bridge_settings(mosquitto), tmp_path) as harness,
    ):
        [report] = await sub.wait_on("tw/error")
        assert "retained" in report.json()["error"]  # type: ignore[index]
        assert "cleared" in report.json()["error"]  # type: ignore[index]
        await wait_until(lambda: harness.bridge.connected, "connected")
        assert harness.commands == []
    assert await retained_on(mosquitto, "tw/flags/set") == []


@pytest.mark.mqtt
async def test_a_retained_command_sent_while_connected_is_applied_once_and_cleared(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = bridge_settings(mosquitto)
    async with (
        subscriber(mosquitto, "tw/flags/set") as watch,
        running_bridge(settings, tmp_path) as harness,
    ):
        # Live delivery: the broker clears the retain flag, so the bridge cannot tell.
        await publish(mosquitto, "tw/flags/set", b'{"back_pain": "red"}', retain=True)
        await wait_until(lambda: harness.commands != [], "the command")
        # The bridge clears the retained copy: an empty retained message on the same topic.
        await watch.wait_for(
            lambda _: [m.payload for m in watch.on("tw/flags/set")][-1:] == [b""], "the clearing"
        )
        assert harness.commands == [FlagsSetCommand(back_pain="red")]
    assert await retained_on(mosquitto, "tw/flags/set") == []
    # A restart does not see it again: the first report is the marker's, not a retained one.
    async with (
        subscriber(mosquitto, "tw/error") as errors,
        running_bridge(settings, tmp_path) as again,
    ):
        await publish(mosquitto, "tw/checkin", b"marker")
        [report] = await errors.wait_on("tw/error")
        assert report.json()["topic"] == "tw/checkin"  # type: ignore[index]
        assert again.commands == []


@pytest.mark.mqtt
async def test_an_unexpected_error_publishes_offline_and_stops_the_bridge_with_one_line(
    mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(command: Command) -> None:
        raise RuntimeError(f"a bug handling {type(command).__name__}")

    with Outbox(tmp_path / "crash.sqlite") as outbox:
        bridge = MqttBridge(bridge_settings(mosquitto), outbox=outbox, on_command=crash)
        stop = asyncio.Event()
        task = asyncio.create_task(bridge.run(stop))
        async with asyncio.timeout(WAIT_S):
            await bridge.wait_connected()
        await publish(mosquitto, "tw/checkin", b'{"pain": 1, "kind": "none"}')
        with pytest.raises(BridgeFailedError, match="RuntimeError: a bug handling CheckinCommand"):
            async with asyncio.timeout(WAIT_S):
                await task
    assert not bridge.connected
    async with subscriber(mosquitto, "tw/status") as late:
        [status] = await late.wait_on("tw/status")
    assert (status.payload, status.retain) == (b"offline", True)
    lines = [r for r in caplog.records if r.levelno >= logging.CRITICAL]
    assert [r.getMessage() for r in lines] == [
        "MQTT: stopping on an unexpected error, status set offline:"
        " RuntimeError: a bug handling CheckinCommand"
    ]
    assert all(r.exc_info is None for r in caplog.records if r.levelno >= logging.WARNING)
    assert EXIT_BRIDGE_FAILED == 70  # documented in docs/mqtt.md


@pytest.mark.mqtt
async def test_two_bridges_with_one_client_id_are_detected_and_back_off(
    mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = bridge_settings(mosquitto, client_id="cloned-pi", backoff_max_s=2.0)

    def warned() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "another client is using" in r.getMessage()]

    def delays() -> list[float]:
        found = (
            re.search(r"(?:reconnecting|retrying) in ([0-9.]+) s", r.getMessage())
            for r in caplog.records
        )
        return [float(m.group(1)) for m in found if m]

    async with (
        running_bridge(settings, tmp_path),
        running_bridge(replace(settings, base_topic="tw2"), tmp_path, wait=False),
    ):
        await wait_until(lambda: len(warned()) >= 1, "the duplicate client id warning")
        # Once suspected, the delay doubles instead of restarting at 0.05 s on each connect.
        await wait_until(lambda: max(delays(), default=0.0) >= 0.4, "a longer reconnect delay")
    [first, *_] = warned()
    assert first.levelno == logging.ERROR
    assert "'cloned-pi'" in first.getMessage()
    assert "[mqtt] client_id" in first.getMessage()
    assert max(delays()) <= 2.0


@pytest.mark.mqtt
async def test_a_command_the_daemon_refuses_is_reported(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    def refuse(command: Command) -> None:
        raise TreadwellError(f"incline {command} is above this treadmill's maximum")

    async with (
        subscriber(mosquitto, "tw/error") as sub,
        running_bridge(bridge_settings(mosquitto), tmp_path, on_command=refuse),
    ):
        await publish(mosquitto, "tw/treadmill/incline/set", b"30")
        [report] = await sub.wait_on("tw/error")
    assert "above this treadmill's maximum" in report.json()["error"]  # type: ignore[index]


@pytest.mark.mqtt
async def test_discovery_is_published_on_connect_and_again_when_home_assistant_comes_online(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    topic = "homeassistant/device/tw_treadmill/config"
    async with running_bridge(bridge_settings(mosquitto), tmp_path) as harness:
        harness.bridge.publish_retained("tw/flags", b'{"back_pain": "ache"}')
        harness.bridge.publish_state("treadmill", b'{"n": 1}')
        async with subscriber(mosquitto, topic, "tw/flags", "tw/treadmill/state") as sub:
            [first] = await sub.wait_on(topic)
            assert first.retain
            assert first.qos == 1
            await sub.wait_on("tw/flags")
            await sub.wait_on("tw/treadmill/state")
            await publish(mosquitto, "homeassistant/status", b"offline")
            await publish(mosquitto, "homeassistant/status", b"online")
            configs = await sub.wait_on(topic, 2)
            # After discovery, retained state and the latest telemetry are sent again too.
            await sub.wait_on("tw/flags", 2)
            await sub.wait_on("tw/treadmill/state", 2)
        assert configs[1].json() == {"b": "tw"}
        assert harness.ha_online_calls == [1]


@pytest.mark.mqtt
async def test_availability_of_a_treadmill_is_retained(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with running_bridge(bridge_settings(mosquitto), tmp_path) as harness:
        harness.bridge.set_device_availability("treadmill", online=True)
        harness.bridge.set_device_availability("treadmill", online=False)
        async with subscriber(mosquitto, "tw/treadmill/availability") as sub:
            await sub.wait_for(
                lambda _: (
                    [m.payload for m in sub.on("tw/treadmill/availability")][-1:] == [b"offline"]
                ),
                "offline",
            )


@pytest.mark.mqtt
async def test_two_bridges_on_one_broker_do_not_interfere(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        subscriber(mosquitto, "#") as sub,
        running_bridge(bridge_settings(mosquitto, base="gym-a"), tmp_path) as a,
        running_bridge(bridge_settings(mosquitto, base="gym-b"), tmp_path) as b,
    ):
        a.bridge.publish_state("treadmill", b'{"who": "a"}')
        b.bridge.publish_state("treadmill", b'{"who": "b"}')
        a.bridge.publish_prompt("same-id", b'{"who": "a"}')
        b.bridge.publish_prompt("same-id", b'{"who": "b"}')
        await publish(mosquitto, "gym-a/checkin", b'{"pain": 2, "kind": "ache"}')
        await publish(mosquitto, "gym-b/flags/set", b'{"back_pain": "none"}')
        await sub.wait_on("gym-a/prompt")
        await sub.wait_on("gym-b/prompt")
        await sub.wait_on("gym-a/treadmill/state")
        await sub.wait_on("gym-b/treadmill/state")
        async with asyncio.timeout(WAIT_S):
            while not (a.commands and b.commands):
                await asyncio.sleep(0.02)
        assert a.commands == [CheckinCommand(pain=2, kind="ache")]
        assert b.commands == [FlagsSetCommand(back_pain="none")]
        assert a.bridge.connected
        assert b.bridge.connected
    assert sub.on("gym-a/prompt")[0].json() == {"who": "a"}
    assert sub.on("gym-b/prompt")[0].json() == {"who": "b"}
    assert sub.on("gym-a/treadmill/state")[0].json() == {"who": "a"}
    assert sub.on("gym-b/treadmill/state")[0].json() == {"who": "b"}
    assert [m.payload for m in sub.on("gym-a/status")][:1] == [b"online"]
    assert [m.payload for m in sub.on("gym-b/status")][:1] == [b"online"]
    assert sub.on("gym-a/error") == []
    assert sub.on("gym-b/error") == []


@pytest.mark.mqtt
async def test_the_bridge_keeps_retrying_until_the_broker_appears(
    mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mosquitto.stop()
    caplog.set_level(logging.INFO, logger="treadwell.daemon.mqtt")
    async with running_bridge(bridge_settings(mosquitto), tmp_path, wait=False) as harness:
        harness.bridge.publish_prompt("early", prompt(1))
        async with asyncio.timeout(WAIT_S):
            while sum("reconnecting in" in r.message for r in caplog.records) < 3:
                await asyncio.sleep(0.02)
        assert not harness.bridge.connected
        mosquitto.start()
        async with asyncio.timeout(WAIT_S):
            await harness.bridge.wait_connected()
            while harness.outbox.pending():
                await asyncio.sleep(0.02)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings
    assert any("connected to" in r.message for r in caplog.records if r.levelno == logging.INFO)


@pytest.mark.mqtt
async def test_every_topic_discovery_reads_is_one_the_bridge_publishes(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    _, payload = build_device_discovery(
        base="tw",
        discovery_prefix="homeassistant",
        daemon_id="gym",
        device_slug="treadmill",
        device_name="Treadmill",
        sw_version="0.1.0",
        incline_min=0.0,
        incline_max=15.0,
        incline_step=0.5,
    )
    read = set()
    for component in payload["components"].values():
        read.add(component["state_topic"])
        read.update(a["topic"] for a in component["availability"])
    settings_ = bridge_settings(mosquitto)
    async with subscriber(mosquitto, "tw/#") as sub:
        with Outbox(tmp_path / "o.sqlite") as outbox:
            bridge = MqttBridge(settings_, outbox=outbox, on_command=print)
            stop = asyncio.Event()
            task = asyncio.create_task(bridge.run(stop))
            bridge.publish_state("treadmill", b"{}")
            bridge.set_device_availability("treadmill", online=True)
            bridge.publish_retained("tw/flags", b'{"back_pain": "none"}')
            bridge.publish_prompt("p1", b'{"event_type": "warmup"}')
            await sub.wait_for(lambda _: {m.topic for m in sub.messages} >= read, str(read))
            stop.set()
            async with asyncio.timeout(WAIT_S):
                await task


@pytest.mark.parametrize(
    ("host", "tls", "allow"),
    [("192.0.2.10", False, False), ("broker.example", False, False), ("::2", False, False)],
)
def test_credentials_over_plain_tcp_to_another_host_are_refused(
    tmp_path: Path, host: str, tls: bool, allow: bool
) -> None:
    settings = BridgeSettings(
        host=host, username="gym", password=SECRET, tls=tls, allow_insecure_credentials=allow
    )
    with Outbox(tmp_path / "o.sqlite") as outbox, pytest.raises(InsecureCredentialsError) as info:
        MqttBridge(settings, outbox=outbox, on_command=print)
    assert SECRET not in str(info.value)
    assert "tls" in str(info.value)
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("host", "tls", "allow"),
    [
        ("127.0.0.1", False, False),
        ("localhost", False, False),
        ("::1", False, False),
        ("broker.example", True, False),
        ("192.0.2.10", False, True),
    ],
)
def test_credentials_are_allowed_over_tls_to_loopback_or_when_allowed(
    tmp_path: Path, host: str, tls: bool, allow: bool
) -> None:
    settings = BridgeSettings(
        host=host, username="gym", password=SECRET, tls=tls, allow_insecure_credentials=allow
    )
    with Outbox(tmp_path / "o.sqlite") as outbox:
        MqttBridge(settings, outbox=outbox, on_command=print)


@pytest.mark.mqtt
async def test_prompts_still_go_out_when_the_outbox_cannot_store_them(
    mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        subscriber(mosquitto, "tw/prompt") as sub,
        running_bridge(bridge_settings(mosquitto), tmp_path) as harness,
    ):
        harness.outbox.close()  # from here on every outbox call fails, like a lost disk
        harness.bridge.publish_prompt("p1", prompt(1))
        harness.bridge.publish_prompt("p1", prompt(1))  # still each id once
        harness.bridge.publish_prompt("p2", prompt(2))
        await sub.wait_on("tw/prompt", 2)
        harness.bridge.publish_prompt("p3", prompt(3))
        await sub.wait_on("tw/prompt", 3)
    assert [m.json()["n"] for m in sub.on("tw/prompt")] == [1, 2, 3]  # type: ignore[index]
    assert any(
        "kept in memory" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records
    )


class _CannotMarkSent(Outbox):
    """An outbox on a disk that filled up after the prompt was stored."""

    def mark_sent(self, seq: int) -> None:
        raise StateStoreError(f"cannot write the prompt outbox: database or disk is full ({seq})")


@pytest.mark.mqtt
async def test_a_prompt_that_cannot_be_marked_sent_is_not_sent_again(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    with _CannotMarkSent(tmp_path / "full.sqlite") as outbox:
        bridge = MqttBridge(bridge_settings(mosquitto), outbox=outbox, on_command=print)
        stop = asyncio.Event()
        task = asyncio.create_task(bridge.run(stop))
        async with subscriber(mosquitto, "tw/prompt") as sub:
            bridge.publish_prompt("p1", prompt(1))
            await sub.wait_on("tw/prompt")
            bridge.publish_prompt("p2", prompt(2))
            await sub.wait_on("tw/prompt", 2)
            bridge.publish_prompt("p3", prompt(3))
            await sub.wait_on("tw/prompt", 3)
        stop.set()
        async with asyncio.timeout(WAIT_S):
            await task
        assert [item.message_id for item in outbox.pending()] == ["p1", "p2", "p3"]
    assert [m.json()["n"] for m in sub.on("tw/prompt")] == [1, 2, 3]  # type: ignore[index]


def test_settings_map_from_the_daemon_configuration() -> None:
    from pydantic import SecretStr

    from treadwell.daemon.config import MqttSettings

    config = MqttSettings(
        host="broker.lan",
        port=8883,
        username="gym",
        password=SecretStr(SECRET),
        tls=True,
        base_topic="home/tw",
        client_id="treadwell-garage",
        discovery_prefix="ha",
        keepalive=45,
        max_state_rate_hz=1.0,
    )
    settings = BridgeSettings.from_config(config, devices=("treadmill", "walking_pad"))
    assert settings == BridgeSettings(
        host="broker.lan",
        port=8883,
        username="gym",
        password=SECRET,
        tls=True,
        base_topic="home/tw",
        client_id="treadwell-garage",
        discovery_prefix="ha",
        keepalive=45,
        devices=("treadmill", "walking_pad"),
        max_state_rate_hz=1.0,
    )
    assert SECRET not in repr(settings)

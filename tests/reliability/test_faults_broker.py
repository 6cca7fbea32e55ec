"""A broker that stops and restarts mid-run and during the post-run burst loses no prompt.

The daemon runs as a real subprocess on the virtual backend; the broker is a real mosquitto
stopped with SIGTERM and started again on the same port and store. A dashboard with a
persistent session records what arrives. The prompts the daemon raised (from its log) must
arrive at the dashboard exactly once each, in the order they were raised.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.reliability.harness import (
    DaemonProcess,
    daemon_config,
    duplicates,
    recording,
)
from tests.support.mqtt_client import publish, subscriber
from treadwell.daemon.mqtt import EXIT_BRIDGE_FAILED

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.reliability, pytest.mark.mqtt]


@pytest.fixture
def daemon(broker: Mosquitto, tmp_path: Path) -> Iterator[DaemonProcess]:
    # Reminder and check-in 2 and 4 s (real) after the run: due while the broker is down.
    config = daemon_config(
        broker,
        tmp_path / "state",
        rules={
            "hydration_reminder_after_s": 240.0,
            "checkin_after_s": 480.0,
        },
    )
    process = DaemonProcess(config, tmp_path)
    try:
        yield process
    finally:
        process.close()


async def test_broker_restarts_mid_run_and_in_the_post_run_burst_lose_no_prompt_and_repeat_none(
    broker: Mosquitto, daemon: DaemonProcess
) -> None:
    async with recording(broker, "tw/prompt", "tw/status", "tw/treadmill/state") as dash:
        daemon.start()
        await daemon.wait_log(r"\(warmup\)")
        broker.stop()  # 1: mid-run, right after the warm-up prompt was raised
        await daemon.wait_log(r"\(incline\)")
        broker.start()
        await daemon.wait_log(r"run \S+ ended")
        broker.stop()  # 2: the post-run burst (hydration, stretch) goes to the outbox
        await daemon.wait_log(r"\(hydration\) is due")  # a scheduled prompt, broker still down
        broker.start()
        await dash.wait_for(lambda: len(dash.prompt_ids()) >= 1, "a prompt after the restart")
        broker.restart()  # 3: while the backlog drains
        await daemon.wait_log(r"\(checkin\) is due")
        expected = [prompt_id for prompt_id, _ in daemon.prompts_raised()]
        await dash.wait_for(lambda: set(expected) <= set(dash.prompt_ids()), f"all of {expected}")
        await asyncio.sleep(1.0)  # a duplicate would show up now
        sessions_before_last = dash.sessions - 1
        await dash.wait_for(
            lambda: any(m.session > sessions_before_last for m in dash.on("tw/treadmill/state")),
            "a state message after the last restart",
        )
        assert dash.on("tw/status")[-1].payload == b"online"
        assert daemon.stop() == 0

    kinds = [kind for _, kind in daemon.prompts_raised()]
    assert kinds[:2] == ["warmup", "incline"]
    assert {"hydration", "stretch", "checkin"} <= set(kinds)
    assert duplicates(dash.prompt_ids()) == []
    assert dash.prompt_ids() == expected
    # Treadwell itself logged no error (aiomqtt may log a closed socket's callback, see README).
    assert not re.search(r"ERROR\s+treadwell", daemon.log())


# The fault: command parsing hits a bug. Any non-MQTT exception in the session takes this path.
_FAULTY_DAEMON = """
import sys

import treadwell.daemon.mqtt_core as core
from treadwell.daemon.cli import main


def broken(*args: object, **kwargs: object) -> object:
    raise RuntimeError("injected fault")


core.parse_command = broken
sys.exit(main(sys.argv[1:]))
"""


class _FaultyDaemon(DaemonProcess):
    def command(self) -> list[str]:
        return [sys.executable, "-c", _FAULTY_DAEMON, "run", "--config", str(self.config_path)]


async def test_an_unexpected_error_in_the_mqtt_session_sets_offline_and_exits_70(
    broker: Mosquitto, tmp_path: Path
) -> None:
    daemon = _FaultyDaemon(daemon_config(broker, tmp_path / "state"), tmp_path)
    try:
        async with subscriber(broker, "tw/status") as status:
            proc = daemon.start()
            await status.wait_for(
                lambda _: [m.payload for m in status.on("tw/status")][-1:] == [b"online"],
                "online",
            )
            await publish(broker, "tw/checkin", b'{"pain": 1, "kind": "none"}')
            try:
                code = await asyncio.to_thread(proc.wait, 60)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the daemon did not stop:\n{daemon.log()[-4000:]}")
        assert code == EXIT_BRIDGE_FAILED
        async with subscriber(broker, "tw/status") as late:
            [retained] = await late.wait_on("tw/status")
        assert (retained.payload, retained.retain) == (b"offline", True)
        log = daemon.log()
        # One line, and no traceback of it (the virtual Bluetooth world may log its own
        # teardown, which is not what this test is about).
        assert log.count("injected fault") == 1
        assert (
            len(re.findall(r"CRITICAL.*unexpected error.*RuntimeError: injected fault", log)) == 1
        )
    finally:
        daemon.close()

"""The `flags`, `checkin` and `history` commands, run as real processes against real state."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import aiomqtt
import pytest

from tests.support.mosquitto import free_port
from treadwell.daemon.messages import CheckinCommand, FlagsSetCommand
from treadwell.daemon.store import Store

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from tests.support.mosquitto import Mosquitto

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run on a fresh loop in a worker thread (keeps pytest-asyncio's main loop untouched)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "LANG", "PYTHONPATH"}}
    return {**keep, "HOME": str(home), "TZ": "UTC"}


def config_for(tmp_path: Path, host: str, port: int, base: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[mqtt]\nhost = "{host}"\nport = {port}\n'
        f'base_topic = "{base}"\nclient_id = "tw-{base}"\n'
    )
    return path


async def treadwell(env: dict[str, str], *args: str) -> Result:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "treadwell.daemon",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def treadwell_sync(env: dict[str, str], *args: str) -> Result:
    return run_async(treadwell(env, *args))


@pytest.fixture
def base() -> str:
    return f"tw-test-{uuid.uuid4().hex[:8]}"


# -- checkin ---------------------------------------------------------------------------------


async def _confirming_daemon(
    client: aiomqtt.Client, base: str, *, confirm: bool
) -> aiomqtt.Message:
    """Play the daemon: take one check-in and (if `confirm`) confirm it as the daemon does."""
    async with asyncio.timeout(30):
        message = await anext(aiter(client.messages))
    if confirm:
        assert isinstance(message.payload, bytes)
        command = CheckinCommand.model_validate_json(message.payload)
        payload = json.dumps(
            {"runner": "default", "pain": command.pain, "kinds": list(command.kinds)}
        )
        topic = f"{base}/runners/default/checkin/last"
        await client.publish(topic, payload, qos=1, retain=True)
    return message


@pytest.mark.mqtt
def test_checkin_is_sent_with_qos_1_and_waits_for_the_daemons_confirmation(
    mosquitto: Mosquitto, tmp_path: Path, env: dict[str, str], base: str
) -> None:
    config = config_for(tmp_path, mosquitto.host, mosquitto.port, base)

    async def scenario() -> tuple[Result, aiomqtt.Message]:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as daemon:
            await daemon.subscribe(f"{base}/runners/default/checkin", qos=1)
            await daemon.publish(f"{base}/status", b"online", qos=1, retain=True)
            # An earlier check-in's retained confirmation must not count as this one's.
            stale = json.dumps({"runner": "default", "pain": 6, "kinds": ["sharp", "radiating"]})
            topic = f"{base}/runners/default/checkin/last"
            await daemon.publish(topic, stale, qos=1, retain=True)
            command = treadwell(
                env, "checkin", "--pain", "6", "--kind", "sharp", "--kind", "radiating",
                "--config", str(config),
            )  # fmt: skip
            result, message = await asyncio.gather(
                command, _confirming_daemon(daemon, base, confirm=True)
            )
        return result, message

    result, message = run_async(scenario())
    assert result.code == 0, result.err
    assert result.out == "check-in taken for default: pain 6, sharp, radiating\n"
    assert message.qos == 1
    assert isinstance(message.payload, bytes)
    assert CheckinCommand.model_validate_json(message.payload) == CheckinCommand(
        pain=6, kind="sharp", kinds=("sharp", "radiating")
    )


@pytest.mark.mqtt
def test_checkin_without_a_confirmation_fails_clearly(
    mosquitto: Mosquitto, tmp_path: Path, env: dict[str, str], base: str
) -> None:
    config = config_for(tmp_path, mosquitto.host, mosquitto.port, base)

    async def scenario() -> Result:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as daemon:
            await daemon.subscribe(f"{base}/runners/default/checkin", qos=1)
            await daemon.publish(f"{base}/status", b"online", qos=1, retain=True)
            command = treadwell(
                env, "checkin", "--pain", "2", "--kind", "ache", "--timeout", "2",
                "--config", str(config),
            )  # fmt: skip
            result, _ = await asyncio.gather(
                command, _confirming_daemon(daemon, base, confirm=False)
            )
        return result

    result = run_async(scenario())
    assert result.code == 1
    assert "did not confirm the check-in" in result.err


@pytest.mark.mqtt
@pytest.mark.parametrize("status", [None, b"offline"])
def test_checkin_without_an_online_daemon_fails_and_sends_nothing(
    mosquitto: Mosquitto, tmp_path: Path, env: dict[str, str], base: str, status: bytes | None
) -> None:
    config = config_for(tmp_path, mosquitto.host, mosquitto.port, base)

    async def scenario() -> tuple[Result, list[aiomqtt.Message]]:
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as watcher:
            await watcher.subscribe(f"{base}/runners/default/checkin", qos=1)
            if status is not None:
                await watcher.publish(f"{base}/status", status, qos=1, retain=True)
            result = await treadwell(
                env,
                "checkin",
                "--pain",
                "2",
                "--kind",
                "ache",
                "--timeout",
                "2",
                "--config",
                str(config),
            )
            # The command has ended: anything it had sent is with the broker by now.
            await watcher.publish(f"{base}/runners/default/checkin", b"marker", qos=1)
            seen = []
            async with asyncio.timeout(10):
                async for message in watcher.messages:
                    if message.payload == b"marker":
                        break
                    seen.append(message)
        return result, seen

    result, seen = run_async(scenario())
    assert result.code == 1
    assert result.out == ""
    assert len(result.err.splitlines()) == 1
    assert "the daemon is not online" in result.err
    assert "check-in not sent" in result.err
    assert seen == []


@pytest.mark.parametrize(
    "args",
    [
        ["--pain", "11", "--kind", "ache"],
        ["--pain", "-1", "--kind", "ache"],
        ["--pain", "three", "--kind", "ache"],
        ["--pain", "3", "--kind", "sore"],
        ["--pain", "3"],
    ],
)
def test_checkin_rejects_bad_input_before_sending(env: dict[str, str], args: list[str]) -> None:
    result = treadwell_sync(env, "checkin", *args)
    assert result.code == 2
    assert "treadwell checkin: error:" in result.err


# -- flags --------------------------------------------------------------------------------------


async def play_daemon(host: str, port: int, base: str, seen: list[dict[str, Any]]) -> None:
    """Answer the default runner's flag command as the daemon does: the retained state."""
    async with aiomqtt.Client(host, port) as client:
        await client.subscribe(f"{base}/runners/default/flags/set", qos=1)
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            command = json.loads(message.payload)
            seen.append(command)
            days = command.get("days")
            expires = None
            if days is not None:
                expires = (datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=days)).isoformat()
            state = {"back_pain": command["back_pain"], "expires_at": expires}
            topic = f"{base}/runners/default/flags"
            await client.publish(topic, json.dumps(state), qos=1, retain=True)


async def retain_flags(host: str, port: int, base: str, state: dict[str, Any]) -> None:
    async with aiomqtt.Client(host, port) as client:
        topic = f"{base}/runners/default/flags"
        await client.publish(topic, json.dumps(state), qos=1, retain=True)


@pytest.mark.mqtt
def test_flags_set_waits_for_the_daemon_to_confirm(
    mosquitto: Mosquitto, tmp_path: Path, env: dict[str, str], base: str
) -> None:
    config = config_for(tmp_path, mosquitto.host, mosquitto.port, base)
    seen: list[dict[str, Any]] = []

    async def scenario() -> Result:
        # A stale retained state that already says "ache" must not count as the answer.
        stale = {"back_pain": "ache", "expires_at": None}
        await retain_flags(mosquitto.host, mosquitto.port, base, stale)
        daemon = asyncio.create_task(play_daemon(mosquitto.host, mosquitto.port, base, seen))
        await asyncio.sleep(0.2)  # let the stand-in subscribe
        try:
            return await treadwell(
                env, "flags", "set", "ache", "--days", "3", "--config", str(config)
            )
        finally:
            daemon.cancel()

    result = run_async(scenario())
    assert result.code == 0, result.err
    assert result.out == "back pain flag: ache (until 2026-03-04 00:00)\n"
    assert [FlagsSetCommand.model_validate(c) for c in seen] == [
        FlagsSetCommand(back_pain="ache", days=3)
    ]


@pytest.mark.mqtt
def test_flags_set_without_a_daemon_says_it_was_not_confirmed(
    mosquitto: Mosquitto, tmp_path: Path, env: dict[str, str], base: str
) -> None:
    config = config_for(tmp_path, mosquitto.host, mosquitto.port, base)

    async def scenario() -> Result:
        await retain_flags(mosquitto.host, mosquitto.port, base, {"back_pain": "red"})
        return await treadwell(
            env, "flags", "set", "red", "--timeout", "1", "--config", str(config)
        )

    result = run_async(scenario())
    assert result.code == 1
    assert "did not confirm within 1 s" in result.err
    assert result.out == ""


@pytest.mark.mqtt
def test_flags_show_reads_the_retained_state(
    mosquitto: Mosquitto, tmp_path: Path, env: dict[str, str], base: str
) -> None:
    config = config_for(tmp_path, mosquitto.host, mosquitto.port, base)
    state = {"back_pain": "red", "expires_at": None}

    async def scenario() -> tuple[Result, Result]:
        await retain_flags(mosquitto.host, mosquitto.port, base, state)
        plain = await treadwell(env, "flags", "show", "--config", str(config))
        as_json = await treadwell(env, "flags", "show", "--json", "--config", str(config))
        return plain, as_json

    plain, as_json = run_async(scenario())
    assert (plain.code, plain.out) == (0, "back pain flag: red\n")
    assert as_json.code == 0
    assert json.loads(as_json.out) == state


@pytest.mark.mqtt
def test_flags_show_with_nothing_published_fails_clearly(
    mosquitto: Mosquitto, tmp_path: Path, env: dict[str, str], base: str
) -> None:
    config = config_for(tmp_path, mosquitto.host, mosquitto.port, base)
    result = treadwell_sync(env, "flags", "show", "--timeout", "0.5", "--config", str(config))
    assert result.code == 1
    assert "no flag state" in result.err


def test_flags_set_refuses_bad_days(env: dict[str, str]) -> None:
    result = treadwell_sync(env, "flags", "set", "ache", "--days", "0", "--timeout", "1")
    assert result.code == 2
    assert "--days" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ["flags", "show", "--timeout", "2"],
        ["flags", "set", "none", "--timeout", "2"],
        ["checkin", "--pain", "1", "--kind", "none", "--timeout", "2"],
    ],
)
def test_an_unreachable_broker_is_one_line_and_exit_1(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    config = config_for(tmp_path, "127.0.0.1", free_port(), "tw")
    result = treadwell_sync(env, *args, "--config", str(config))
    assert result.code == 1
    assert len(result.err.splitlines()) == 1
    assert "cannot reach the MQTT broker at 127.0.0.1:" in result.err


def test_a_bad_config_stops_the_command_with_78(tmp_path: Path, env: dict[str, str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[mqtt]\nprot = 1\n")
    result = treadwell_sync(env, "flags", "show", "--config", str(config))
    assert result.code == 78
    assert "mqtt.prot: unknown key" in result.err


# -- history ----------------------------------------------------------------------------------

T0 = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)


def fill(state_dir: Path) -> None:
    with Store.in_dir(state_dir) as store:
        first = store.start_run("garage", at=T0)
        store.finish_run(
            first,
            {"duration_s": 1830.0, "distance_m": 5200.0, "average_speed_kmh": 10.2},
            at=T0 + timedelta(seconds=1830),
        )
        store.start_run("office", at=T0 + timedelta(days=1))


def test_history_lists_runs_newest_first(tmp_path: Path, env: dict[str, str]) -> None:
    fill(tmp_path / "state")
    result = treadwell_sync(env, "history", "--state-dir", str(tmp_path / "state"))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 2
    assert lines[0].split() == ["2", "2026-03-02", "07:00", "default", "office", "--", "(open)"]
    assert lines[1].split() == [
        "1", "2026-03-01", "07:00", "default", "garage", "30:30", "5.20", "km", "10.2", "km/h",
    ]  # fmt: skip


def test_history_json_and_limit(tmp_path: Path, env: dict[str, str]) -> None:
    fill(tmp_path / "state")
    config = config_for(tmp_path, "127.0.0.1", 1883, "tw")
    result = treadwell_sync(env, "history", "--json", "--limit", "1", "--config", str(config))
    assert result.code == 0, result.err
    [line] = result.out.splitlines()
    run = json.loads(line)
    assert (run["id"], run["treadmill"], run["status"], run["summary"]) == (
        2,
        "office",
        "open",
        None,
    )


def test_history_does_not_write_to_the_state(tmp_path: Path, env: dict[str, str]) -> None:
    fill(tmp_path / "state")
    db = tmp_path / "state" / "treadwell.sqlite"
    before = db.read_bytes()
    treadwell_sync(env, "history", "--state-dir", str(tmp_path / "state"))
    assert db.read_bytes() == before


def test_history_without_any_state_says_so(tmp_path: Path, env: dict[str, str]) -> None:
    result = treadwell_sync(env, "history", "--state-dir", str(tmp_path / "nothing"))
    assert result.code == 0
    assert result.out == ""
    assert "no runs recorded yet" in result.err


def test_history_of_a_damaged_file_is_an_error_not_a_crash(
    tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "treadwell.sqlite").write_bytes(b"garbage" * 1000)
    result = treadwell_sync(env, "history", "--state-dir", str(tmp_path / "state"))
    assert result.code == 1
    assert result.err.startswith("treadwell history: ")
    assert "Traceback" not in result.err


@pytest.mark.parametrize("limit", ["0", "-3", "many"])
def test_history_rejects_a_bad_limit(env: dict[str, str], limit: str) -> None:
    result = treadwell_sync(env, "history", "--limit", limit)
    assert result.code == 2


@pytest.mark.parametrize("command", ["config", "history", "flags", "checkin"])
def test_every_command_has_help(env: dict[str, str], command: str) -> None:
    result = treadwell_sync(env, command, "--help")
    assert result.code == 0
    assert result.out.startswith(f"usage: treadwell {command}")

"""The whole daemon against a mosquitto that wants TLS, passwords and the documented ACL.

`treadwell run` runs as a real subprocess on the virtual backend, at DEBUG, with its password
in a file. The broker uses test certificates made by the test (openssl), a password file
(mosquitto_passwd) and the example ACL from docs/mqtt.md, read from the document itself, plus
an `observer` user that may read everything, so the test can see what does (not) get through.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from tests.daemon.test_mqtt_tls import _make_certificates
from tests.support.mosquitto import Mosquitto, find_mosquitto, free_port
from tests.support.mqtt_client import Subscriber
from treadwell.daemon.config import EX_CONFIG

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

pytestmark = [pytest.mark.reliability, pytest.mark.mqtt]

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 30.0
USERS = ("treadwell", "homeassistant", "observer")


def documented_acl() -> str:
    """The example ACL, as docs/mqtt.md shows it (the code block after its introduction)."""
    text = (ROOT / "docs" / "mqtt.md").read_text()
    found = re.search(r"An example mosquitto ACL.*?```\n(.*?)```", text, re.DOTALL)
    assert found, "docs/mqtt.md has no example ACL"
    return found.group(1)


def non_loopback_ipv4() -> str | None:
    """An address of this machine that is not loopback (a broker 'on the network')."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent; this picks the outgoing address
        address = str(s.getsockname()[0])
        if not address.startswith("127."):
            return address
    return None


@dataclass
class SecureBroker:
    """mosquitto with a plain loopback listener, a TLS one, and maybe one on the network."""

    broker: Mosquitto
    tls_port: int
    network_host: str | None
    network_port: int
    ca_file: Path
    passwords: dict[str, str]


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    binary = find_mosquitto()
    passwd = shutil.which("mosquitto_passwd")
    if binary is None or passwd is None or shutil.which("openssl") is None:
        pytest.skip("needs mosquitto, mosquitto_passwd and openssl")
    workdir = tmp_path / "broker"
    workdir.mkdir()
    _make_certificates(workdir)
    passwords = {user: secrets.token_urlsafe(12) for user in USERS}
    for index, (user, password) in enumerate(passwords.items()):
        create = ["-c"] if index == 0 else []
        subprocess.run(
            [passwd, *create, "-b", str(workdir / "passwd"), user, password],
            check=True,
            capture_output=True,
        )
    (workdir / "acl").write_text(
        documented_acl() + "\n# The test's own eyes\nuser observer\ntopic read #\n"
    )
    tls_port, network_port = free_port(), free_port()
    network_host = non_loopback_ipv4()
    network = f"listener {network_port} {network_host}\n" if network_host else ""
    broker = Mosquitto(
        binary=binary,
        workdir=workdir,
        extra_config=(
            f"password_file {workdir / 'passwd'}\n"
            f"acl_file {workdir / 'acl'}\n"
            f"{network}"
            f"listener {tls_port} 127.0.0.1\n"
            f"cafile {workdir / 'ca.crt'}\n"
            f"certfile {workdir / 'server.crt'}\n"
            f"keyfile {workdir / 'server.key'}\n"
        ),
    )
    broker.start()
    try:
        yield SecureBroker(
            broker, tls_port, network_host, network_port, workdir / "ca.crt", passwords
        )
    finally:
        broker.stop()


@contextlib.asynccontextmanager
async def client_as(secure: SecureBroker, user: str, *topics: str) -> AsyncIterator[Subscriber]:
    """A recording client logged in as `user` on the plain loopback listener."""
    client = aiomqtt.Client(
        secure.broker.host,
        secure.broker.port,
        username=user,
        password=secure.passwords[user],
        identifier=f"{user}-{uuid.uuid4().hex[:6]}",
    )
    async with client:
        sub = Subscriber(client)
        if topics:
            await client.subscribe([(topic, 1) for topic in topics])
        task = asyncio.create_task(sub.collect())
        try:
            yield sub
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


class DaemonProcess:
    """`treadwell run --config FILE` with its stderr in a file."""

    def __init__(self, workdir: Path, mqtt: dict[str, object]) -> None:
        self.workdir = workdir
        self.state_dir = workdir / "state"
        self.stderr_path = workdir / "daemon.stderr"
        lines = [
            "log_level = 'DEBUG'",
            f"state_dir = '{self.state_dir}'",
            "[mqtt]",
            *(f"{key} = {_toml(value)}" for key, value in mqtt.items()),
            "[ble]",
            "backend = 'virtual'",
            "speedup = 60.0",
            "virtual_profile = 'steady'",
            "[[treadmills]]",
            "name = 'treadmill'",
            "max_incline_pct = 3.0",
            "[flags]",
            "back_pain = 'ache'",
        ]
        self.config = workdir / "treadwell.toml"
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TREADWELL_")}
        env.pop("CREDENTIALS_DIRECTORY", None)
        env["HOME"] = str(self.workdir)
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "treadwell.daemon", "run", "--config", str(self.config)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
            )

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    async def wait_line(self, pattern: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not re.search(pattern, self.stderr):
            assert self.proc is not None
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no line matching {pattern!r}; stderr:\n{self.stderr[-3000:]}")
            await asyncio.sleep(0.1)

    def wait(self, timeout: float = WAIT_S) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return f"'{value}'"


@pytest.fixture
def daemons() -> Iterator[list[DaemonProcess]]:
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait()


def tls_settings(secure: SecureBroker, password_file: Path) -> dict[str, object]:
    return {
        "host": "localhost",
        "port": secure.tls_port,
        "tls": True,
        "ca_file": secure.ca_file,
        "username": "treadwell",
        "password_file": password_file,
        "base_topic": "treadwell",
        "client_id": "treadwell-secure",
    }


def leaked(secret: str, daemon: DaemonProcess) -> list[str]:
    """Where `secret` shows up: the daemon's stderr or any file in its state directory."""
    places = [str(daemon.stderr_path)] if secret in daemon.stderr else []
    places += [
        str(path)
        for path in daemon.state_dir.rglob("*")
        if path.is_file() and secret.encode() in path.read_bytes()
    ]
    return places


async def test_the_daemon_works_over_tls_with_a_password_under_the_documented_acl(
    secure_broker: SecureBroker, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    secure = secure_broker
    password = secure.passwords["treadwell"]
    (tmp_path / "mqtt-password").write_text(password + "\n")
    daemon = DaemonProcess(tmp_path, tls_settings(secure, tmp_path / "mqtt-password"))
    daemons.append(daemon)
    async with client_as(secure, "observer", "#") as observer:
        daemon.start()
        await observer.wait_for(
            lambda _: any(m.payload == b"online" for m in observer.on("treadwell/status")),
            "the daemon online",
            WAIT_S,
        )
        await observer.wait_for(
            lambda _: any(s["connected"] for s in observer.json_on("treadwell/treadmill/state")),
            "the treadmill's state",
            WAIT_S,
        )
        assert any(m.topic.startswith("homeassistant/device/") for m in observer.messages)
        # Home Assistant's user may command the daemon; the daemon applies it.
        async with client_as(secure, "homeassistant") as ha:
            await ha.client.publish("treadwell/flags/set", b'{"back_pain": "red"}', qos=1)
        await observer.wait_for(
            lambda _: any(f["back_pain"] == "red" for f in observer.json_on("treadwell/flags")),
            "the red flag applied",
        )
        # The daemon's user cannot publish outside its own topics. Sent in order on one
        # connection, so once the allowed probe arrives the others would have too.
        async with client_as(secure, "treadwell", "#") as as_daemon:
            for topic in ("elsewhere/x", "homeassistant/status", "homeassistant/sensor/x/config"):
                await as_daemon.client.publish(topic, b"forbidden", qos=1)
            await as_daemon.client.publish("treadwell/probe", b"allowed", qos=1)
            await observer.wait_on("treadwell/probe")
            seen_by_daemon_user = {m.topic.split("/")[0] for m in as_daemon.messages}
        forbidden = [m.topic for m in observer.messages if m.payload == b"forbidden"]
        assert forbidden == []
        assert seen_by_daemon_user <= {"treadwell", "homeassistant"}
        assert daemon.stop() == 0
    assert "DEBUG" in daemon.stderr  # the debug log really was on
    assert "TLS" in daemon.stderr or "connected to localhost" in daemon.stderr
    assert leaked(password, daemon) == []


async def test_a_refused_password_is_logged_without_the_password(
    secure_broker: SecureBroker, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    wrong = "wrong-" + secrets.token_urlsafe(12)
    (tmp_path / "mqtt-password").write_text(wrong)
    daemon = DaemonProcess(tmp_path, tls_settings(secure_broker, tmp_path / "mqtt-password"))
    daemons.append(daemon)
    daemon.start()
    await daemon.wait_line(r"refused the credentials")
    assert daemon.stop() == 0
    assert leaked(wrong, daemon) == []


async def test_credentials_in_clear_text_to_a_network_broker_only_when_allowed(
    secure_broker: SecureBroker, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    secure = secure_broker
    if secure.network_host is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    password = secure.passwords["treadwell"]
    mqtt: dict[str, object] = {
        "host": secure.network_host,
        "port": secure.network_port,
        "username": "treadwell",
        "password": password,
        "base_topic": "treadwell",
        "client_id": "treadwell-plain",
    }
    async with client_as(secure, "observer", "treadwell/#") as observer:
        (tmp_path / "refused").mkdir()
        refused = DaemonProcess(tmp_path / "refused", mqtt)
        daemons.append(refused)
        refused.start()
        assert refused.wait() == EX_CONFIG
        assert "would be sent unencrypted" in refused.stderr
        assert not refused.state_dir.exists()
        (tmp_path / "allowed").mkdir()
        allowed = DaemonProcess(tmp_path / "allowed", {**mqtt, "allow_insecure_credentials": True})
        daemons.append(allowed)
        allowed.start()
        await observer.wait_for(
            lambda _: any(m.payload == b"online" for m in observer.on("treadwell/status")),
            "the daemon online when allowed",
            WAIT_S,
        )
        assert allowed.stop() == 0
    # Only the allowed daemon ever connected.
    connections = secure.broker.log_path.read_text().count(" as treadwell-plain ")
    assert connections == 1
    for daemon in (refused, allowed):
        assert leaked(password, daemon) == []

"""The bridge over TLS with a user name and password, and what happens with a wrong password."""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import subprocess
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pytest

from tests.daemon.test_mqtt_bridge import WAIT_S, bridge_settings, running_bridge
from tests.support.mosquitto import Mosquitto, find_mosquitto, free_port
from tests.support.mqtt_client import subscriber

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

USER = "gym"
PASSWORD = "correct-horse"  # noqa: S105 - a throwaway test broker's password


@dataclass
class SecureBroker:
    """A mosquitto with a plain listener (for the test's subscriber) and a TLS one."""

    broker: Mosquitto
    tls_port: int
    ca_file: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_certificates(directory: Path) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.crt", "-days", "2", "-subj", "/CN=treadwell-test-ca", cwd=directory)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
             "server.csr", "-subj", "/CN=127.0.0.1", cwd=directory)  # fmt: skip
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf",
             cwd=directory)  # fmt: skip


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    binary = find_mosquitto()
    passwd = shutil.which("mosquitto_passwd")
    if binary is None or passwd is None or shutil.which("openssl") is None:
        pytest.skip("needs mosquitto, mosquitto_passwd and openssl")
    workdir = tmp_path / "secure"
    workdir.mkdir()
    _make_certificates(workdir)
    subprocess.run(
        [passwd, "-c", "-b", str(workdir / "passwd"), USER, PASSWORD],
        check=True,
        capture_output=True,
    )
    tls_port = free_port()
    broker = Mosquitto(
        binary=binary,
        workdir=workdir,
        extra_config=(
            # (The Mosquitto helper keeps a root-started broker running as root.)
            f"password_file {workdir / 'passwd'}\n"
            f"listener {tls_port} 127.0.0.1\n"
            f"cafile {workdir / 'ca.crt'}\n"
            f"certfile {workdir / 'server.crt'}\n"
            f"keyfile {workdir / 'server.key'}\n"
        ),
    )
    broker.start()
    try:
        yield SecureBroker(broker, tls_port, workdir / "ca.crt")
    finally:
        broker.stop()


@pytest.mark.mqtt
async def test_the_bridge_connects_over_tls_with_a_password(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    broker = secure_broker.broker
    settings = replace(
        bridge_settings(broker),
        port=secure_broker.tls_port,
        host="localhost",
        tls=True,
        ca_file=secure_broker.ca_file,
        username=USER,
        password=PASSWORD,
    )
    async with (
        subscriber(broker, "tw/status") as sub,
        running_bridge(settings, tmp_path) as harness,
    ):
        harness.bridge.publish_prompt("p1", b'{"id": "p1"}')
        await sub.wait_for(lambda _: any(m.payload == b"online" for m in sub.messages), "online")
        async with asyncio.timeout(WAIT_S):
            while harness.outbox.pending():
                await asyncio.sleep(0.02)


@pytest.mark.mqtt
async def test_a_wrong_password_is_logged_as_an_error_and_retried_without_the_password(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = replace(
        bridge_settings(secure_broker.broker),
        port=secure_broker.tls_port,
        host="localhost",
        tls=True,
        ca_file=secure_broker.ca_file,
        username=USER,
        password="wrong-" + PASSWORD,
    )
    async with running_bridge(settings, tmp_path, wait=False) as harness:
        async with asyncio.timeout(WAIT_S):
            while sum("refused the credentials" in r.getMessage() for r in caplog.records) < 2:
                await asyncio.sleep(0.02)
        assert not harness.bridge.connected
    refused = [r for r in caplog.records if "refused the credentials" in r.getMessage()]
    assert all(r.levelno == logging.ERROR for r in refused)
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


@pytest.mark.mqtt
async def test_a_broker_that_is_not_the_one_the_ca_signed_is_refused(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other_ca = tmp_path / "other"
    other_ca.mkdir()
    _make_certificates(other_ca)
    settings = replace(
        bridge_settings(secure_broker.broker),
        port=secure_broker.tls_port,
        host="localhost",
        tls=True,
        ca_file=other_ca / "ca.crt",
        username=USER,
        password=PASSWORD,
    )
    caplog.set_level(logging.WARNING, logger="treadwell.daemon.mqtt")
    async with running_bridge(settings, tmp_path, wait=False) as harness:
        async with asyncio.timeout(WAIT_S):
            while not any("CERTIFICATE_VERIFY_FAILED" in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.02)
        assert not harness.bridge.connected
    # paho 2.2 does not close its TLS socket when the handshake fails (`_ssl_wrap_socket`);
    # the socket is freed with the exception's traceback. Collect it here, where its
    # ResourceWarning is expected, rather than in whichever test happens to run next.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()

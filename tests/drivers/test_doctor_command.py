"""`treadwell doctor` explains a treadmill (here: replayed captures and the virtual deck)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import aiomqtt
import pytest

if TYPE_CHECKING:
    from tests.support.mosquitto import Mosquitto

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"


def doctor(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", "doctor", "--state-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )


def test_doctor_explains_a_deck_without_incline_control_and_remembers_it(
    tmp_path: Path,
) -> None:
    proc = doctor(tmp_path, "--capture", str(CAPTURES / "technogym_myrun"), "--seconds", "3")

    assert proc.returncode == 0, proc.stderr
    assert 'Treadmill "technogym_myrun"' in proc.stdout
    assert "[no]   no incline control over Bluetooth" in proc.stdout
    assert "set on the console" in proc.stdout
    remembered = json.loads((tmp_path / "devices.json").read_text())["devices"]
    assert [r["name"] for r in remembered.values()] == ["technogym_myrun"]

    again = doctor(tmp_path, "--remembered")
    assert again.returncode == 0, again.stderr
    assert "no incline control" in again.stdout


def test_doctor_on_the_virtual_deck_shows_what_works_as_json(tmp_path: Path) -> None:
    proc = doctor(tmp_path, "--backend", "virtual", "--seconds", "2", "--json")

    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["can_set_incline"] is True
    assert report["control"] == {
        "request_control": "accepted",
        "set_target_inclination": "accepted",
    }


def test_doctor_with_nothing_remembered_says_where_it_looked(tmp_path: Path) -> None:
    proc = doctor(tmp_path, "--remembered")

    assert proc.returncode == 1
    assert "nothing remembered yet" in proc.stderr


def test_doctor_on_a_broken_capture_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n")

    proc = doctor(tmp_path, "--capture", str(bad))

    assert proc.returncode == 2
    assert "line 1" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.mqtt
def test_doctor_publishes_diagnostics_home_assistant_shows_on_the_treadmill(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[mqtt]\nhost = "{mosquitto.host}"\nport = {mosquitto.port}\nbase_topic = "dr"\n'
        'client_id = "home"\n\n[[treadmills]]\nname = "Deck"\n'
    )

    proc = doctor(
        tmp_path,
        "--config",
        str(config),
        "--capture",
        str(CAPTURES / "technogym_myrun"),
        "--seconds",
        "2",
        "--publish",
    )

    assert proc.returncode == 0, proc.stderr
    assert "published dr/deck/diagnostics" in proc.stderr
    retained = asyncio.run(read_retained(mosquitto, "dr/deck/diagnostics", "homeassistant/#"))
    diagnostics = json.loads(retained["dr/deck/diagnostics"])
    assert diagnostics["summary"].endswith("no incline control")
    discovery = json.loads(retained["homeassistant/device/home_deck_check/config"])
    assert discovery["device"]["identifiers"] == ["home_deck"]
    assert discovery["components"]["diagnostics"]["state_topic"] == "dr/deck/diagnostics"


async def read_retained(broker: Mosquitto, *topics: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe([(topic, 1) for topic in topics])
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                async for message in client.messages:
                    found[message.topic.value] = bytes(message.payload)
                    if len(found) >= len(topics):
                        break
    return found

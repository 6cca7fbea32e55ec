"""A configuration file with every kind of mistake, given to `treadwell run` and `config check`.

Each mistake must be named by its key in the output, the exit status must be 78 (EX_CONFIG, so
systemd does not restart the daemon into the same error), and nothing may start: no state
directory, nothing on the broker the file points at.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.support.mqtt_client import subscriber
from treadwell.daemon.config import EX_CONFIG

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.reliability, pytest.mark.mqtt]

SECRET = "hunter2-do-not-print"  # noqa: S105 - a made-up password that must not leak

# (the mistake as TOML, where it goes, the key the output must name)
MISTAKES: list[tuple[str, str, str]] = [
    # unknown keys at every level
    ("top", "colour = 'red'", "colour"),
    ("mqtt", "hots = 'typo'", "mqtt.hots"),
    ("ble", "adaptor = 'hci0'", "ble.adaptor"),
    ("rules", "max_pain = 3", "rules.max_pain"),
    ("flags", "pain = 'ache'", "flags.pain"),
    ("treadmill", "colour = 'red'", "treadmills.0.colour"),
    ("strap", "battery = 3", "straps.0.battery"),
    ("footpod", "size = 9", "footpods.0.size"),
    # wrong types
    ("mqtt", "max_state_rate_hz = 'fast'", "mqtt.max_state_rate_hz"),
    ("mqtt", "tls = 'yes please'", "mqtt.tls"),
    ("ble", "speedup = 'fast'", "ble.speedup"),
    ("rules", "incline_window_min_pct = 'x'", "rules.incline_window_min_pct"),
    ("treadmill", "automation_allowed = 'maybe'", "treadmills.0.automation_allowed"),
    # bad values
    ("top", "log_level = 'loud'", "log_level"),
    ("mqtt", "base_topic = 'gym/#'", "mqtt.base_topic"),
    ("mqtt", "keepalive = -5", "mqtt.keepalive"),
    ("ble", "backend = 'carrier-pigeon'", "ble.backend"),
    ("treadmill", "address = 'not-an-address'", "treadmills.0.address"),
    ("treadmill", "max_incline_pct = -1", "treadmills.0.max_incline_pct"),
    ("flags", "back_pain = 'sore'", "flags.back_pain"),
    ("flags", "days = 0", "flags.days"),
    # a password file that does not exist
    ("mqtt", "password_file = '/no/such/password'", "mqtt.password_file"),
]


def _config_text(broker: Mosquitto, state_dir: Path) -> str:
    sections: dict[str, list[str]] = {
        name: [] for name in ("top", "mqtt", "ble", "rules", "flags", "treadmill", "strap")
    }
    sections["footpod"] = []
    for where, line, _ in MISTAKES:
        sections[where].append(line)
    return "\n".join(
        [
            f"state_dir = '{state_dir}'",
            *sections["top"],
            "[mqtt]",
            f"host = '{broker.host}'",
            f"port = {broker.port}",
            *sections["mqtt"],
            "[ble]",
            *sections["ble"],
            "[rules]",
            *sections["rules"],
            "[flags]",
            *sections["flags"],
            "[[treadmills]]",
            "name = 'Run A'",
            *sections["treadmill"],
            # Two devices whose names make the same identifier (slug).
            "[[treadmills]]",
            "name = 'run-a'",
            "[[straps]]",
            "name = 'chest'",
            *sections["strap"],
            "[[footpods]]",
            "name = 'shoe'",
            *sections["footpod"],
            "",
        ]
    )


def _treadwell(*args: str, home: Path, secret: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a clean environment (and a password in it, unless told not to)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TREADWELL_")}
    for name in ("CONFIGURATION_DIRECTORY", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
        env.pop(name, None)
    env |= {
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
    }
    if secret:
        env["TREADWELL_MQTT__PASSWORD"] = SECRET
    return subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )


async def test_every_mistake_is_named_exit_78_and_nothing_starts(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    state_dir = tmp_path / "state"
    config = tmp_path / "treadwell.toml"
    config.write_text(_config_text(mosquitto, state_dir))
    async with subscriber(mosquitto, "#") as sub:
        results = {
            command: await asyncio.to_thread(
                _treadwell, *command.split(), "--config", str(config), home=home
            )
            for command in ("run", "config check")
        }
        await asyncio.sleep(0.5)  # room for a stray connection to show up
    assert sub.messages == []
    assert not state_dir.exists()
    assert not (home / "state").exists()
    for command, result in results.items():
        assert result.returncode == EX_CONFIG, (command, result.stderr)
        assert result.stdout == ""
        for _, _, key in MISTAKES:
            assert f"{key}:" in result.stderr, (command, key, result.stderr)
        # Reported along with the field mistakes, not only once they are fixed:
        assert "treadmills.1.name: 'run-a' has the same identifier" in result.stderr
        assert f"{len(MISTAKES) + 1} problems" in result.stderr
        assert SECRET not in result.stderr
        assert "Traceback" not in result.stderr
        assert str(config) in result.stderr


# Mistakes that stop the reading early: each alone in its file. (file text or None for "no
# file", the text the output must contain)
EARLY_MISTAKES: dict[str, tuple[bytes | None, str]] = {
    "toml syntax error": (b"[mqtt]\nhost = 'a'\nport = = 1\n", "TOML syntax error"),
    "unclosed table": (b"[mqtt\nhost = 'a'\n", "TOML syntax error"),
    "not utf-8": (b"[mqtt]\nhost = '\xff\xfe'\n", "not UTF-8"),
    "no such file": (None, "no such file"),
    "no treadmill": (b"treadmills = []\n", "treadmills:"),
    "a user name in clear text to another host": (
        b"[mqtt]\nhost = 'broker.example.net'\nusername = 'gym'\n",
        "mqtt.username: would be sent unencrypted",
    ),
    "a password in clear text to another address": (
        b"[mqtt]\nhost = '192.0.2.7'\nusername = 'gym'\npassword = 'pw'\n",
        "mqtt.password: would be sent unencrypted",
    ),
}


@pytest.mark.parametrize("mistake", list(EARLY_MISTAKES))
async def test_a_file_that_cannot_be_used_is_named_exit_78_and_nothing_starts(
    mosquitto: Mosquitto, tmp_path: Path, mistake: str
) -> None:
    text, fragment = EARLY_MISTAKES[mistake]
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "treadwell.toml"
    if text is not None:
        config.write_bytes(text)
    async with subscriber(mosquitto, "#") as sub:
        for command in ("run", "config check"):
            result = await asyncio.to_thread(
                _treadwell,
                *command.split(),
                "--config",
                str(config),
                home=home,
                secret="user name" not in mistake,
            )
            assert result.returncode == EX_CONFIG, (command, result.stderr)
            assert fragment in result.stderr, (command, result.stderr)
            assert str(config) in result.stderr
            assert SECRET not in result.stderr
            assert "Traceback" not in result.stderr
    assert sub.messages == []
    assert not (home / "state").exists()

"""Bumble (the virtual Bluetooth world) is an extra: without it the daemon runs on real
hardware, and whatever needs it says so in one line instead of a traceback.

Each case runs the real command in a subprocess where `bumble` cannot be imported, as on a
Raspberry Pi with a plain `pip install treadwell`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from treadwell.daemon.commands.demo import EXIT_UNAVAILABLE
from treadwell.daemon.config import EX_CONFIG

ROOT = Path(__file__).resolve().parents[1]
# `None` in sys.modules makes every `import bumble` fail, as if it were not installed.
HIDE_BUMBLE = "import sys; sys.modules['bumble'] = None; "
CLI = "from treadwell.daemon.cli import main; sys.exit(main(sys.argv[1:]))"


def without_bumble(tmp_path: Path, *args: str, code: str = CLI) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TREADWELL_")}
    env["HOME"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "-c", HIDE_BUMBLE + code, *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )


def virtual_config(tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f"state_dir = '{tmp_path / 'state'}'\n[mqtt]\nport = 1\n[ble]\nbackend = 'virtual'\n"
    )
    return config


def test_the_demo_without_bumble_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    result = without_bumble(tmp_path, "demo")
    assert result.returncode == EXIT_UNAVAILABLE
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "treadwell[virtual]" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_virtual_backend_without_bumble_is_a_config_error(tmp_path: Path) -> None:
    config = str(virtual_config(tmp_path))
    for command in (["config", "check"], ["run"]):
        result = without_bumble(tmp_path, *command, "--config", config)
        assert result.returncode == EX_CONFIG, result.stderr
        assert "Traceback" not in result.stderr
        assert "ble.backend: the virtual Bluetooth world needs Bumble" in result.stderr
        assert not (tmp_path / "state").exists()


def test_the_daemon_on_real_bluetooth_needs_no_bumble(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[ble]\nbackend = 'bleak'\n")
    result = without_bumble(tmp_path, "config", "check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    imports = "import treadwell.daemon.app, treadwell.daemon.commands.run; print('ok')"
    result = without_bumble(tmp_path, code=imports)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


def test_bumble_is_an_extra_that_the_demo_and_the_tests_pull_in() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("bumble")]
    extras = project["optional-dependencies"]
    assert any(d.lower().startswith("bumble") for d in extras["virtual"])
    assert "treadwell[virtual]" in extras["demo"]
    assert "treadwell[virtual]" in extras["test"]

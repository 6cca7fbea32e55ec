"""I/O. Where Treadwell looks for its config file, keeps its state and finds its secrets.

The order follows what systemd sets for a service (`ConfigurationDirectory=`,
`StateDirectory=`, `LoadCredential=`) and falls back to the XDG base directories when run
by hand, then to `/etc/treadwell` for a system-wide config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

CONFIG_FILE_NAME = "config.toml"
STATE_FILE_NAME = "treadwell.sqlite"
JOBS_FILE_NAME = "jobs.sqlite"
SYSTEM_CONFIG = Path("/etc/treadwell") / CONFIG_FILE_NAME
MQTT_PASSWORD_CREDENTIAL = "treadwell_mqtt_password"  # noqa: S105 (a file name)


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def config_candidates(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Every place a config file is looked for when none is given, most specific first.

    Args:
        environ: The environment to read (defaults to `os.environ`).

    Returns:
        `$TREADWELL_CONFIG`, `$CONFIGURATION_DIRECTORY/config.toml`,
        `${XDG_CONFIG_HOME:-~/.config}/treadwell/config.toml` and
        `/etc/treadwell/config.toml`, leaving out the variables that are not set.
    """
    env = _env(environ)
    found: list[Path] = []
    if env.get("TREADWELL_CONFIG"):
        found.append(Path(env["TREADWELL_CONFIG"]))
    if env.get("CONFIGURATION_DIRECTORY"):
        # systemd may pass several directories separated by ':'; the first is ours.
        first = env["CONFIGURATION_DIRECTORY"].split(":")[0]
        found.append(Path(first) / CONFIG_FILE_NAME)
    xdg = env.get("XDG_CONFIG_HOME") or str(_home(env) / ".config")
    found.append(Path(xdg) / "treadwell" / CONFIG_FILE_NAME)
    found.append(SYSTEM_CONFIG)
    return found


def resolve_config_path(
    explicit: Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Path | None, bool]:
    """Choose the config file to load.

    Args:
        explicit: The path given with `--config`; it wins and must exist.
        environ: The environment to read (defaults to `os.environ`).

    Returns:
        The chosen path (None when no candidate exists: the defaults apply) and whether it
        was named explicitly, so the loader can treat a missing explicit file as an error.
    """
    if explicit is not None:
        return explicit, True
    env = _env(environ)
    candidates = config_candidates(env)
    if env.get("TREADWELL_CONFIG"):
        # A path named in the environment is as explicit as --config.
        return candidates[0], True
    for candidate in candidates:
        if candidate.is_file():
            return candidate, False
    return None, False


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The directory for SQLite state: `$STATE_DIRECTORY` or the XDG state home.

    Args:
        environ: The environment to read (defaults to `os.environ`).

    Returns:
        `$STATE_DIRECTORY` (first entry) under systemd, else
        `${XDG_STATE_HOME:-~/.local/state}/treadwell`.
    """
    env = _env(environ)
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    xdg = env.get("XDG_STATE_HOME") or str(_home(env) / ".local" / "state")
    return Path(xdg) / "treadwell"


def credentials_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The systemd credentials directory (`$CREDENTIALS_DIRECTORY`), or None outside systemd.

    Args:
        environ: The environment to read (defaults to `os.environ`).

    Returns:
        The directory if the variable is set, else None.
    """
    value = _env(environ).get("CREDENTIALS_DIRECTORY")
    return Path(value) if value else None

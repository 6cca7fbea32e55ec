"""I/O. `treadwell config check|example`: validate a configuration, print the example.

Also home of the `--config` option and its loader, shared by the other sub-commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from treadwell.daemon import paths
from treadwell.daemon.config import (
    EX_CONFIG,
    ConfigError,
    FootpodSettings,
    Settings,
    StrapSettings,
    TreadmillSettings,
    load_settings,
)
from treadwell.daemon.config_example import EXAMPLE_CONFIG

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence


def out(text: str) -> None:
    """Write a line of the command's result to stdout."""
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    """Write a line of diagnostics to stderr."""
    sys.stderr.write(text + "\n")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Add `--config PATH` to a sub-command's parser."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="configuration file (default: $TREADWELL_CONFIG, $CONFIGURATION_DIRECTORY/"
        "config.toml, ~/.config/treadwell/config.toml, /etc/treadwell/config.toml)",
    )


def settings_or_exit_status(args: argparse.Namespace) -> Settings | int:
    """Load the settings named by `args.config`, or print every problem and return 78."""
    try:
        return load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        err(exc.format())
        return EX_CONFIG


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `check` and `example` actions."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="validate the configuration and print a summary (exit 78 if invalid)",
        description="Load the configuration the daemon would load, with the environment "
        "overrides and credentials, and print every problem with its key (exit status 78) "
        "or a summary.",
    )
    add_config_option(check)
    actions.add_parser(
        "example",
        help="print a commented example configuration",
        description="Print a configuration file with every key, its default and a comment.",
    )


def _summary(settings: Settings, source: Path | None) -> list[str]:
    mqtt = settings.mqtt
    auth = "no credentials" if mqtt.username is None else f"user {mqtt.username}"
    if mqtt.password is not None:
        auth += ", password set"
    lines = [
        f"config OK ({source if source is not None else 'no file: defaults'})",
        f"  mqtt: {mqtt.host}:{mqtt.port}{' (TLS)' if mqtt.tls else ''}, {auth}, "
        f"topics under {mqtt.base_topic}/, discovery "
        f"{mqtt.discovery_prefix + '/' if mqtt.discovery else 'off'}",
        f"  ble: {settings.ble.backend} backend",
    ]
    groups: list[tuple[str, Sequence[TreadmillSettings | StrapSettings | FootpodSettings]]] = [
        ("treadmill", settings.treadmills),
        ("strap", settings.straps),
        ("footpod", settings.footpods),
    ]
    for kind, devices in groups:
        for device in devices:
            found_by = device.address or (
                f"name {device.match_name!r}" if device.match_name else "first found"
            )
            lines.append(f"  {kind}: {device.name} ({found_by})")
            if isinstance(device, TreadmillSettings):
                lines.append(f"    {_safety(device)}")
    flags = settings.flags
    start_flag = flags.back_pain + (f" for {flags.days} days" if flags.days else "")
    lines.append(f"  back-pain flag at first start: {start_flag}")
    lines.append(f"  state: {settings.state_dir}")
    return lines


def _safety(treadmill: TreadmillSettings) -> str:
    """The safety settings of one treadmill: may Treadwell set the incline, and how high."""
    if treadmill.max_incline_pct == 0:
        return "incline: never (max_incline_pct = 0: nothing is suggested or set)"
    allowed = treadmill.automation_allowed
    consent = "Treadwell may set it" if allowed else "suggested only, never set"
    return (
        f"incline: up to {treadmill.max_incline_pct:g}%, {consent} "
        f"(automation_allowed = {'true' if allowed else 'false'})"
    )


def run(args: argparse.Namespace) -> int:
    """Run `config check` or `config example`."""
    if args.action == "example":
        sys.stdout.write(EXAMPLE_CONFIG)
        return 0
    loaded = settings_or_exit_status(args)
    if isinstance(loaded, int):
        return loaded
    source, _explicit = paths.resolve_config_path(args.config)
    out("\n".join(_summary(loaded, source)))
    return 0

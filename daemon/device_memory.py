"""I/O. What Treadwell found out about each treadmill, remembered in the state directory.

One small JSON file, ``devices.json``, keyed by the device's address (or its name when the
platform hides addresses), holds the latest probe report of each device (see
`treadwell.drivers.probe.ProbeReport`), including what the link learned from the deck's
answers. `treadwell doctor` writes it; the daemon can hand `learned_quirks()` to the next
`TreadmillLink(learned=...)` so a deck is not re-taught on every start.

Writes go to a temporary file that replaces the old one, so a crash never leaves half a file.
A file that cannot be read is moved aside (``devices.json.bad``) with a warning, never deleted.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from treadwell.drivers.probe import ProbeReport

if TYPE_CHECKING:
    from pathlib import Path

    from treadwell.drivers.quirks import Quirks

_LOGGER = logging.getLogger(__name__)

FILE_NAME = "devices.json"
VERSION = 1


def device_key(name: str, address: str) -> str:
    """The key a device is remembered under: its address, or its name without one."""
    return address.upper() if address and address != "00:00:00:00:00:00" else f"name:{name}"


class DeviceMemory:
    """The per-device probe reports of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self._set_aside(f"cannot be read ({exc})")
        devices = data.get("devices") if isinstance(data, dict) else None
        if not isinstance(devices, dict) or not isinstance(data.get("version"), int):
            return self._set_aside("is not a device memory file")
        return {k: v for k, v in devices.items() if isinstance(v, dict)}

    def _set_aside(self, why: str) -> dict[str, dict[str, Any]]:
        bad = self.path.with_name(FILE_NAME + ".bad")
        _LOGGER.warning("%s %s; moved to %s, starting afresh", self.path, why, bad)
        try:
            self.path.replace(bad)
        except OSError as exc:
            _LOGGER.warning("could not move %s aside: %s", self.path, exc)
        return {}

    def reports(self) -> dict[str, ProbeReport]:
        """Every remembered report, by key."""
        return {key: ProbeReport.from_dict(value) for key, value in self._read().items()}

    def recall(self, name: str, address: str) -> ProbeReport | None:
        """The latest report of one device, or None."""
        return self.reports().get(device_key(name, address))

    def learned_quirks(self, name: str, address: str) -> Quirks | None:
        """What the link learned about this device before, for `TreadmillLink(learned=...)`."""
        report = self.recall(name, address)
        return None if report is None else report.learned_quirks()

    def remember(self, report: ProbeReport) -> str:
        """Store a report (replacing the device's previous one); returns its key."""
        devices = self._read()
        key = device_key(report.name, report.address)
        devices[key] = report.to_dict()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(FILE_NAME + ".tmp")
        tmp.write_text(
            json.dumps({"version": VERSION, "devices": devices}, indent=2, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        tmp.replace(self.path)
        return key

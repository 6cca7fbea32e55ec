"""I/O. What the daemon learns about each treadmill on connecting: remembered and published.

On every connect the daemon builds the passive part of a probe report from what the
treadmill said about itself (features, ranges, quirk notes; `drivers/probe.py`), keeps what
an earlier `treadwell doctor` or run found out about its control point and what the link
learned (refused half steps, a deck that takes targets only while the belt runs), remembers
it per device (`daemon/device_memory.py`), and publishes it, retained, on
`{base}/<device>/diagnostics` for Home Assistant's "Treadmill check" sensor. What the link
learned is handed back to it, so a reconnect (or the next start) begins where it left off.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from treadwell.daemon.device_memory import DeviceMemory
from treadwell.daemon.diagnostics_discovery import build_diagnostics_payload, diagnostics_topic
from treadwell.drivers.probe import advice, learned_fields, report_from_info

if TYPE_CHECKING:
    from pathlib import Path

    from treadwell.daemon.mqtt import MqttBridge
    from treadwell.drivers.events import TreadmillInfo
    from treadwell.drivers.treadmill import TreadmillLink

_LOGGER = logging.getLogger(__name__)


class Diagnostics:
    """Remembers and publishes each treadmill's diagnostics (see the module docstring)."""

    def __init__(self, state_dir: Path, *, base: str, bridge: MqttBridge) -> None:
        self._memory = DeviceMemory(state_dir)
        self._base = base
        self._bridge = bridge

    def on_connect(self, slug: str, info: TreadmillInfo, link: TreadmillLink) -> None:
        """A treadmill connected: merge, remember and publish what is known about it."""
        report = report_from_info(info)
        try:
            known = self._memory.recall(info.name, info.address)
        except OSError as exc:
            _LOGGER.warning("%s: device memory unreadable: %s", slug, exc)
            known = None
        if known is not None:
            report.control = known.control
            report.readings, report.data_fields = known.readings, known.data_fields
            report.learned = {**known.learned, **learned_fields(link.learned)}
            link.learn(known.learned_quirks())
        else:
            report.learned = learned_fields(link.learned)
        try:
            self._memory.remember(report)
        except OSError as exc:
            _LOGGER.warning("%s: device memory not written: %s", slug, exc)
        payload = build_diagnostics_payload(report.to_dict(), advice(report))
        self._bridge.publish_retained(
            diagnostics_topic(self._base, slug),
            json.dumps(payload, separators=(",", ":")).encode(),
        )

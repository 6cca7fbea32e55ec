"""The daemon's memory as it runs on a Raspberry Pi: its own process, three devices through BlueZ.

`treadwell run` starts as a separate process with the plain bleak backend. An emulated
treadmill, heart-rate strap and footpod sit behind the kernel's controller; once the
treadmill's state carries the strap's heart rate and the footpod's cadence (all three
connected, their data flowing), the test reads the daemon's resident memory from /proc and
prints it on one line, `FOOTPRINT-BLUEZ: {...}`, which `python -m bench.footprint_bluez`
collects. The figure is reported, never asserted (bench/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.mqtt_client import subscriber
from treadwell.drivers.virtual.footpod import FootpodConfig
from treadwell.drivers.virtual.profile import RunProfile
from treadwell.drivers.virtual.strap import StrapConfig
from treadwell.drivers.virtual.treadmill import TreadmillConfig

if TYPE_CHECKING:
    from tests.bluez.bench import BluezBench
    from tests.support.mosquitto import Mosquitto
    from tests.support.mqtt_client import Received

pytestmark = [pytest.mark.bluez, pytest.mark.mqtt]

BASE = "twf"
WAIT_S = 120.0
SETTLE_S = 10.0  # connected and running a while: caches warm, the first run's records written
MARKER = "FOOTPRINT-BLUEZ: "
# Distinct from the daemon test's cadence: a footpod's, not one the deck could report.
FOOTPOD_CADENCE = 163


def _config(broker: Mosquitto, state_dir: Path) -> str:
    return (
        f'state_dir = "{state_dir}"\n'
        f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\n'
        f'base_topic = "{BASE}"\nclient_id = "{BASE}"\n'
        '[ble]\nbackend = "bleak"\n'
        '[[treadmills]]\nname = "treadmill"\nmatch_name = "Footprint Treadmill"\n'
        '[[straps]]\nname = "strap"\nmatch_name = "Footprint Strap"\n'
        '[[footpods]]\nname = "footpod"\nmatch_name = "Footprint Footpod"\n'
    )


def _status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of `pid`, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            fields[name] = int(value.split()[0]) / 1024
    return fields


def _all_three(messages: list[Received]) -> bool:
    for message in messages:
        if message.topic != f"{BASE}/treadmill/state" or not message.payload:
            continue
        state = json.loads(message.payload)
        if state.get("cadence_spm") == FOOTPOD_CADENCE and state.get("heart_rate_bpm"):
            return True
    return False


async def test_the_daemon_with_a_treadmill_strap_and_footpod_on_bluez_reports_its_memory(
    bluez: BluezBench, mosquitto: Mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    treadmill = await bluez.add_treadmill(
        TreadmillConfig(
            name="Footprint Treadmill",
            profile=RunProfile.steady(60.0, 9.0),
            include_heart_rate=False,  # the heart rate comes from the strap only
        )
    )
    await bluez.add_strap(StrapConfig(name="Footprint Strap", follow=treadmill))
    await bluez.add_footpod(
        FootpodConfig(name="Footprint Footpod", follow=treadmill, cadence_spm=FOOTPOD_CADENCE)
    )
    config = tmp_path / "treadwell.toml"
    config.write_text(_config(mosquitto, tmp_path / "state"))
    async with subscriber(mosquitto, f"{BASE}/#") as sub:
        daemon = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "treadwell.daemon", "run", "--config", str(config),
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await sub.wait_for(
                _all_three, "the strap's heart rate and the footpod's cadence", WAIT_S
            )
            await asyncio.sleep(SETTLE_S)
            memory = _status(daemon.pid)
        finally:
            with contextlib.suppress(ProcessLookupError):
                daemon.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(daemon.communicate(), timeout=60)
    figures = {
        "rss_mb": round(memory["VmRSS"], 1),
        "peak_rss_mb": round(memory["VmHWM"], 1),
        "devices": ["treadmill", "strap", "footpod"],
        "python": sys.version.split()[0],
        "settle_s": SETTLE_S,
    }
    with capsys.disabled():  # on the VM's console whatever pytest's verbosity
        print(f"\n{MARKER}{json.dumps(figures)}", flush=True)  # noqa: T201 - the figure's way out
    assert daemon.returncode == 0, err.decode()[-2000:]

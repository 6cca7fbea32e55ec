"""I/O. Footprint of `treadwell run`: time to systemd READY, resident memory, import time.

    .venv/bin/python -m bench.footprint [--json] [--repeat R]

The daemon runs exactly as systemd starts it: `treadwell run --config FILE` in a subprocess,
with `NOTIFY_SOCKET` naming a datagram socket this bench binds, against a real mosquitto the
bench starts on a free loopback port. The configuration uses the virtual Bluetooth backend
with one treadmill, so the process also holds the Bumble virtual world (a real Raspberry Pi
holds bleak's BlueZ backend instead; Bumble is the larger of the two, so the figure errs
high).

* `ready_s`: from just before the process is spawned to the READY=1 datagram.
* `rss_mb`: VmRSS from /proc once the treadmill is connected (its availability is `online`
  at a subscriber) and the daemon has settled for a few seconds.
* `import_ms`: `python -X importtime -c "import treadwell.daemon.app"`, total and the
  heaviest top-level packages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aiomqtt

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 60.0
SETTLE_S = 3.0
_BROKER_START_S = 5.0
_KB_PER_MB = 1024.0


@dataclass
class Broker:
    """A throw-away mosquitto on 127.0.0.1 (no persistence)."""

    host: str
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Terminate the broker and wait for it."""
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def broker(workdir: Path, *, nodelay: bool = False) -> Iterator[Broker]:
    """Run mosquitto on a free loopback port for the block.

    With `nodelay`, mosquitto sets TCP_NODELAY on its client sockets (`set_tcp_nodelay`,
    off by default): see "The broker's Nagle" in bench/README.md.

    Raises:
        RuntimeError: mosquitto is not installed or does not start.
    """
    binary = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
    if binary is None:
        raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
    port = _free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        + ("set_tcp_nodelay true\n" if nodelay else "")
    )
    process = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    running = Broker("127.0.0.1", port, process)
    deadline = time.monotonic() + _BROKER_START_S
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        if process.poll() is not None or time.monotonic() > deadline:
            running.stop()
            raise RuntimeError(f"mosquitto did not start on port {port}")
        time.sleep(0.02)
    try:
        yield running
    finally:
        running.stop()


def daemon_config(workdir: Path, host: str, port: int, base: str, backend: str) -> Path:
    """Write a `treadwell run` configuration: one treadmill and one strap on `backend`."""
    state = workdir / f"state-{base}"
    state.mkdir(exist_ok=True)
    path = workdir / f"{base}.toml"
    path.write_text(
        f'log_level = "WARNING"\nstate_dir = "{state}"\n\n'
        f'[mqtt]\nhost = "{host}"\nport = {port}\nbase_topic = "{base}"\n'
        f'client_id = "{base}"\n\n'
        f'[ble]\nbackend = "{backend}"\nvirtual_profile = "steady"\n\n'
        '[[treadmills]]\nname = "treadmill"\n\n[[straps]]\nname = "strap"\n'
    )
    return path


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


async def _wait_online(host: str, port: int, topic: str) -> None:
    async with aiomqtt.Client(host, port) as client:
        await client.subscribe(topic)
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            async for message in client.messages:
                if bytes(message.payload) == b"online":
                    return


@dataclass(frozen=True, slots=True)
class StartFigures:
    """One `treadwell run` start: seconds to READY, and resident memory once connected."""

    ready_s: float
    rss_mb: float


def measure_start(
    workdir: Path, host: str, port: int, base: str, backend: str = "virtual"
) -> StartFigures:
    """Start `treadwell run`, time READY=1, then read its RSS.

    With the virtual backend the RSS is read once the treadmill is connected; with bleak
    (no adapter on a bench machine: the links keep retrying) after settling.

    Raises:
        RuntimeError: The daemon exited or did not report READY in time.
    """
    config = daemon_config(workdir, host, port, base, backend)
    notify_path = workdir / f"{base}.notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(notify_path))
        notify.settimeout(READY_TIMEOUT_S)
        env = {**os.environ, "NOTIFY_SOCKET": str(notify_path)}
        command = [sys.executable, "-m", "treadwell.daemon", "run", "--config", str(config)]
        started = time.monotonic()
        log = (workdir / f"{base}.log").open("wb")
        process = subprocess.Popen(command, env=env, cwd=workdir, stderr=log)
        try:
            ready_s = _wait_ready(notify, started, process)
            if backend == "virtual":
                asyncio.run(_wait_online(host, port, f"{base}/treadmill/availability"))
            time.sleep(SETTLE_S)
            rss_mb = _rss_kb(process.pid) / _KB_PER_MB
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
    return StartFigures(ready_s, rss_mb)


def _wait_ready(notify: socket.socket, started: float, process: subprocess.Popen[bytes]) -> float:
    while True:
        try:
            data = notify.recv(4096)
        except TimeoutError:
            raise RuntimeError("treadwell run did not report READY=1 in time") from None
        if b"READY=1" in data.split(b"\n"):
            return time.monotonic() - started
        if process.poll() is not None:
            raise RuntimeError(f"treadwell run exited with status {process.returncode}")


def import_profile(module: str = "treadwell.daemon.app", top: int = 8) -> dict[str, object]:
    """Import `module` in a fresh interpreter under `-X importtime`.

    Returns the total, and the heaviest packages by the time spent in their own modules.
    """
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    packages: dict[str, int] = {}
    total_us = 0
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        if not self_us.strip().isdigit():
            continue  # the header line
        package = name.strip().split(".")[0]
        packages[package] = packages.get(package, 0) + int(self_us)
        total_us += int(self_us)
    heaviest = sorted(packages.items(), key=lambda item: item[1], reverse=True)[:top]
    return {
        "import_ms": round(total_us / 1000, 1),
        "heaviest_ms": {name: round(us / 1000, 1) for name, us in heaviest},
    }


def measure(host: str, port: int, workdir: Path, repeat: int) -> dict[str, object]:
    """READY time and RSS (medians of `repeat` starts per backend) and the import profile.

    `ready_s` and `rss_mb` are the virtual backend's (a treadmill really connects);
    `*_bleak` are the production path's (bleak, here without a Bluetooth adapter).
    """
    virtual = [measure_start(workdir, host, port, f"fpv{n}") for n in range(repeat)]
    bleak = [measure_start(workdir, host, port, f"fpb{n}", "bleak") for n in range(repeat)]
    return {
        "ready_s": round(statistics.median(s.ready_s for s in virtual), 3),
        "rss_mb": round(statistics.median(s.rss_mb for s in virtual), 1),
        "ready_s_bleak": round(statistics.median(s.ready_s for s in bleak), 3),
        "rss_mb_bleak": round(statistics.median(s.rss_mb for s in bleak), 1),
        "ready_s_all": [round(s.ready_s, 3) for s in virtual],
        "ready_s_bleak_all": [round(s.ready_s, 3) for s in bleak],
        **import_profile(),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the footprint figures (a table, or JSON with `--json`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=3, help="starts to take the median of")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, broker(Path(tmp)) as running:
        figures = measure(running.host, running.port, Path(tmp), args.repeat)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"start to READY, virtual    {figures['ready_s']:.3f} s   (target < 1.5 s)")
    print(f"start to READY, bleak      {figures['ready_s_bleak']:.3f} s")
    print(f"RSS, virtual, connected    {figures['rss_mb']:.1f} MB  (target < 80 MB)")
    print(f"RSS, bleak, no adapter     {figures['rss_mb_bleak']:.1f} MB")
    print(f"import app       {figures['import_ms']:.0f} ms")
    heaviest = figures["heaviest_ms"]
    if isinstance(heaviest, dict):
        for name, ms in heaviest.items():
            print(f"  {name:<22} {ms:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""I/O. Treadmill Data decoding speed: Treadwell's codec against peer FTMS decoders.

    .venv/bin/python bench/codec.py [--json] [--seconds S]

Every decoder gets the same 25-byte packet, the Life Fitness worked example of docs/ftms.md §3.5,
which announces eleven fields. Treadwell's codec is timed in this process. Each peer is
timed in a subprocess of its own throw-away virtual environment under
`.ci/cache/bench-venvs/` (created on first use; the peers never become project
dependencies), running a small timing script this bench writes out. pyftms 0.4.15 needs
Python >= 3.12 (on 3.11 pip quietly picks the broken 0.2.20), so every peer runs on a
pyenv Python 3.12. A peer that cannot be installed is reported and skipped.

The result is packets per second (the best of several rounds) and, for each peer, our
rate divided by theirs, with ours timed again right before each peer.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from treadwell.drivers.codec.treadmill_data import parse_treadmill_data

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".ci" / "cache" / "bench-venvs"
PACKET = bytes.fromhex("9E0517059202FB00000000FF7F7C00FF7F1B00FFFFFF698A00")
EXPECTED_SPEED_KMH = 13.03
ROUNDS = 5


def best_rate(call: Callable[[], object], seconds: float) -> float:
    """Return the best calls-per-second of several timed rounds sharing `seconds`."""
    count = 1
    while True:  # find a round size that takes a measurable time
        start = time.perf_counter()
        for _ in range(count):
            call()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / (ROUNDS * 4):
            break
        count *= 2
    best = 0.0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(count):
            call()
        best = max(best, count / (time.perf_counter() - start))
    return best


@dataclass(frozen=True, slots=True)
class Peer:
    """A peer decoder: how to install it and how to decode one packet with it."""

    name: str
    requirement: str
    setup: str  # Python source run once; defines `decode(data)` returning a speed in km/h
    note: str


PEERS = (
    Peer(
        "pyftms",
        "pyftms==0.4.15",
        "from pyftms.models import TreadmillData\n"
        "from pyftms.serializer import get_serializer\n"
        "_serializer = get_serializer(TreadmillData)\n"
        "def decode(data):\n"
        "    return _serializer.deserialize(data).speed_instant\n",
        "model deserializer, as its client does per notification",
    ),
    Peer(
        "deancochran-ftms",
        "deancochran-ftms==0.1.0a3",
        "from deancochran_ftms.measurements import MeasurementFormatOptions, decode_measurement\n"
        "_options = MeasurementFormatOptions(treadmill_pace_format='uint8Legacy')\n"
        "def decode(data):\n"
        "    metrics = decode_measurement('2acd', data, _options).measurement.metrics\n"
        "    return metrics.speed_mps * 3.6\n",
        "decode_measurement with the uint8 pace layout",
    ),
    Peer(
        "bluetooth-sig",
        "bluetooth-sig==0.6.0",
        "from bluetooth_sig.gatt.characteristics.treadmill_data import "
        "TreadmillDataCharacteristic\n"
        "_characteristic = TreadmillDataCharacteristic()\n"
        "def decode(data):\n"
        "    return _characteristic.parse_value(data).instantaneous_speed\n",
        "TreadmillDataCharacteristic.parse_value",
    ),
)

RUNNER = """\
import json, sys, time
from importlib import metadata
{timer}
{setup}
data = bytes.fromhex(sys.argv[1])
speed = decode(data)
rate = best_rate(lambda: decode(data), float(sys.argv[2]))
print(json.dumps({{"rate": rate, "speed_kmh": speed, "version": metadata.version(sys.argv[3])}}))
"""


def find_python312() -> str | None:
    """Find a Python 3.12 interpreter: pyenv's first, then one on PATH."""
    roots = []
    pyenv = shutil.which("pyenv")
    if pyenv:
        found = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        roots.append(found.stdout.strip())
    roots.append(os.environ.get("PYENV_ROOT", ""))
    roots.append(str(Path.home() / ".pyenv"))
    for root in filter(None, roots):
        for candidate in sorted(Path(root).glob("versions/3.12*/bin/python")):
            return str(candidate)
    return shutil.which("python3.12")


def ensure_venv(peer: Peer, python: str) -> Path:
    """Create the peer's venv and install it unless already done; return its python.

    Raises:
        RuntimeError: If the venv or the install fails (the message says why).
    """
    venv = VENVS / peer.name
    marker = venv / f".installed-{peer.requirement}"
    bin_python = venv / "bin" / "python"
    if marker.exists() and bin_python.exists():
        return bin_python
    VENVS.mkdir(parents=True, exist_ok=True)
    steps = [
        [python, "-m", "venv", "--clear", str(venv)],
        [str(bin_python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         peer.requirement],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()
            raise RuntimeError(reason[-1] if reason else f"{step[2]} failed")
    marker.write_text("ok\n")
    return bin_python


def measure_peer(peer: Peer, python: str, seconds: float) -> dict[str, object]:
    """Time one peer in its own venv; raises RuntimeError when that is impossible."""
    bin_python = ensure_venv(peer, python)
    script = VENVS / peer.name / "bench_codec_runner.py"
    timer = inspect.getsource(best_rate).replace("Callable[[], object]", "object")
    script.write_text(
        RUNNER.format(timer=f"ROUNDS = {ROUNDS}\n{timer}", setup=peer.setup), encoding="utf-8"
    )
    package = peer.requirement.split("==")[0]
    done = subprocess.run(
        [str(bin_python), str(script), PACKET.hex(), str(seconds), package],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else "the timing script failed")
    result: dict[str, object] = json.loads(done.stdout)
    speed = result["speed_kmh"]
    if not isinstance(speed, float) or abs(speed - EXPECTED_SPEED_KMH) > 0.01:
        raise RuntimeError(f"decoded speed {speed!r}, expected {EXPECTED_SPEED_KMH}")
    return result


def measure_ours(seconds: float) -> float:
    """Time Treadwell's decoder in this process."""
    record = parse_treadmill_data(PACKET)
    assert record.speed_kmh == EXPECTED_SPEED_KMH  # noqa: S101 - the bench checks itself
    return best_rate(lambda: parse_treadmill_data(PACKET), seconds)


def run(seconds: float, *, as_json: bool) -> dict[str, object]:
    """Measure everything and return the result, reporting progress unless `as_json`.

    The machine may be shared, so its load can drift during a run: our decoder is timed
    again right before each peer and each ratio compares those two neighbouring figures.
    The treadwell rate reported is the best of its measurements.
    """
    ours: list[float] = []
    rates: dict[str, float | None] = {}
    ratios: dict[str, float | None] = {}
    versions: dict[str, str] = {}
    skipped: dict[str, str] = {}
    python = find_python312()
    for peer in PEERS:
        ours.append(measure_ours(seconds))
        rates[peer.name] = ratios[peer.name] = None
        if python is None:
            skipped[peer.name] = "no Python 3.12 found (pyenv or python3.12 on PATH)"
        else:
            if not as_json:
                print(f"measuring {peer.name} ({peer.note}) ...", flush=True)
            try:
                result = measure_peer(peer, python, seconds)
            except RuntimeError as exc:
                skipped[peer.name] = str(exc)
            else:
                rate = float(str(result["rate"]))
                rates[peer.name] = rate
                ratios[peer.name] = ours[-1] / rate
                versions[peer.name] = str(result["version"])
        if peer.name in skipped and not as_json:
            print(f"cannot measure {peer.name}: {skipped[peer.name]}", flush=True)
    return {
        "packet": PACKET.hex(" "),
        "packets_per_s": {"treadwell": max(ours), **rates},
        "ratio_vs": ratios,
        "versions": versions,
        "skipped": skipped,
    }


def render_table(result: dict[str, object]) -> str:
    """Format the result as a small text table."""
    rates: dict[str, float | None] = result["packets_per_s"]  # type: ignore[assignment]
    ratios: dict[str, float | None] = result["ratio_vs"]  # type: ignore[assignment]
    versions: dict[str, str] = result["versions"]  # type: ignore[assignment]
    lines = [
        f"Treadmill Data, {len(PACKET)}-byte packet: {result['packet']}",
        f"{'decoder':<24}{'packets/s':>12}{'us/packet':>12}{'treadwell is':>16}",
    ]
    for name, rate in rates.items():
        label = f"{name} {versions.get(name, '')}".strip()
        if rate is None:
            lines.append(f"{label:<24}{'not measured':>12}")
            continue
        ratio = ratios.get(name)
        times = "" if ratio is None else f"{ratio:.1f}x faster"
        lines.append(f"{label:<24}{rate:>12,.0f}{1e6 / rate:>12.2f}{times:>16}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="time budget per decoder (default: 2)"
    )
    args = parser.parse_args(argv)
    result = run(args.seconds, as_json=args.json)
    print(json.dumps(result) if args.json else render_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

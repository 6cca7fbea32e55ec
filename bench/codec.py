"""I/O. Treadmill Data decoding speed: Treadwell's codec against peer FTMS decoders.

    .venv/bin/python -m bench.codec [--json] [--seconds S] [--python PATH]

Every decoder gets the same 25-byte packet, the Life Fitness worked example of docs/ftms.md §3.5,
which announces eleven fields. All of them, Treadwell's codec included, are timed in one
process on one interpreter, in one run. pyftms 0.4.15 needs Python >= 3.12 (on 3.11 pip quietly
picks the broken 0.2.20), so that interpreter is a Python 3.12 (pyenv's first, then
`python3.12` on PATH, or `--python`). This bench builds a throw-away virtual environment of it
under `.ci/cache/bench-venvs/` (on first use) holding the peers and the project's codec (an
editable install without dependencies: the codec needs only the standard library), then runs
itself there with `--inside`. The peers never become project dependencies. A peer that cannot
be installed or imported is reported and skipped.

The result is packets per second (the best of several rounds) and, for each peer, our rate
divided by theirs, with ours timed again right before each peer so that a load change on a
shared machine hits both sides of a ratio alike. The output names the interpreter. The rate
of our codec on the project's own interpreter is reported too, for reference only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def ensure_venv(python: str) -> Path:
    """Create the shared bench venv of `python` with every peer and our codec; return its python.

    A peer whose install fails is left out (the run inside reports it as not importable).

    Raises:
        RuntimeError: If the venv itself or the project's install fails (the message says why).
    """
    version = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    venv = VENVS / f"codec-py{version}"
    bin_python = venv / "bin" / "python"
    marker = venv / (".installed-" + "+".join(peer.requirement for peer in PEERS))
    if marker.exists() and bin_python.exists():
        return bin_python
    VENVS.mkdir(parents=True, exist_ok=True)
    pip = [str(bin_python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _step([python, "-m", "venv", "--clear", str(venv)])
    _step([*pip, "--no-deps", "-e", str(ROOT)])
    for peer in PEERS:
        try:
            _step([*pip, peer.requirement])
        except RuntimeError as exc:
            print(f"cannot install {peer.requirement}: {exc}", file=sys.stderr, flush=True)
    marker.write_text("ok\n")
    return bin_python


def _step(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(reason[-1] if reason else f"{command[2]} failed")


def measure_ours(seconds: float) -> float:
    """Time Treadwell's decoder in this process."""
    record = parse_treadmill_data(PACKET)
    assert record.speed_kmh == EXPECTED_SPEED_KMH  # noqa: S101 - the bench checks itself
    return best_rate(lambda: parse_treadmill_data(PACKET), seconds)


def _peer_decoder(peer: Peer) -> tuple[Callable[[bytes], object], str]:
    """Import a peer in this process; return its decode function and version.

    Raises:
        RuntimeError: If the peer cannot be imported or decodes the packet wrongly.
    """
    from importlib import metadata

    namespace: dict[str, Any] = {}
    try:
        exec(peer.setup, namespace)  # noqa: S102 - our own fixed source, above
        version = metadata.version(peer.requirement.split("==")[0])
    except Exception as exc:  # any failure means: skip this peer, say why
        raise RuntimeError(f"not importable here: {exc!r}") from exc
    decode: Callable[[bytes], object] = namespace["decode"]
    speed = decode(PACKET)
    if not isinstance(speed, float) or abs(speed - EXPECTED_SPEED_KMH) > 0.01:
        raise RuntimeError(f"decoded speed {speed!r}, expected {EXPECTED_SPEED_KMH}")
    return decode, version


def run_inside(seconds: float) -> dict[str, Any]:
    """Time our codec and every peer in this process (the shared interpreter)."""
    ours: list[float] = []
    rates: dict[str, float | None] = {}
    ratios: dict[str, float | None] = {}
    versions: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for peer in PEERS:
        rates[peer.name] = ratios[peer.name] = None
        try:
            decode, versions[peer.name] = _peer_decoder(peer)
        except RuntimeError as exc:
            skipped[peer.name] = str(exc)
            continue
        ours.append(measure_ours(seconds))
        rate = best_rate(lambda decode=decode: decode(PACKET), seconds)  # type: ignore[misc]
        rates[peer.name] = rate
        ratios[peer.name] = ours[-1] / rate
    if not ours:
        ours.append(measure_ours(seconds))
    return {
        "packet": PACKET.hex(" "),
        "python": f"CPython {platform.python_version()}"
        if platform.python_implementation() == "CPython"
        else f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "packets_per_s": {"treadwell": max(ours), **rates},
        "ratio_vs": ratios,
        "versions": versions,
        "skipped": skipped,
    }


def run(seconds: float, python: str | None, *, as_json: bool) -> dict[str, Any]:
    """Build (or reuse) the shared venv, run the timing there, add our rate on this Python.

    Raises:
        RuntimeError: If no suitable interpreter is found or its venv cannot be built.
    """
    python = python or find_python312()
    if python is None:
        raise RuntimeError("no Python 3.12 found (pyenv or python3.12 on PATH); pass --python")
    if not as_json:
        print(f"preparing the bench venv of {python} ...", flush=True)
    bin_python = ensure_venv(python)
    done = subprocess.run(
        [str(bin_python), "-m", "bench.codec", "--inside", "--seconds", str(seconds)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else "the timing run failed")
    result: dict[str, Any] = json.loads(done.stdout)
    result["treadwell_on_project_python"] = {
        "python": f"CPython {platform.python_version()}",
        "packets_per_s": measure_ours(seconds),
    }
    return result


def render_table(result: dict[str, Any]) -> str:
    """Format the result as a small text table."""
    rates: dict[str, float | None] = result["packets_per_s"]
    ratios: dict[str, float | None] = result["ratio_vs"]
    versions: dict[str, str] = result["versions"]
    lines = [
        f"Treadmill Data, {len(PACKET)}-byte packet: {result['packet']}",
        f"every decoder below on {result['python']} ({result['executable']}), one process",
        f"{'decoder':<24}{'packets/s':>12}{'us/packet':>12}{'treadwell is':>16}",
    ]
    for name, rate in rates.items():
        label = f"{name} {versions.get(name, '')}".strip()
        if rate is None:
            reason = result["skipped"].get(name, "")
            lines.append(f"{label:<24}{'not measured':>12}  {reason}")
            continue
        ratio = ratios.get(name)
        times = "" if ratio is None else f"{ratio:.1f}x faster"
        lines.append(f"{label:<24}{rate:>12,.0f}{1e6 / rate:>12.2f}{times:>16}")
    own = result.get("treadwell_on_project_python")
    if own is not None:
        lines.append(
            f"(for reference: treadwell on {own['python']}, the project's interpreter:"
            f" {own['packets_per_s']:,.0f} packets/s)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="time budget per decoder (default: 2)"
    )
    parser.add_argument("--python", help="the interpreter to time everything on (>= 3.12)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        print(json.dumps(run_inside(args.seconds)))
        return 0
    try:
        result = run(args.seconds, args.python, as_json=args.json)
    except RuntimeError as exc:
        print(f"bench.codec: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else render_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Bootstrap a virtual environment and run Treadwell's demo or its whole test suite.

    python3 .ci/dev.py demo [demo options]   the demo (virtual treadmill, embedded broker)
    python3 .ci/dev.py test [pytest options] every test, with coverage
    python3 .ci/dev.py setup                 only create/refresh .venv

Needs nothing but Python >= 3.11 and pip. The environment lives in `.venv` beside this
folder and is refreshed whenever pyproject.toml changes. The MQTT tests need mosquitto:
when it is missing and this runs as root on a Debian-like system it is installed with
apt-get; otherwise the test run says which tests it could not run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".treadwell-installed"
MIN_PYTHON = (3, 11)
PACKAGES = ("daemon", "drivers", "rules")
# Only the codecs and the rules engine are held to 100% branch coverage; the rest to 85%.
PURE = ["rules/*", "drivers/codec/*"]
OVERALL_FLOOR = 85


def _say(text: str) -> None:
    print(f"[dev] {text}", flush=True)


def _run(*cmd: str | Path, check: bool = True, env: dict[str, str] | None = None) -> int:
    return subprocess.run([str(c) for c in cmd], check=check, cwd=ROOT, env=env).returncode


def _quiet(*cmd: str | Path) -> None:
    """Run an install step; show its output only if it fails."""
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        sys.exit(f"[dev] failed: {' '.join(str(c) for c in cmd)}")


def setup() -> None:
    """Create .venv and install the project with its dev extras when pyproject changed."""
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"Treadwell needs Python >= 3.11, this is {sys.version.split()[0]}")
    # The strict editable install links file by file: refresh it when a module is added too.
    sources = sorted(str(p.relative_to(ROOT)) for d in PACKAGES for p in (ROOT / d).rglob("*.py"))
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + "\n".join(sources).encode()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest and (BIN / "treadwell").exists():
        return
    if not (BIN / "python").exists():
        _say(f"creating {VENV}")
        venv.create(VENV, with_pip=True)
    _say("installing Treadwell and its test tools into .venv (first run takes a minute)")
    pip = [BIN / "python", "-m", "pip", "--disable-pip-version-check", "-q"]
    _quiet(*pip, "install", "--upgrade", "pip", "setuptools", "wheel")
    _quiet(*pip, "install", "-e", ".[dev,demo]", "--config-settings", "editable_mode=strict")
    STAMP.write_text(digest)


def ensure_mosquitto() -> None:
    """Install mosquitto when missing and we may; otherwise say what will be skipped."""
    if shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        _say("mosquitto is missing: installing it with apt-get")
        quiet = {"stdout": subprocess.DEVNULL}
        subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)  # type: ignore[call-overload]
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "mosquitto"],
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            **quiet,
        )
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        _say(
            "mosquitto is not installed and could not be installed here: the tests marked "
            "'mqtt' (the MQTT contract, outbox, daemon and demo tests) will be SKIPPED. "
            "Install it with your package manager (e.g. `sudo apt-get install mosquitto`)."
        )


def test(extra: list[str]) -> int:
    """Run the whole suite under coverage and enforce the coverage floors."""
    ensure_mosquitto()
    py = BIN / "python"
    _run(py, "-m", "coverage", "erase")
    rc = _run(py, "-m", "coverage", "run", "-m", "pytest", *extra, check=False)
    if rc != 0:
        return rc
    _run(py, "-m", "coverage", "combine", "-q", check=False)
    _say("coverage of the pure code (codecs and rules), which must be 100%:")
    rc = _run(
        py, "-m", "coverage", "report", "--include", ",".join(PURE), "--fail-under=100", check=False
    )
    if rc != 0:
        _say("FAILED: the codecs and rules must keep 100% branch coverage")
        return rc
    _say(f"overall branch coverage (floor {OVERALL_FLOOR}%):")
    rc = _run(
        py,
        "-m",
        "coverage",
        "report",
        "--format=total",
        f"--fail-under={OVERALL_FLOOR}",
        check=False,
    )
    if rc != 0:
        _say(f"FAILED: overall coverage fell below {OVERALL_FLOOR}%")
    return rc


def main(argv: list[str]) -> int:
    """Dispatch `setup`, `test` or `demo`."""
    if not argv or argv[0] not in {"setup", "test", "demo"}:
        print(__doc__)
        return 2
    setup()
    if argv[0] == "test":
        return test(argv[1:])
    if argv[0] == "demo":
        return _run(BIN / "treadwell", "demo", *argv[1:], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

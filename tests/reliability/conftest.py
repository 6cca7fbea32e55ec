"""Fixtures of the reliability suite."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from tests.support.mosquitto import Mosquitto, find_mosquitto

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real mosquitto whose persistent store survives its restarts.

    Run as root, mosquitto drops to its own user, which cannot write into pytest's private
    temporary directories: its store (and so every queued session) would vanish on restart.
    """
    binary = find_mosquitto()
    if binary is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    extra = "user root\n" if os.geteuid() == 0 else ""
    process = Mosquitto(binary=binary, workdir=workdir, extra_config=extra)
    process.start()
    try:
        yield process
    finally:
        process.stop()

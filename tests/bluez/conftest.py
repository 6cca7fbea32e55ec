"""The BlueZ suite: plain bleak on the guest's BlueZ, the emulated devices behind /dev/vhci.

These tests run only inside the throw-away VM that `bash .ci/bluez/run` boots (its init sets
TREADWELL_BLUEZ_VM=1 and the kernel there has /dev/vhci); everywhere else they are skipped, so
the normal suite stays fast. Each test gets a fresh kernel controller (`bluez` fixture): a
Bumble controller on /dev/vhci, linked to the peripherals the test adds, powered on in BlueZ.
"""

from __future__ import annotations

import gc
import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.bluez.bench import BluezBench, open_bench, wait_adapter_gone
from tests.bluez.vhci import VHCI_PATH

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

VM_ENV = "TREADWELL_BLUEZ_VM"


def pytest_configure(config: pytest.Config) -> None:
    """Register the `bluez` marker (until pyproject.toml lists it)."""
    config.addinivalue_line("markers", "bluez: runs only inside the BlueZ VM (.ci/bluez/run)")


def in_bluez_vm() -> bool:
    """Whether this process runs in the BlueZ VM (its init script says so, and vhci exists)."""
    return os.environ.get(VM_ENV) == "1" and Path(VHCI_PATH).exists()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the `bluez` tests outside the VM, saying how to run them."""
    del config
    if in_bluez_vm():
        return
    skip = pytest.mark.skip(reason="needs the BlueZ VM: run `bash .ci/bluez/run`")
    for item in items:
        if "bluez" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
async def bluez() -> AsyncIterator[BluezBench]:
    """A fresh kernel controller on /dev/vhci, powered on in BlueZ, with no devices yet."""
    logging.getLogger("bumble").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # What earlier tests left (a failed test's traceback keeps its objects alive) is theirs:
        # collect it quietly here, so only what this test leaks is blamed on it below.
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    bench = await open_bench()
    try:
        yield bench
    finally:
        await bench.close()
        await wait_adapter_gone()
        # A D-Bus connection someone forgot to close warns when collected: collect now, so the
        # warning (an error under filterwarnings=error) lands on the test that leaked it.
        gc.collect()

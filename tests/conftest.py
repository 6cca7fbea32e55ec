"""Shared test configuration and fixtures."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import pytest

from tests.support.mosquitto import Mosquitto, find_mosquitto

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


_SPARE_LOOP = pytest.StashKey[asyncio.AbstractEventLoop]()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Give pytest-asyncio's "current loop" lookup a loop we close.

    On Python 3.11 a plain test that runs before the first async one makes pytest-asyncio
    create a loop it never closes: a ResourceWarning, an error under filterwarnings=error.
    """
    session.config.stash[_SPARE_LOOP] = loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Close the loop made in `pytest_sessionstart`."""
    asyncio.set_event_loop(None)
    session.config.stash[_SPARE_LOOP].close()


@pytest.fixture(autouse=True)
def _quiet_bumble() -> None:
    # Bumble formats huge HCI dumps eagerly at DEBUG (docs/virtual-ble.md quirk 9).
    logging.getLogger("bumble").setLevel(logging.WARNING)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need mosquitto are skipped, loudly, where it is not installed."""
    del config
    if find_mosquitto() is not None:
        return
    skip = pytest.mark.skip(reason="mosquitto is not installed (apt-get install mosquitto)")
    for item in items:
        if "mqtt" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh real mosquitto on a free loopback port, stopped after the test."""
    binary = find_mosquitto()
    if binary is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    broker = Mosquitto(binary=binary, workdir=workdir)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()

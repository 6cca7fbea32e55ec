"""Fixtures for the virtual Bluetooth world tests: a world per test, checked for leaked tasks."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture
async def world() -> AsyncIterator[VirtualWorld]:
    """An open virtual world; after the test it must close without leaving a task behind."""
    async with VirtualWorld() as opened:
        yield opened
    await asyncio.sleep(0)
    leftover = {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}
    assert not leftover, f"tasks outlived the world: {leftover}"

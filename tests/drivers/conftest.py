"""Fixtures for the driver tests: a virtual world per test, checked for leaked tasks."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from treadwell.drivers.virtual.world import VirtualWorld

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

# pytest-asyncio 1.5 on Python 3.11 asks for "the current event loop" before each async test;
# while none was ever set, the default policy quietly creates one that nobody closes, and its
# ResourceWarning then fails whichever later test the garbage collector happens to run in.
# Marking the loop as explicitly unset makes that lookup fail cleanly instead.
asyncio.set_event_loop(None)


@pytest.fixture
async def world() -> AsyncIterator[VirtualWorld]:
    """An open virtual world; after the test nothing the test or the world started may run."""
    async with VirtualWorld() as opened:
        yield opened
    await asyncio.sleep(0)
    leftover = {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}
    assert not leftover, f"tasks outlived the test: {leftover}"

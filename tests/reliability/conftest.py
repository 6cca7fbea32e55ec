"""Fixtures of the reliability suite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.mosquitto import Mosquitto


@pytest.fixture
def broker(mosquitto: Mosquitto) -> Mosquitto:
    """A real mosquitto whose persistent store survives its restarts (the shared fixture)."""
    return mosquitto

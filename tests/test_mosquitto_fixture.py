from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt


def test_broker_accepts_connections_and_survives_a_restart(mosquitto: Mosquitto) -> None:
    with socket.create_connection((mosquitto.host, mosquitto.port), timeout=1):
        pass
    mosquitto.restart()
    assert mosquitto.running
    with socket.create_connection((mosquitto.host, mosquitto.port), timeout=1):
        pass

"""The bench's radio process: bleak over a socket behaves as bleak on the world itself does."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError

from bench.radio import RadioProcess
from bench.world import SPEED_KMH, local_world
from treadwell.drivers.codec.treadmill_data import parse_treadmill_data
from treadwell.drivers.uuids import (
    CONTROL_POINT_UUID,
    FITNESS_MACHINE_FEATURE_UUID,
    FTMS_SERVICE_UUID,
    HEART_RATE_MEASUREMENT_UUID,
    TREADMILL_DATA_UUID,
)

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.perf

WAIT_S = 60.0
ATT_CCCD_IMPROPERLY_CONFIGURED = 0xFD


async def _notifications(client: BleakClient, uuid: str, count: int) -> list[bytearray]:
    got: list[bytearray] = []
    enough = asyncio.Event()

    def on_value(_char: object, value: bytearray) -> None:
        got.append(value)
        if len(got) >= count:
            enough.set()

    await client.start_notify(uuid, on_value)
    async with asyncio.timeout(WAIT_S):
        await enough.wait()
    await client.stop_notify(uuid)
    return got


async def test_a_client_through_the_radio_sees_what_a_client_in_the_world_sees(
    tmp_path: Path,
) -> None:
    async with local_world(1) as here:
        pair = here.pairs["t0"]
        async with BleakClient(pair.address, backend=here.backend.client, timeout=WAIT_S) as c:
            local = (
                sorted(s.uuid for s in c.services),
                await c.read_gatt_char(FITNESS_MACHINE_FEATURE_UUID),
            )
    async with RadioProcess(1, tmp_path) as there:
        pair = there.pairs["t0"]
        async with BleakClient(pair.address, backend=there.backend.client, timeout=WAIT_S) as c:
            remote = (
                sorted(s.uuid for s in c.services),
                await c.read_gatt_char(FITNESS_MACHINE_FEATURE_UUID),
            )
            assert c.mtu_size > 23  # the radio's side asked for a large MTU, as BlueZ does
    assert FTMS_SERVICE_UUID in remote[0]
    assert remote == local


async def test_notifications_and_stamps_cross_the_socket(tmp_path: Path) -> None:
    async with RadioProcess(1, tmp_path) as world:
        pair = world.pairs["t0"]
        async with BleakClient(pair.address, backend=world.backend.client, timeout=WAIT_S) as c:
            values = await _notifications(c, TREADMILL_DATA_UUID, 3)
        async with BleakClient(
            pair.strap_address, backend=world.backend.client, timeout=WAIT_S
        ) as strap:
            assert await _notifications(strap, HEART_RATE_MEASUREMENT_UUID, 1)
        stamps = await world.stamps(0.0, float("inf"))
        assert await world.cpu_s() is not None
    readings = [parse_treadmill_data(bytes(v)) for v in values]
    assert all(r.speed_kmh == SPEED_KMH for r in readings)
    assert len(stamps) >= len(values)
    assert {slug for slug, _, _ in stamps} == {"t0"}


async def test_the_device_s_att_error_reaches_the_caller_as_bleak_reports_it(
    tmp_path: Path,
) -> None:
    async with RadioProcess(1, tmp_path) as world:
        pair = world.pairs["t0"]
        async with BleakClient(pair.address, backend=world.backend.client, timeout=WAIT_S) as c:
            with pytest.raises(BleakGATTProtocolError) as raised:
                # A control point write before its indications are on (FTMS 4.16.2).
                await c.write_gatt_char(CONTROL_POINT_UUID, b"\x00", response=True)
    assert raised.value.code == ATT_CCCD_IMPROPERLY_CONFIGURED


async def test_a_request_the_radio_cannot_answer_fails_with_its_reason(tmp_path: Path) -> None:
    async with RadioProcess(1, tmp_path) as world:
        with pytest.raises(BleakError, match="no operation 'warp'"):
            await world.radio.request("warp")
        with pytest.raises(BleakError, match="KeyError"):
            await world.radio.request("press_stop", slug="t9")  # no such treadmill
        await world.press_stop("t0")  # and the radio still answers


async def test_an_address_nothing_advertises_is_not_found(tmp_path: Path) -> None:
    async with RadioProcess(1, tmp_path) as world:
        client = BleakClient("C0:7E:AD:FF:FF:FE", backend=world.backend.client, timeout=1.0)
        with pytest.raises(BleakDeviceNotFoundError):
            await client.connect()


async def test_scanning_through_the_radio_finds_the_world_s_devices(tmp_path: Path) -> None:
    async with RadioProcess(1, tmp_path) as world:
        scanner = world.backend.scanner
        assert scanner is not None
        found = await BleakScanner.find_device_by_name(
            world.pairs["t0"].name, timeout=WAIT_S, backend=scanner
        )
    assert found is not None
    assert found.address == world.pairs["t0"].address


async def test_when_the_radio_process_goes_the_link_drops_and_requests_fail(
    tmp_path: Path,
) -> None:
    gone = asyncio.Event()
    async with RadioProcess(1, tmp_path) as world:
        pair = world.pairs["t0"]
        client = BleakClient(
            pair.address,
            backend=world.backend.client,
            timeout=WAIT_S,
            disconnected_callback=lambda _: gone.set(),
        )
        await client.connect()
        await world.stop()  # the radio dies under a connected client
        async with asyncio.timeout(WAIT_S):
            await gone.wait()
        assert not client.is_connected
        with pytest.raises(BleakError):
            await world.radio.request("cpu")

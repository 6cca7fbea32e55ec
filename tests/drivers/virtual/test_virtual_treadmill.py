"""The virtual FTMS treadmill end to end through `BleakClient` and the codecs."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from bleak import BleakClient
from bleak.exc import BleakGATTProtocolError

from tests.drivers.virtual.virtual_helpers import Inbox, client_for, control
from treadwell.drivers.codec.ftms import (
    ControlOp,
    InclinationRange,
    MachineFeature,
    MachineStatusOp,
    ResultCode,
    SpeedRange,
    TargetSetting,
    TrainingStatusCode,
    TreadmillRecordAssembler,
    encode_request_control,
    encode_reset,
    encode_set_target_inclination,
    encode_set_target_speed,
    encode_start_or_resume,
    encode_stop_or_pause,
    parse_fitness_machine_feature,
    parse_machine_status,
    parse_supported_inclination_range,
    parse_supported_speed_range,
    parse_training_status,
    parse_treadmill_data,
)
from treadwell.drivers.uuids import (
    CONTROL_POINT_UUID,
    FITNESS_MACHINE_FEATURE_UUID,
    MACHINE_STATUS_UUID,
    SUPPORTED_INCLINATION_RANGE_UUID,
    SUPPORTED_SPEED_RANGE_UUID,
    TRAINING_STATUS_UUID,
    TREADMILL_DATA_UUID,
)
from treadwell.drivers.virtual.treadmill import KM_PER_MILE, TreadmillConfig

if TYPE_CHECKING:
    from treadwell.drivers.virtual.world import VirtualWorld

pytestmark = pytest.mark.looptime


async def test_feature_and_ranges_read_back_as_configured(world: VirtualWorld) -> None:
    config = TreadmillConfig(
        speed_range=SpeedRange(1.0, 16.0, 0.1), incline_range=InclinationRange(-3.0, 15.0, 1.0)
    )
    treadmill = await world.add_treadmill(config)
    async with client_for(world, treadmill.address) as client:
        features = parse_fitness_machine_feature(
            await client.read_gatt_char(FITNESS_MACHINE_FEATURE_UUID)
        )
        speed = parse_supported_speed_range(await client.read_gatt_char(SUPPORTED_SPEED_RANGE_UUID))
        incline = parse_supported_inclination_range(
            await client.read_gatt_char(SUPPORTED_INCLINATION_RANGE_UUID)
        )
        training = parse_training_status(await client.read_gatt_char(TRAINING_STATUS_UUID))
    assert MachineFeature.INCLINATION in features.features
    assert MachineFeature.HEART_RATE in features.features
    assert features.target_settings == TargetSetting.SPEED | TargetSetting.INCLINATION
    assert speed == SpeedRange(1.0, 16.0, 0.1)
    assert incline == InclinationRange(-3.0, 15.0, 1.0)
    assert training.status == TrainingStatusCode.IDLE


async def test_a_treadmill_without_an_incline_range_has_no_2ad5(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(incline_range=None))
    async with client_for(world, treadmill.address) as client:
        assert client.services.get_characteristic(SUPPORTED_INCLINATION_RANGE_UUID) is None
        assert client.services.get_characteristic(TREADMILL_DATA_UUID) is not None


async def test_treadmill_data_follows_the_belt(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    treadmill.set_belt(8.0)
    data = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(TREADMILL_DATA_UUID, data)
        records = [parse_treadmill_data(await data.next()) for _ in range(10)]
    assert all(record.speed_kmh == 8.0 for record in records)
    distances = [record.total_distance_m or 0 for record in records]
    assert distances == sorted(distances)
    assert 19 <= distances[-1] - distances[0] <= 21  # 8 km/h for 9 s = 20 m
    assert records[-1].elapsed_time_s is not None
    assert records[-1].elapsed_time_s >= 10
    assert records[-1].heart_rate_bpm is not None


async def test_control_point_write_without_indications_is_refused_with_0xfd(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill()
    async with client_for(world, treadmill.address) as client:
        with pytest.raises(BleakGATTProtocolError) as raised:
            await client.write_gatt_char(
                CONTROL_POINT_UUID, encode_request_control(), response=True
            )
    assert raised.value.code == 0xFD
    assert treadmill.control_log == []
    assert not treadmill.controller_granted


async def test_request_control_then_set_incline_moves_the_deck(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    treadmill.set_belt(5.0)
    answers, data = Inbox(), Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(CONTROL_POINT_UUID, answers)
        await client.start_notify(TREADMILL_DATA_UUID, data)
        granted = await control(client, answers, encode_request_control())
        assert (granted.request_op, granted.result) == (
            ControlOp.REQUEST_CONTROL,
            ResultCode.SUCCESS,
        )
        assert treadmill.controller_granted
        done = await control(client, answers, encode_set_target_inclination(4.5))
        assert (done.request_op, done.result) == (
            ControlOp.SET_TARGET_INCLINATION,
            ResultCode.SUCCESS,
        )
        inclines = [parse_treadmill_data(await data.next()).incline_pct for _ in range(7)]
    # The deck climbs at 1 %/s: it passes through intermediate values and settles on 4.5 %.
    assert inclines[-1] == 4.5
    assert any(0 < (value or 0) < 4.5 for value in inclines)
    assert [request.op for request in treadmill.control_log] == [
        ControlOp.REQUEST_CONTROL,
        ControlOp.SET_TARGET_INCLINATION,
    ]
    assert treadmill.control_log[-1].incline_pct == 4.5


@pytest.mark.parametrize(
    ("config", "incline", "expected"),
    [
        (TreadmillConfig(), 4.5, ResultCode.SUCCESS),
        (TreadmillConfig(), 4.3, ResultCode.INVALID_PARAMETER),
        (TreadmillConfig(), 15.5, ResultCode.INVALID_PARAMETER),
        (TreadmillConfig(), -1.0, ResultCode.INVALID_PARAMETER),
        (
            TreadmillConfig(incline_range=InclinationRange(0.0, 15.0, 1.0)),
            2.5,
            ResultCode.INVALID_PARAMETER,
        ),
        (TreadmillConfig(incline_range=InclinationRange(0.0, 15.0, 1.0)), 3.0, ResultCode.SUCCESS),
        (
            TreadmillConfig(incline_range=InclinationRange(-3.0, 15.0, 0.5)),
            -3.0,
            ResultCode.SUCCESS,
        ),
        (TreadmillConfig(incline_range=None), 2.0, ResultCode.OP_CODE_NOT_SUPPORTED),
        (TreadmillConfig(targets=TargetSetting.SPEED), 2.0, ResultCode.OP_CODE_NOT_SUPPORTED),
    ],
)
async def test_set_incline_is_checked_against_range_and_step(
    world: VirtualWorld, config: TreadmillConfig, incline: float, expected: ResultCode
) -> None:
    treadmill = await world.add_treadmill(config)
    treadmill.set_belt(5.0)
    answers = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(CONTROL_POINT_UUID, answers)
        await control(client, answers, encode_request_control())
        answer = await control(client, answers, encode_set_target_inclination(incline))
    assert answer.result == expected
    assert (treadmill.target_incline_pct == incline) == (expected == ResultCode.SUCCESS)


async def test_commands_without_control_are_not_permitted(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    answers = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(CONTROL_POINT_UUID, answers)
        answer = await control(client, answers, encode_set_target_inclination(2.0))
    assert answer.result == ResultCode.CONTROL_NOT_PERMITTED
    assert treadmill.target_incline_pct == 0.0


async def test_start_stop_and_pause_answer_and_refuse_repeats(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    answers, training = Inbox(), Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(CONTROL_POINT_UUID, answers)
        await client.start_notify(TRAINING_STATUS_UUID, training)
        await control(client, answers, encode_request_control())
        assert (
            await control(client, answers, encode_start_or_resume())
        ).result == ResultCode.SUCCESS
        assert treadmill.running
        assert parse_training_status(await training.next()).status == TrainingStatusCode.MANUAL_MODE
        again = await control(client, answers, encode_start_or_resume())
        assert again.result == ResultCode.OPERATION_FAILED
        paused = await control(client, answers, encode_stop_or_pause(pause=True))
        assert paused.result == ResultCode.SUCCESS
        assert (treadmill.running, treadmill.paused, treadmill.speed_kmh) == (False, True, 0.0)
        stopped = await control(client, answers, encode_stop_or_pause(pause=False))
        assert stopped.result == ResultCode.OPERATION_FAILED


async def test_set_speed_changes_the_belt_and_reset_drops_control(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    answers = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(CONTROL_POINT_UUID, answers)
        await control(client, answers, encode_request_control())
        await control(client, answers, encode_start_or_resume())
        assert (
            await control(client, answers, encode_set_target_speed(7.5))
        ).result == ResultCode.SUCCESS
        assert treadmill.speed_kmh == 7.5
        assert (await control(client, answers, encode_set_target_speed(25.0))).result == (
            ResultCode.INVALID_PARAMETER
        )
        assert (await control(client, answers, encode_reset())).result == ResultCode.SUCCESS
        assert not treadmill.controller_granted
        assert not treadmill.running
        after = await control(client, answers, encode_set_target_speed(5.0))
    assert after.result == ResultCode.CONTROL_NOT_PERMITTED


async def test_a_stopped_belt_refuses_sets_when_configured(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(reject_set_while_stopped=True))
    answers = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(CONTROL_POINT_UUID, answers)
        await control(client, answers, encode_request_control())
        refused = await control(client, answers, encode_set_target_inclination(2.0))
        treadmill.press_start()
        accepted = await control(client, answers, encode_set_target_inclination(2.0))
    assert refused.result == ResultCode.OPERATION_FAILED
    assert accepted.result == ResultCode.SUCCESS


async def test_status_goes_to_other_clients_and_console_actions_to_everyone(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill()
    treadmill.set_belt(5.0)
    phone = await world.add_central()
    answers, own_status, other_status = Inbox(), Inbox(), Inbox()
    async with (
        client_for(world, treadmill.address) as driver,
        BleakClient(treadmill.address, backend=phone.client) as watcher,
    ):
        await driver.start_notify(MACHINE_STATUS_UUID, own_status)
        await watcher.start_notify(MACHINE_STATUS_UUID, other_status)
        await driver.start_notify(CONTROL_POINT_UUID, answers)
        await control(driver, answers, encode_request_control())
        await control(driver, answers, encode_set_target_inclination(3.0))
        seen_by_watcher = parse_machine_status(await other_status.next())
        assert seen_by_watcher.op == MachineStatusOp.TARGET_INCLINE_CHANGED
        assert seen_by_watcher.target_incline_pct == 3.0
        assert await own_status.nothing_within(2.0)
        treadmill.set_incline_by_console(6.0)
        mine = parse_machine_status(await own_status.next())
        theirs = parse_machine_status(await other_status.next())
        treadmill.press_stop(pause=True)
        stop = parse_machine_status(await own_status.next())
    assert mine == theirs
    assert (mine.op, mine.target_incline_pct) == (MachineStatusOp.TARGET_INCLINE_CHANGED, 6.0)
    assert (stop.op, stop.paused) == (MachineStatusOp.STOPPED_OR_PAUSED, True)


async def test_revoke_control_sends_0xff_and_requires_a_new_request(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    treadmill.set_belt(5.0)
    answers, status = Inbox(), Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(MACHINE_STATUS_UUID, status)
        await client.start_notify(CONTROL_POINT_UUID, answers)
        await control(client, answers, encode_request_control())
        treadmill.revoke_control()
        lost = parse_machine_status(await status.next())
        refused = await control(client, answers, encode_set_target_inclination(1.0))
        await control(client, answers, encode_request_control())
        accepted = await control(client, answers, encode_set_target_inclination(1.0))
    assert lost.op == MachineStatusOp.CONTROL_PERMISSION_LOST
    assert refused.result == ResultCode.CONTROL_NOT_PERMITTED
    assert accepted.result == ResultCode.SUCCESS


async def test_a_second_client_cannot_take_control_while_the_first_holds_it(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill()
    phone = await world.add_central()
    first_answers, second_answers = Inbox(), Inbox()
    async with (
        client_for(world, treadmill.address) as first,
        BleakClient(treadmill.address, backend=phone.client) as second,
    ):
        await first.start_notify(CONTROL_POINT_UUID, first_answers)
        await second.start_notify(CONTROL_POINT_UUID, second_answers)
        assert (
            await control(first, first_answers, encode_request_control())
        ).result == ResultCode.SUCCESS
        taken = await control(second, second_answers, encode_request_control())
    assert taken.result == ResultCode.CONTROL_NOT_PERMITTED


async def test_split_records_reassemble_into_one_record(world: VirtualWorld) -> None:
    features = MachineFeature(0x1FFFF) & ~MachineFeature.CADENCE
    treadmill = await world.add_treadmill(TreadmillConfig(split_records=True, features=features))
    treadmill.set_belt(9.0)
    data = Inbox()
    assembler = TreadmillRecordAssembler()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(TREADMILL_DATA_UUID, data)
        record = None
        packets = 0
        while record is None:
            packet = await data.next()
            packets += 1
            assert len(packet) <= 20
            record = assembler.feed(parse_treadmill_data(packet), asyncio.get_running_loop().time())
    assert packets >= 2
    assert record.speed_kmh == 9.0
    assert record.total_distance_m is not None
    assert record.heart_rate_bpm is not None


async def test_truncated_packets_announce_fields_they_do_not_carry(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(truncate_at=8))
    treadmill.set_belt(6.0)
    data = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(TREADMILL_DATA_UUID, data)
        packet = await data.next()
    record = parse_treadmill_data(packet)
    assert len(packet) == 8
    assert record.truncated
    assert record.missing_fields
    assert record.speed_kmh == 6.0


async def test_mph_units_put_miles_in_the_kmh_fields(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(units_mph=True))
    treadmill.set_belt(8.0)
    data = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(TREADMILL_DATA_UUID, data)
        speed_range = parse_supported_speed_range(
            await client.read_gatt_char(SUPPORTED_SPEED_RANGE_UUID)
        )
        record = parse_treadmill_data(await data.next())
    assert record.speed_kmh == pytest.approx(8.0 / KM_PER_MILE, abs=0.01)
    assert speed_range.max_kmh == pytest.approx(20.0 / KM_PER_MILE, abs=0.01)


async def test_garbage_notifications_come_first_then_real_data(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    treadmill.set_belt(5.0)
    treadmill.garbage_next = 3
    data = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(TREADMILL_DATA_UUID, data)
        packets = [await data.next() for _ in range(4)]
    record = parse_treadmill_data(packets[-1])
    assert len(set(packets[:3])) == 3
    assert record.speed_kmh == 5.0
    assert not record.truncated


@pytest.mark.parametrize("forced", [ResultCode.OPERATION_FAILED, ResultCode.CONTROL_NOT_PERMITTED])
async def test_force_result_answers_every_request_with_it(
    world: VirtualWorld, forced: ResultCode
) -> None:
    treadmill = await world.add_treadmill()
    treadmill.force_result = forced
    answers = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(CONTROL_POINT_UUID, answers)
        answer = await control(client, answers, encode_request_control())
    assert answer.result == forced


async def test_an_ignored_request_gets_no_answer_and_is_still_logged(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    treadmill.ignore_control_point = True
    answers = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(CONTROL_POINT_UUID, answers)
        await client.write_gatt_char(CONTROL_POINT_UUID, encode_request_control(), response=True)
        assert await answers.nothing_within(5.0)
    assert [request.op for request in treadmill.control_log] == [ControlOp.REQUEST_CONTROL]


async def test_a_slow_indication_arrives_late_and_blocks_a_second_procedure(
    world: VirtualWorld,
) -> None:
    treadmill = await world.add_treadmill()
    treadmill.slow_indications_s = 3.0
    answers = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(CONTROL_POINT_UUID, answers)
        loop = asyncio.get_running_loop()
        sent = loop.time()
        await client.write_gatt_char(CONTROL_POINT_UUID, encode_request_control(), response=True)
        with pytest.raises(BleakGATTProtocolError) as busy:
            await client.write_gatt_char(
                CONTROL_POINT_UUID, encode_request_control(), response=True
            )
        await answers.next()
        waited = loop.time() - sent
    assert busy.value.code == 0xFE
    assert waited >= 3.0


async def test_a_malformed_request_is_answered_invalid_parameter(world: VirtualWorld) -> None:
    treadmill = await world.add_treadmill()
    answers = Inbox()
    async with client_for(world, treadmill.address) as client:
        await client.start_notify(CONTROL_POINT_UUID, answers)
        await control(client, answers, encode_request_control())
        answer = await control(client, answers, bytes([ControlOp.SET_TARGET_INCLINATION, 0x01]))
        with pytest.raises(BleakGATTProtocolError):
            await client.write_gatt_char(CONTROL_POINT_UUID, b"", response=True)
    assert answer.result == ResultCode.INVALID_PARAMETER


@pytest.mark.parametrize(
    ("incline_range", "resting"),
    [
        (InclinationRange(-3.0, 15.0, 0.5), 0.0),
        (InclinationRange(2.0, 15.0, 0.5), 2.0),
        (None, 0.0),
    ],
)
async def test_the_deck_rests_flat_or_at_the_nearest_end_of_its_range(
    world: VirtualWorld, incline_range: InclinationRange | None, resting: float
) -> None:
    treadmill = await world.add_treadmill(TreadmillConfig(incline_range=incline_range))
    assert treadmill.incline_pct == resting
    assert treadmill.target_incline_pct == resting

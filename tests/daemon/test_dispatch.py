"""Inputs are decided one at a time, in order; a reading with nothing before it, at once."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from treadwell.daemon.dispatch import Dispatch

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    import pytest


@dataclass(frozen=True)
class Reading:
    n: int


@dataclass(frozen=True)
class Command:
    n: int


class Broker:
    """The sender as the dispatch sees it: whether it has work; prompts taken when let go."""

    def __init__(self) -> None:
        self.sender_woken = False
        self.take_prompts = asyncio.Event()
        self.take_prompts.set()
        self.handovers = 0

    async def prompts_handed_over(self, limit_s: float) -> bool:
        self.handovers += 1
        async with asyncio.timeout(limit_s):
            await self.take_prompts.wait()
        return True


@dataclass
class Decider:
    """Records what it decided, and when (`log`); `rests` names inputs whose rest waits."""

    log: list[object] = field(default_factory=list)
    rests: set[object] = field(default_factory=set)
    fail: set[object] = field(default_factory=set)

    def __call__(self, item: object) -> Callable[[], None] | None:
        if item in self.fail:
            raise RuntimeError(f"cannot decide {item}")
        self.log.append(item)
        if item in self.rests:
            return lambda: self.log.append(("rest of", item))
        return None


@contextlib.asynccontextmanager
async def dispatching(
    decider: Decider, broker: Broker
) -> AsyncIterator[Dispatch[Reading | Command]]:
    dispatch: Dispatch[Reading | Command] = Dispatch(
        decider, at_once=Reading, sender=broker, handover_s=30.0
    )
    task = asyncio.create_task(dispatch.run())
    await until(lambda: dispatch.waiting)
    try:
        yield dispatch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0)


async def test_a_reading_that_finds_the_queue_empty_is_decided_before_take_returns() -> None:
    decider = Decider()
    async with dispatching(decider, Broker()) as dispatch:
        dispatch.take(Reading(1))
        assert decider.log == [Reading(1)]
        assert dispatch.waiting
        assert dispatch.heartbeat is not None


async def test_other_inputs_go_through_the_queue_in_order_and_a_reading_waits_behind_them() -> None:
    decider = Decider()
    async with dispatching(decider, Broker()) as dispatch:
        dispatch.take(Command(1))  # not a reading: queued even from a link
        dispatch.put(Command(2))
        dispatch.take(Reading(3))  # inputs wait before it: it waits its turn
        assert decider.log == []
        await until(lambda: len(decider.log) == 3)
        assert decider.log == [Command(1), Command(2), Reading(3)]
        assert dispatch.waiting


async def test_a_reading_waits_while_the_sender_has_work_to_publish_first() -> None:
    decider, broker = Decider(), Broker()
    async with dispatching(decider, broker) as dispatch:
        broker.sender_woken = True
        dispatch.take(Reading(1))
        assert decider.log == []
        await until(lambda: decider.log == [Reading(1)])


async def test_the_rest_of_a_decision_waits_for_the_broker_and_so_does_the_next_input() -> None:
    decider, broker = Decider(rests={Reading(1)}), Broker()
    broker.take_prompts.clear()
    async with dispatching(decider, broker) as dispatch:
        dispatch.take(Reading(1))  # decided at once; its rest cannot wait in a callback
        dispatch.take(Reading(2))  # so this one queues behind that rest
        await until(lambda: broker.handovers == 1)
        assert decider.log == [Reading(1)]
        broker.take_prompts.set()
        await until(lambda: len(decider.log) == 3)
        assert decider.log == [Reading(1), ("rest of", Reading(1)), Reading(2)]
        assert dispatch.waiting


async def test_a_queued_input_s_rest_is_carried_out_before_the_next_input() -> None:
    decider = Decider(rests={Command(1)})
    async with dispatching(decider, Broker()) as dispatch:
        dispatch.put(Command(1))
        dispatch.put(Command(2))
        await until(lambda: len(decider.log) == 3)
        assert decider.log == [Command(1), ("rest of", Command(1)), Command(2)]


async def test_an_input_that_fails_is_reported_and_the_next_one_is_decided(
    caplog: pytest.LogCaptureFixture,
) -> None:
    decider = Decider(fail={Reading(1), Command(2)})
    async with dispatching(decider, Broker()) as dispatch:
        dispatch.take(Reading(1))
        dispatch.take(Reading(3))
        dispatch.put(Command(2))
        dispatch.put(Command(4))
        await until(lambda: decider.log == [Reading(3), Command(4)])
    assert "failed to handle Reading(n=1)" in caplog.text
    assert "failed to handle Command(n=2)" in caplog.text


async def test_a_rest_that_fails_is_reported_and_the_next_input_is_decided(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom() -> None:
        raise RuntimeError("the rest broke")

    def decide(item: object) -> Callable[[], None] | None:
        decided.append(item)
        return boom if item == Command(1) else None

    decided: list[object] = []
    dispatch: Dispatch[Command] = Dispatch(
        decide, at_once=Reading, sender=Broker(), handover_s=30.0
    )
    task = asyncio.create_task(dispatch.run())
    dispatch.put(Command(1))
    dispatch.put(Command(2))
    await until(lambda: decided == [Command(1), Command(2)])
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert "failed to finish handling Command(n=1)" in caplog.text


async def test_once_stopped_nothing_is_decided_at_once() -> None:
    decider = Decider()
    async with dispatching(decider, Broker()) as dispatch:
        pass
    assert not dispatch.waiting
    dispatch.take(Reading(1))
    assert decider.log == []

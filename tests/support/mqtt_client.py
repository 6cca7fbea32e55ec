"""A test-side MQTT subscriber that records what it sees and waits without hanging."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiomqtt
import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from tests.support.mosquitto import Mosquitto

WAIT_S = 15.0


@dataclass
class Received:
    """What a test subscriber saw on one topic."""

    topic: str
    payload: bytes
    qos: int
    retain: bool

    def json(self) -> object:
        """The payload parsed as JSON."""
        return json.loads(self.payload)


@dataclass
class Subscriber:
    """An aiomqtt client in the test that records everything on its topics."""

    client: aiomqtt.Client
    messages: list[Received] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def collect(self) -> None:
        """Record messages until cancelled."""
        async for message in self.client.messages:
            self.messages.append(
                Received(message.topic.value, bytes(message.payload), message.qos, message.retain)
            )
            self._changed.set()

    def on(self, topic: str) -> list[Received]:
        """Every message seen on `topic`, in order."""
        return [m for m in self.messages if m.topic == topic]

    def json_on(self, topic: str) -> list[dict[str, Any]]:
        """The JSON objects seen on `topic`, in order."""
        return [m.json() for m in self.on(topic) if m.payload]  # type: ignore[misc]

    async def wait_for(
        self, predicate: Callable[[list[Received]], bool], what: str, timeout: float = WAIT_S
    ) -> list[Received]:
        """Wait until `predicate(messages)` holds; fail (not hang) after `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate(self.messages):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            seen = [(m.topic, m.payload[:100]) for m in self.messages[-30:]]
            pytest.fail(f"timed out waiting for {what}; last seen {seen}")
        return self.messages

    async def wait_on(self, topic: str, count: int = 1, timeout: float = WAIT_S) -> list[Received]:
        """Wait for at least `count` messages on `topic`."""
        await self.wait_for(lambda _: len(self.on(topic)) >= count, f"{count} on {topic}", timeout)
        return self.on(topic)


@contextlib.asynccontextmanager
async def subscriber(
    broker: Mosquitto,
    *topics: str,
    identifier: str | None = None,
    clean: bool = True,
    qos: int = 1,
) -> AsyncIterator[Subscriber]:
    """A recording subscriber to `topics` (QoS 1 unless told) for the duration of the block."""
    client = aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=identifier or f"test-{uuid.uuid4().hex[:8]}",
        clean_session=clean,
    )
    async with client:
        sub = Subscriber(client)
        await client.subscribe([(topic, qos) for topic in topics])
        task = asyncio.create_task(sub.collect())
        try:
            yield sub
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


async def publish(broker: Mosquitto, topic: str, payload: bytes, *, retain: bool = False) -> None:
    """Publish one message (QoS 1) from a short-lived client."""
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.publish(topic, payload, qos=1, retain=retain)

"""I/O. The daemon's inputs, decided one at a time in the order they came.

Links, MQTT commands, timers and incline procedures hand their inputs to one `Dispatch`. Its
task takes them from a queue and has the daemon decide each (`decide`: the rules, then what
the decision sets off), so the rules see a single ordered stream, exactly as their tests do.

The most frequent input, a treadmill's reading, is decided at once in the callback that
brings it when nothing waits before it: the queue is empty, the task waits on it, and the
MQTT sender has nothing to publish first. The task would take it in the next turn of the
loop and decide it the same way; deciding it at once saves that turn, the queue's getter
future and a task step. Anything else goes through the queue.

A decision whose prompts must reach the broker before the rest of it is carried out
(`decide` returns that rest) waits for `Sender.prompts_handed_over`. A rest may return a rest
of its own (one input can mean several decisions: held readings first, `daemon/repeats.py`),
which waits for the broker in turn. An input decided at once cannot wait inside a callback,
so its rest goes to the queue as the next input, and the task waits for the broker and
carries it out there.

An input that fails is logged with its traceback and the next one is taken: one bad input
never stops the daemon.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeAlias, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Dispatch", "Rest", "Sender"]

_LOGGER = logging.getLogger(__name__)

_T = TypeVar("_T")

Rest: TypeAlias = "Callable[[], Rest | None]"
"""What is left of a decision once the broker has its prompts; it may leave a rest in turn."""


class Sender(Protocol):
    """What the dispatch needs of the MQTT bridge."""

    @property
    def sender_woken(self) -> bool:
        """Whether the sender has been given work it has not looked at yet."""
        ...

    async def prompts_handed_over(self, limit_s: float) -> bool:
        """Wait (at most `limit_s`) until the broker has every prompt queued so far."""
        ...


@dataclass(frozen=True, slots=True)
class _Later:
    """The rest of an input decided at once, due once the broker has taken its prompts."""

    then: Rest
    item: object


class Dispatch(Generic[_T]):
    """One ordered stream of inputs, decided one at a time (see the module docstring).

    Args:
        decide: Decides an input and carries it out; returns what is left to do once the
            broker has the decision's prompts, or None.
        at_once: The type of input decided at once when nothing waits before it.
        sender: The MQTT bridge.
        handover_s: The most a decision's rest waits for the broker to take its prompts.
    """

    def __init__(
        self,
        decide: Callable[[_T], Rest | None],
        *,
        at_once: type,
        sender: Sender,
        handover_s: float,
    ) -> None:
        self._decide = decide
        self._at_once = at_once
        self._sender = sender
        self._handover_s = handover_s
        self._queue: asyncio.Queue[_T | _Later] = asyncio.Queue()
        self._waits = False  # the task waits on an empty queue
        self.heartbeat: float | None = None
        """The loop time the task last took an input, or one was decided at once."""

    @property
    def waiting(self) -> bool:
        """Whether the task waits for input with nothing queued (an input is decided at once)."""
        return self._waits

    def take(self, item: _T) -> None:
        """An input from a link: decided now if it may be (module docstring), else queued."""
        if self._waits and type(item) is self._at_once and not self._sender.sender_woken:
            self._waits = False  # busy with this one, as far as inputs go
            self.heartbeat = asyncio.get_running_loop().time()
            rest = self._decided(item)
            if rest is not None:
                self._queue.put_nowait(_Later(rest, item))  # the task waits for the broker
            elif self._queue.empty():
                self._waits = True
            return
        self.put(item)

    def put(self, item: _T) -> None:
        """Queue an input for the task."""
        self._waits = False
        self._queue.put_nowait(item)

    async def run(self) -> None:
        """Take and decide inputs until cancelled."""
        loop = asyncio.get_running_loop()
        queue = self._queue
        try:
            while True:
                self.heartbeat = loop.time()
                # A plain get: the daemon's ticker queues an input every few seconds, which
                # keeps the heartbeat fresh when nothing else comes. (Not asyncio.wait_for: on
                # Python 3.11 it can swallow the cancellation that stops the daemon.)
                self._waits = queue.empty()
                item = await queue.get()
                self._waits = False
                if isinstance(item, _Later):
                    rest: Rest | None = item.then
                    about: object = item.item
                else:
                    rest, about = self._decided(item), item
                while rest is not None:
                    await self._sender.prompts_handed_over(self._handover_s)
                    try:
                        rest = rest()
                    except Exception:
                        _LOGGER.exception("daemon: failed to finish handling %r", about)
                        rest = None
                if not queue.empty() and self._sender.sender_woken:
                    # A burst (every deck notifying at once) that left the sender work (a
                    # prompt, a state waiting for its slot): let it publish before the next
                    # input is decided, as a relay would, rather than all after the last one.
                    # A state the bridge wrote at once is out already; yielding for it would
                    # cost a loop turn.
                    await asyncio.sleep(0)
        finally:
            self._waits = False  # stopped: nothing is decided any more

    def _decided(self, item: _T) -> Rest | None:
        try:
            return self._decide(item)
        except Exception:
            # One bad input must not stop the daemon; say loudly what happened.
            _LOGGER.exception("daemon: failed to handle %r", item)
            return None

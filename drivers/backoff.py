"""Pure. Capped exponential backoff with jitter for reconnect attempts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long a link waits between failed connection attempts.

    The n-th delay is ``min(max_s, initial_s * factor**n)``, shortened by up to `jitter`
    (a fraction) so that several links that failed together do not retry in lockstep.

    Attributes:
        initial_s: The first delay in seconds.
        max_s: The cap in seconds.
        factor: Growth per failed attempt.
        jitter: Fraction of each delay that is randomly taken off (0 disables jitter).
    """

    initial_s: float = 1.0
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(f"backoff needs 0 < initial_s <= max_s, got {self}")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError(f"backoff needs factor >= 1 and 0 <= jitter < 1, got {self}")

    def delays(self, rand: Callable[[], float] = random.random) -> Iterator[float]:
        """Yield the delays of consecutive failed attempts, forever.

        Args:
            rand: A source of floats in [0, 1) for the jitter (tests pass their own).

        Yields:
            The delay in seconds before the next attempt.
        """
        delay = self.initial_s
        while True:
            yield delay * (1 - self.jitter * rand())
            delay = min(self.max_s, delay * self.factor)

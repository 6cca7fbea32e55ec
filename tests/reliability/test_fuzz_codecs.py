"""Every decoder in `treadwell.drivers.codec` against generated and mutated packets.

Whatever arrives over the air, a decoder returns a value or raises `CodecError`: never another
exception, never a hang. A successful decode must also print (its `to_dict` is valid JSON),
because `treadwell decode` and the DEBUG logs show it. Each example decodes a batch of
packets; the module counts them and, when the whole module ran, checks that the suite fed at
least `PACKET_BUDGET` packets to the decoders. The count is printed in the terminal summary.
"""

from __future__ import annotations

import functools
import json
import math
import random
import signal
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treadwell.drivers.codec.fitness_machine import (
    parse_control_point_request,
    parse_control_point_response,
    parse_fitness_machine_feature,
    parse_machine_status,
    parse_supported_inclination_range,
    parse_supported_speed_range,
    parse_training_status,
)
from treadwell.drivers.codec.heart_rate import parse_heart_rate_measurement
from treadwell.drivers.codec.rsc import parse_rsc_measurement
from treadwell.drivers.codec.treadmill_data import (
    PaceWidth,
    TreadmillData,
    TreadmillRecordAssembler,
    parse_treadmill_data,
)
from treadwell.drivers.errors import CodecError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.reliability

PACKET_BUDGET = 100_000
"""Generated packets the whole module must decode (the issue's floor)."""

CALL_LIMIT_S = 2.0
"""A single decode taking longer than this is a hang (they take microseconds)."""

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"


class _Printable(Protocol):
    def to_dict(self) -> dict[str, object]: ...


DECODERS: dict[str, Callable[[bytes], _Printable]] = {
    "2acc feature": parse_fitness_machine_feature,
    "2ad3 training status": parse_training_status,
    "2ad4 speed range": parse_supported_speed_range,
    "2ad5 inclination range": parse_supported_inclination_range,
    "2ada machine status": parse_machine_status,
    "2ad9 control point request": parse_control_point_request,
    "2ad9 control point response": parse_control_point_response,
    "2a37 heart rate": parse_heart_rate_measurement,
    "2a53 rsc": parse_rsc_measurement,
}

# Which decoders a capture file's packets go to (0x2AD9 files hold requests and responses).
CAPTURE_DECODERS: dict[str, tuple[Callable[[bytes], _Printable], ...]] = {
    "2acc": (parse_fitness_machine_feature,),
    "2ad3": (parse_training_status,),
    "2a37": (parse_heart_rate_measurement,),
    "2a53": (parse_rsc_measurement,),
    "2ad9": (parse_control_point_request, parse_control_point_response),
    "2acd": tuple(
        functools.partial(parse_treadmill_data, pace_width=width, vendor_step_count=steps)
        for width in PaceWidth
        for steps in (True, False, None)
    ),
}

_COUNTS: Counter[str] = Counter()
_EXPECTED_TESTS = {
    "test_every_small_decoder_raises_nothing_but_codec_error",
    "test_treadmill_data_with_every_pace_width_and_step_count_mode",
    "test_treadmill_data_with_plausible_flags_and_lengths",
    "test_the_reassembler_survives_any_packet_sequence",
    "test_mutated_captures_decode_or_raise_codec_error",
}


class HangError(Exception):
    """A decoder call ran past `CALL_LIMIT_S`."""


def _on_alarm(signum: int, frame: object) -> None:
    del signum, frame
    raise HangError(f"a decoder call ran for more than {CALL_LIMIT_S} s")


@contextmanager
def _bounded() -> Iterator[None]:
    """Interrupt the block with `HangError` if it runs longer than `CALL_LIMIT_S`."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, CALL_LIMIT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _printable(value: _Printable) -> None:
    """The decoded value must print as strict JSON (no NaN or infinity)."""
    text = json.dumps(value.to_dict(), allow_nan=False, default=str)
    assert text.startswith("{")


def _decode(decoder: Callable[[bytes], _Printable], packet: bytes, counter: str) -> Any:
    """Decode one packet: a value or None (CodecError); anything else fails the test."""
    _COUNTS[counter] += 1
    try:
        value = decoder(packet)
    except CodecError as exc:
        error: CodecError | None = exc
    except HangError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything but CodecError is the finding
        pytest.fail(f"{packet.hex(' ') or 'empty'} raised {exc!r}, not CodecError")
    else:
        _printable(value)
        return value
    assert error is not None
    assert error.data == packet  # the error carries the bytes it could not decode
    return None


def _bulk(seed: int, count: int, max_size: int = 40) -> list[bytes]:
    """`count` packets from a seeded generator: cheap volume beside the shrinkable examples.

    A failure names the packet, and Hypothesis reports the seed that reproduces the batch.
    """
    rng = random.Random(seed)
    return [rng.randbytes(rng.randint(0, max_size)) for _ in range(count)]


def _bulk_announced(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(2 + rng.randint(0, 36)) for _ in range(count)]


def _check_treadmill(record: TreadmillData) -> None:
    for name, value in record.to_dict().items():
        if isinstance(value, float):
            assert math.isfinite(value), name
        if isinstance(value, int) and not isinstance(value, bool):
            assert value >= -0x8000, name


@pytest.fixture(scope="module", autouse=True)
def _packet_count(request: pytest.FixtureRequest) -> Iterator[None]:
    _COUNTS.clear()
    yield
    total = sum(_COUNTS.values())
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    line = f"codec fuzz: {total:,} generated packets decoded ({dict(sorted(_COUNTS.items()))})"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\n{line}")
    if set(_COUNTS) >= _EXPECTED_TESTS:
        assert total >= PACKET_BUDGET, line


def fuzz(examples: int) -> settings:
    """Hypothesis settings for a fuzz test: no deadline (batches vary), no stored examples."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


packets = st.lists(st.binary(max_size=40), min_size=1, max_size=20)
seeds = st.integers(0, 2**32 - 1)
BULK = 100


@fuzz(300)
@given(decoder=st.sampled_from(list(DECODERS)), batch=packets, seed=seeds)
def test_every_small_decoder_raises_nothing_but_codec_error(
    decoder: str, batch: list[bytes], seed: int
) -> None:
    with _bounded():
        for packet in batch + _bulk(seed, BULK):
            _decode(
                DECODERS[decoder], packet, "test_every_small_decoder_raises_nothing_but_codec_error"
            )


@fuzz(300)
@given(
    width=st.sampled_from(list(PaceWidth)),
    steps=st.sampled_from([True, False, None]),
    batch=packets,
    seed=seeds,
)
def test_treadmill_data_with_every_pace_width_and_step_count_mode(
    width: PaceWidth, steps: bool | None, batch: list[bytes], seed: int
) -> None:
    with _bounded():
        for packet in batch + _bulk(seed, BULK):
            record = _decode(
                lambda data: parse_treadmill_data(data, pace_width=width, vendor_step_count=steps),
                packet,
                "test_treadmill_data_with_every_pace_width_and_step_count_mode",
            )
            if record is not None:
                _check_treadmill(record)


# Random bytes rarely pair a flags word with the length it announces; build that pairing on
# purpose, give or take a few bytes, so the decoder's layout choice is exercised too.
@st.composite
def announced_packets(draw: st.DrawFn) -> bytes:
    flags = draw(st.integers(0, 0xFFFF))
    body = draw(st.binary(min_size=0, max_size=36))
    return flags.to_bytes(2, "little") + body


@fuzz(300)
@given(
    width=st.sampled_from(list(PaceWidth)),
    steps=st.sampled_from([True, False, None]),
    batch=st.lists(announced_packets(), min_size=1, max_size=20),
    seed=seeds,
)
def test_treadmill_data_with_plausible_flags_and_lengths(
    width: PaceWidth, steps: bool | None, batch: list[bytes], seed: int
) -> None:
    with _bounded():
        for packet in batch + _bulk_announced(seed, BULK):
            record = _decode(
                lambda data: parse_treadmill_data(data, pace_width=width, vendor_step_count=steps),
                packet,
                "test_treadmill_data_with_plausible_flags_and_lengths",
            )
            assert record is not None  # two bytes of flags always decode
            _check_treadmill(record)


@fuzz(300)
@given(
    batch=st.lists(st.tuples(announced_packets(), st.floats(0.0, 3.0)), min_size=1, max_size=20),
    timeout_s=st.floats(0.1, 2.0),
    seed=seeds,
)
def test_the_reassembler_survives_any_packet_sequence(
    batch: list[tuple[bytes, float]], timeout_s: float, seed: int
) -> None:
    rng = random.Random(seed)
    batch = batch + [(p, rng.uniform(0.0, 3.0)) for p in _bulk_announced(seed, BULK)]
    assembler = TreadmillRecordAssembler(timeout_s=timeout_s)
    now = 0.0
    emitted = 0
    with _bounded():
        for packet, gap in batch:
            record = _decode(
                parse_treadmill_data, packet, "test_the_reassembler_survives_any_packet_sequence"
            )
            now += gap
            out = assembler.feed(record, now)
            if out is not None:
                emitted += 1
                _check_treadmill(out)
                _printable(out)
        last = assembler.flush()
    if last is not None:
        assert last.more_data
        emitted += 1
    assert assembler.flush() is None
    # Every record that completes (More Data clear) comes out, possibly with a stale half.
    completes = sum(1 for packet, _ in batch if not packet[0] & 1)
    assert emitted >= completes


def _captures() -> list[tuple[str, bytes]]:
    return [
        (path.stem, bytes.fromhex(line))
        for path in sorted(CAPTURES.rglob("*.hex"))
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


CAPTURED = _captures()


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    kind, packet = draw(st.sampled_from(CAPTURED))
    data = bytearray(packet)
    for _ in range(draw(st.integers(1, 4))):
        match draw(st.sampled_from(["flip", "truncate", "extend", "insert", "delete", "set"])):
            case "flip" if data:
                i = draw(st.integers(0, len(data) - 1))
                data[i] ^= 1 << draw(st.integers(0, 7))
            case "truncate":
                del data[draw(st.integers(0, len(data))) :]
            case "extend":
                data += draw(st.binary(min_size=1, max_size=20))
            case "insert":
                i = draw(st.integers(0, len(data)))
                data[i:i] = draw(st.binary(min_size=1, max_size=4))
            case "delete" if data:
                i = draw(st.integers(0, len(data) - 1))
                del data[i]
            case "set" if data:
                i = draw(st.integers(0, len(data) - 1))
                data[i] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF]))
            case _:
                pass
    return kind, bytes(data)


def test_every_capture_kind_has_a_decoder() -> None:
    assert CAPTURED
    assert {kind for kind, _ in CAPTURED} <= set(CAPTURE_DECODERS)


@fuzz(500)
@given(batch=st.lists(mutated(), min_size=1, max_size=10))
def test_mutated_captures_decode_or_raise_codec_error(batch: list[tuple[str, bytes]]) -> None:
    with _bounded():
        for kind, packet in batch:
            for decoder in CAPTURE_DECODERS[kind]:
                _decode(decoder, packet, "test_mutated_captures_decode_or_raise_codec_error")


def test_the_hang_guard_interrupts_a_stuck_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(globals(), "CALL_LIMIT_S", 0.05)

    def spin() -> None:
        with _bounded():
            while True:
                pass

    with pytest.raises(HangError):
        spin()

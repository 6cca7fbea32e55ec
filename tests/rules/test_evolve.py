"""`rules.evolve.replace` gives what `dataclasses.replace` gives, for every kind of dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadwell.rules import evolve
from treadwell.rules.engine import EngineState, initial_state
from treadwell.rules.model import RulesConfig
from treadwell.rules.session import Run, RunStats


@dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plain:
    a: int
    b: str = "b"


@dataclass(frozen=True, slots=True)
class Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@dataclass
class WithInitVar:
    a: int
    scale: InitVar[int] = 1

    def __post_init__(self, scale: int) -> None:
        self.a *= scale


@dataclass(frozen=True)
class Derived:
    a: int
    b: int = field(init=False, default=0)


@dataclass(init=False)
class OwnInit:
    a: int

    def __init__(self, a: int) -> None:
        self.a = a + 1


@dataclass(frozen=True)
class OddNames:
    _tw_obj: int


def test_a_plain_frozen_class_is_copied_by_its_generated_function() -> None:
    point = Point(1, 2, ("a",))

    moved = evolve.replace(point, y=5)

    assert moved == Point(1, 5, ("a",))
    assert type(moved) is Point
    assert point == Point(1, 2, ("a",))  # the original is untouched
    assert evolve._MAKERS[Point] is not dataclasses.replace


def test_a_class_without_slots_is_copied_too() -> None:
    assert evolve.replace(Plain(1), b="c") == Plain(1, "c")
    assert evolve._MAKERS[Plain] is not dataclasses.replace


@given(st.integers(), st.integers(), st.lists(st.text(max_size=3), max_size=3), st.booleans())
def test_every_change_gives_what_the_standard_replace_gives(
    x: int, y: int, tags: list[str], keep_y: bool
) -> None:
    point = Point(0, 1, ("t",))
    changes: dict[str, object] = {"x": x, "tags": tuple(tags)}
    if not keep_y:
        changes["y"] = y

    assert evolve.replace(point, **changes) == dataclasses.replace(point, **changes)  # type: ignore[arg-type]


def test_no_change_gives_an_equal_copy() -> None:
    point = Point(3)

    assert evolve.replace(point) == point


def test_an_unknown_field_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        evolve.replace(Point(1), z=3)


@pytest.mark.parametrize(
    ("instance", "changes", "expected"),
    [
        (Checked(1), {"value": 2}, Checked(2)),
        (WithInitVar(2), {"a": 3}, WithInitVar(3)),
        (OwnInit(1), {"a": 5}, OwnInit(5)),
        (OddNames(1), {"_tw_obj": 2}, OddNames(2)),
    ],
    ids=["post-init", "init-var", "own-init", "reserved-names"],
)
def test_classes_whose_init_does_more_keep_the_standard_replace(
    instance: object, changes: dict[str, object], expected: object
) -> None:
    assert evolve.replace(instance, **changes) == expected
    assert evolve._MAKERS[type(instance)] is dataclasses.replace


def test_validation_in_post_init_still_runs() -> None:
    with pytest.raises(ValueError, match="negative"):
        evolve.replace(Checked(1), value=-1)


def test_a_field_left_out_of_init_cannot_be_replaced_as_before() -> None:
    with pytest.raises(ValueError, match="init=False"):
        evolve.replace(Derived(1), b=2)
    assert evolve.replace(Derived(1), a=2) == Derived(2)
    assert evolve._MAKERS[Derived] is dataclasses.replace


def test_something_not_a_dataclass_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        evolve.replace(3, real=4)


def test_the_rules_own_state_classes_copy_like_the_standard_replace() -> None:
    state = initial_state(RulesConfig())
    now = datetime(2026, 1, 1, tzinfo=UTC)
    run = Run("run-1", now, last_reading_at=now, stats=RunStats(distance_m=5.0))

    assert evolve.replace(state, pending=("k",), run_tag="x") == dataclasses.replace(
        state, pending=("k",), run_tag="x"
    )
    assert evolve.replace(run, stats=RunStats(distance_m=9.0)) == dataclasses.replace(
        run, stats=RunStats(distance_m=9.0)
    )
    assert evolve._MAKERS[EngineState] is not dataclasses.replace

"""Pure. `EngineState` to JSON and back, so a restart resumes the run and keeps the history.

The format is the state's dataclass fields as JSON objects (datetimes as ISO 8601 with their
offset, enums as their values, tuples as lists) inside `{"version": 2, "state": ...}`. The
config is not stored: it comes from the configuration file on load, so a changed threshold
applies after a restart. Loading is strict: a missing or unknown field, a wrong type or a naive
datetime raises `StateFormatError` naming the field, and nothing half-loaded is returned.

Older documents are upgraded on load, then checked as strictly:

- version 1 (before the two red-flag levels, the warm-up offer and the stride cue): a stored
  `red` flag keeps its meaning (stop running until seen); the heart-rate baseline is dropped
  (version 2 follows heart rate per stretch of steady running, and a new stretch starts with
  the next reading); the warm-up and stride state start empty; a run in progress has no
  standing-still time yet.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import datetime
from enum import StrEnum
from typing import Any

from treadwell.rules.engine import EngineState
from treadwell.rules.form import FormState
from treadwell.rules.household import (
    HouseholdConfig,
    HouseholdState,
    RunnerState,
    TreadmillSlot,
    initial_household,
)
from treadwell.rules.model import RulesConfig, RulesInputError
from treadwell.rules.stride import StrideState
from treadwell.rules.warmup import WarmupState

__all__ = [
    "FORMAT_VERSION",
    "HOUSEHOLD_VERSION",
    "StateFormatError",
    "household_from_json",
    "household_to_json",
    "state_from_json",
    "state_to_json",
]

FORMAT_VERSION = 2
# The config comes from the configuration file; the run tag is set before every evaluation.
_NOT_STORED = frozenset({"config", "run_tag"})
_READABLE = (1, FORMAT_VERSION)
# The household document (runners and treadmills); its engine states have FORMAT_VERSION's shape.
HOUSEHOLD_VERSION = 3


class StateFormatError(RulesInputError):
    """Stored engine state that cannot be loaded (the message names the field)."""


def state_to_json(state: EngineState) -> str:
    """Serialize `state` (without its config) to a JSON string."""
    return json.dumps({"version": FORMAT_VERSION, "state": _encode(state)}, sort_keys=True)


def state_from_json(text: str, config: RulesConfig) -> EngineState:
    """Load a state saved by `state_to_json`, with `config` as its thresholds.

    Raises:
        StateFormatError: `text` is not a state this version can load.
    """
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise StateFormatError(f"engine state is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("version") not in _READABLE:
        readable = " or ".join(str(v) for v in _READABLE)
        raise StateFormatError(f"engine state must be a version {readable} document")
    raw = document.get("state")
    if document["version"] == 1:
        raw = _upgrade_v1(raw)
    values = _fields(EngineState, raw, "state")
    return EngineState(config=config, **values)


def household_to_json(state: HouseholdState) -> str:
    """Serialize every runner's and treadmill's state (not the config, not live presence)."""
    document = {
        "version": HOUSEHOLD_VERSION,
        "runners": {name: _encode(runner) for name, runner in state.runners},
        "treadmills": {name: _encode(slot) for name, slot in state.treadmills},
    }
    return json.dumps(document, sort_keys=True)


def household_from_json(text: str, config: HouseholdConfig) -> tuple[HouseholdState, list[str]]:
    """Load a household saved by `household_to_json`, for the runners and treadmills of `config`.

    A runner or treadmill the configuration no longer has is left out, and named in the list
    returned (so the caller can say so); one the file does not have starts fresh.

    Raises:
        StateFormatError: `text` is not a household state this version can load.
    """
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise StateFormatError(f"household state is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("version") != HOUSEHOLD_VERSION:
        raise StateFormatError(f"household state must be a version {HOUSEHOLD_VERSION} document")
    runners_raw, decks_raw = document.get("runners"), document.get("treadmills")
    if not isinstance(runners_raw, dict) or not isinstance(decks_raw, dict):
        raise StateFormatError("household state needs 'runners' and 'treadmills' objects")
    fresh = initial_household(config)
    runners = dict(fresh.runners)
    slots = dict(fresh.treadmills)
    dropped = [f"runner {n}" for n in runners_raw if n not in runners]
    dropped += [f"treadmill {n}" for n in decks_raw if n not in slots]
    for name in runners:
        if name in runners_raw:
            runners[name] = RunnerState(
                **_fields(RunnerState, runners_raw[name], f"runners.{name}")
            )
    for name, slot in slots.items():
        if name not in decks_raw:
            continue
        raw = decks_raw[name]
        path = f"treadmills.{name}"
        if not isinstance(raw, dict):
            raise StateFormatError(f"{path}: expected an object, got {raw!r}")
        engine_raw = {k: v for k, v in raw.items() if k != "engine"}
        values = _fields(_SlotFields, engine_raw, path)
        engine = EngineState(
            config=slot.engine.config, **_fields(EngineState, raw.get("engine"), f"{path}.engine")
        )
        slots[name] = TreadmillSlot(engine=engine, **values)
    state = HouseholdState(
        config=config, runners=tuple(runners.items()), treadmills=tuple(slots.items())
    )
    return state, dropped


@dataclasses.dataclass(frozen=True, slots=True)
class _SlotFields:
    """The stored fields of a `TreadmillSlot` besides its engine."""

    selected: str | None
    run_runner: str | None
    runs_started: int


def _upgrade_v1(raw: object) -> object:
    """A version 1 state in the version 2 shape (anything but an object is left to fail)."""
    if not isinstance(raw, dict):
        return raw
    session = raw.get("session")
    if isinstance(session, dict):
        run = session.get("run")
        if isinstance(run, dict) and isinstance(run.get("stats"), dict):
            # Version 1 did not track standing still: none is known for the run so far.
            stats = {**run["stats"], "stopped_s": 0.0, "still_since": None}
            raw = {**raw, "session": {**session, "run": {**run, "stats": stats}}}
    return {
        **raw,
        "form": _encode(FormState()),
        "stride": _encode(StrideState()),
        "warmup": _encode(WarmupState()),
    }


def _encode(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in _NOT_STORED
        }
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    return value


def _fields(cls: type[Any], raw: object, path: str) -> dict[str, Any]:
    """Decode the stored fields of dataclass `cls` from `raw` (a JSON object)."""
    if not isinstance(raw, dict):
        raise StateFormatError(f"{path}: expected an object, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in _NOT_STORED]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise StateFormatError(f"{path}: unknown fields {unknown}")
    missing = [name for name in names if name not in raw]
    if missing:
        raise StateFormatError(f"{path}: missing fields {missing}")
    return {name: _decode(hints[name], raw[name], f"{path}.{name}") for name in names}


def _decode(tp: Any, raw: object, path: str) -> object:  # noqa: ANN401 - any field type
    """Decode `raw` as a value of type `tp`, as far as engine state needs it."""
    origin = typing.get_origin(tp)
    if origin is types.UnionType:
        if raw is None:
            return None
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _decode(inner, raw, path)
    if origin is tuple:
        if not isinstance(raw, list):
            raise StateFormatError(f"{path}: expected a list, got {raw!r}")
        item = typing.get_args(tp)[0]
        return tuple(_decode(item, value, f"{path}[{i}]") for i, value in enumerate(raw))
    if hasattr(tp, "__dataclass_fields__"):
        try:
            return tp(**_fields(tp, raw, path))
        except StateFormatError:
            raise
        except RulesInputError as exc:
            raise StateFormatError(f"{path}: {exc}") from exc
    return _scalar(tp, raw, path)


def _scalar(tp: type, raw: object, path: str) -> object:
    if tp is datetime:
        return _datetime(raw, path)
    if issubclass(tp, StrEnum):
        try:
            return tp(typing.cast("str", raw))
        except ValueError:
            choices = [member.value for member in tp]
            raise StateFormatError(f"{path}: {raw!r} is not one of {choices}") from None
    ok = {
        bool: isinstance(raw, bool),
        int: isinstance(raw, int) and not isinstance(raw, bool),
        float: isinstance(raw, int | float) and not isinstance(raw, bool),
        str: isinstance(raw, str),
    }[tp]
    if not ok:
        raise StateFormatError(f"{path}: expected {tp.__name__}, got {raw!r}")
    return float(typing.cast("float", raw)) if tp is float else raw


def _datetime(raw: object, path: str) -> datetime:
    if not isinstance(raw, str):
        raise StateFormatError(f"{path}: expected an ISO 8601 time, got {raw!r}")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise StateFormatError(f"{path}: {raw!r} is not an ISO 8601 time") from None
    if value.utcoffset() is None:
        raise StateFormatError(f"{path}: {raw!r} has no timezone")
    return value

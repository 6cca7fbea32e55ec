"""Pure. Incoming MQTT commands at the trust boundary, validated before anything acts on them.

Commands are validated with strict pydantic models (`extra="forbid"`, finite numbers only,
bounded ranges). `parse_command` is the single entry point: it checks the payload size before
it reads a byte of JSON, and turns every kind of bad input into one `CommandError` whose
message is short enough to publish on `{base}/error` and show on a dashboard.

Outgoing payloads are built in `treadwell.daemon.payloads`; their names are importable from
here too.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from treadwell.daemon import topics
from treadwell.daemon.payloads import (
    PROMPT_KINDS,
    ErrorReport,
    flags_payload,
    flags_payload_from,
    prompt_payload,
    prompt_payload_from,
    run_payload,
    run_payload_from,
    state_payload,
)
from treadwell.drivers.errors import TreadwellError
from treadwell.rules.events import CheckinReceived
from treadwell.rules.model import PainKind

if TYPE_CHECKING:
    from collections.abc import Collection

__all__ = [
    "INCLINE_MAX_PCT",
    "INCLINE_MIN_PCT",
    "MAX_COMMAND_BYTES",
    "PROMPT_KINDS",
    "CheckinCommand",
    "Command",
    "CommandError",
    "ErrorReport",
    "FlagsSetCommand",
    "InclineSetCommand",
    "PainKindName",
    "RunnerSelectCommand",
    "checkin_event_from",
    "command_topics",
    "flags_payload",
    "flags_payload_from",
    "parse_command",
    "prompt_payload",
    "prompt_payload_from",
    "run_payload",
    "run_payload_from",
    "state_payload",
]

MAX_COMMAND_BYTES: Final = 4096
"""Commands larger than this are rejected before they are parsed."""

INCLINE_MIN_PCT: Final = -10.0
INCLINE_MAX_PCT: Final = 40.0


class CommandError(TreadwellError):
    """A command that was rejected; nothing was changed.

    Attributes:
        topic: The topic the command arrived on.
        message: What was wrong, in one short sentence.
    """

    def __init__(self, topic: str, message: str) -> None:
        self.topic = topic
        self.message = message
        super().__init__(f"{topic}: {message}")


class _Command(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class FlagsSetCommand(_Command):
    """Set or clear the back-pain flag (`{base}/flags/set`).

    Attributes:
        back_pain: `none` clears the flag; `ache` sets the ache flag, `check` the red flag
            that asks to get the back checked soon, `red` the one that says stop running
            until seen (its meaning since the first version).
        days: How long the flag lasts; None keeps the configured default.
        runner: Whose flag (a runner's slug); None: the runner the topic names, else the
            default runner.
    """

    back_pain: Literal["none", "ache", "check", "red"]
    days: Annotated[int, Field(ge=1, le=365)] | None = None
    runner: Annotated[str, Field(min_length=1, max_length=64)] | None = None


PainKindName = Literal["none", "ache", "sharp", "radiating", "night"]


class CheckinCommand(_Command):
    """A pain check-in (`{base}/checkin`).

    The payload names one kind (`{"pain": 3, "kind": "ache"}`, as always) or several
    (`{"pain": 8, "kinds": ["sharp", "radiating"]}`); given both, they are joined.

    Attributes:
        pain: Pain on a 0-10 scale.
        kind: What the pain is like (the first kind named).
        kinds: Every kind named, in order, without repeats; `kind` is the first.
        runner: Whose back (as for flags).
        run_id: The run it is about; None: the runner's latest run.
    """

    pain: Annotated[int, Field(ge=0, le=10)]
    kind: PainKindName
    kinds: tuple[PainKindName, ...] = ()
    runner: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    run_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _join_kinds(cls, data: Any) -> Any:  # noqa: ANN401 - raw input before validation
        if not isinstance(data, dict):
            return data
        if "kinds" not in data:
            single = data.get("kind")
            return {**data, "kinds": (single,)} if isinstance(single, str) else data
        kinds = data["kinds"]
        if not isinstance(kinds, list | tuple) or not kinds:
            raise PydanticCustomError("kinds", "kinds must be a non-empty list of pain kinds")
        named = [data["kind"], *kinds] if "kind" in data else list(kinds)
        if not all(isinstance(kind, str) for kind in named):
            raise PydanticCustomError("kinds", "every pain kind must be a string")
        joined = tuple(dict.fromkeys(named))
        return {**data, "kind": joined[0], "kinds": joined}

    @model_validator(mode="after")
    def _none_alone(self) -> CheckinCommand:
        if "none" in self.kinds and len(self.kinds) > 1:
            raise PydanticCustomError("kinds", "kind 'none' cannot be combined with other kinds")
        return self


class _InclinePayload(_Command):
    incline_pct: Annotated[float, Field(ge=INCLINE_MIN_PCT, le=INCLINE_MAX_PCT)]


_M = TypeVar("_M", bound=_Command)


class InclineSetCommand(_Command):
    """A manual target incline for one treadmill (`{base}/<device>/incline/set`).

    The payload is a bare number (`3.5`) or `{"incline_pct": 3.5}`; the device comes from the
    topic. The daemon still applies its own safety limits before the treadmill sees it.

    Attributes:
        device: Slug of the treadmill the command is for.
        incline_pct: Target incline in percent.
    """

    device: str
    incline_pct: Annotated[float, Field(ge=INCLINE_MIN_PCT, le=INCLINE_MAX_PCT)]


class RunnerSelectCommand(_Command):
    """Choose who runs on one treadmill (`{base}/<device>/runner/set`).

    The payload is a runner's slug, bare or as `{"runner": "alice"}`; `""` or `"auto"` goes
    back to the automatic choice (a bound strap, else the default runner).

    Attributes:
        device: Slug of the treadmill.
        runner: The runner's slug, or None for the automatic choice.
    """

    device: str
    runner: str | None


class _RunnerPayload(_Command):
    runner: Annotated[str, Field(max_length=64)]


Command = FlagsSetCommand | CheckinCommand | InclineSetCommand | RunnerSelectCommand
"""Any validated command."""

_AUTOMATIC = frozenset({"", "auto"})


def command_topics(base: str) -> tuple[str, ...]:
    """The topic filters the bridge subscribes to for commands under `base`."""
    return topics.command_filters(base)


def parse_command(
    topic: str,
    payload: bytes,
    *,
    base: str,
    devices: Collection[str],
    runners: Collection[str] = (),
) -> Command:
    """Validate one incoming command.

    Args:
        topic: The topic the message arrived on.
        payload: The raw message payload.
        base: The daemon's base topic.
        devices: Slugs of the configured treadmills.
        runners: Slugs of the configured runners (empty: runner names are not checked).

    Returns:
        The validated command.

    Raises:
        CommandError: For an unknown topic, an oversized or non-UTF-8 payload, malformed
            JSON, wrong types, unknown keys or out-of-range values.
    """
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(
            topic, f"payload is {len(payload)} bytes, the limit is {MAX_COMMAND_BYTES}"
        )
    if topic == topics.flags_set(base):
        flags = _validate(FlagsSetCommand, topic, _load_json(topic, payload))
        return _known_runner(flags, topic, runners)
    if topic == topics.checkin(base):
        checkin = _validate(CheckinCommand, topic, _load_json(topic, payload))
        return _known_runner(checkin, topic, runners)
    runner = _runner_topic(topic, base)
    if runner is not None:
        name, verb = runner
        data = _load_json(topic, payload)
        if isinstance(data, dict):
            if data.get("runner", name) != name:
                raise CommandError(topic, "runner: differs from the runner in the topic")
            data = {**data, "runner": name}
        if verb == "flags/set":
            return _known_runner(_validate(FlagsSetCommand, topic, data), topic, runners)
        return _known_runner(_validate(CheckinCommand, topic, data), topic, runners)
    device = _device_topic(topic, base, "/runner/set")
    if device is not None:
        if device not in devices:
            raise CommandError(topic, f"unknown device {device!r}")
        text = payload.strip()
        # Home Assistant's select sends the bare option; JSON is accepted too.
        data = _load_json(topic, payload) if text[:1] in {b"{", b'"'} else None
        if data is None:
            data = {"runner": _text(topic, text)}
        elif isinstance(data, str):
            data = {"runner": data}
        chosen = _validate(_RunnerPayload, topic, data).runner
        if chosen in _AUTOMATIC:
            return RunnerSelectCommand(device=device, runner=None)
        if runners and chosen not in runners:
            raise CommandError(topic, f"runner: unknown runner {chosen!r}")
        return RunnerSelectCommand(device=device, runner=chosen)
    device = _incline_device(topic, base)
    if device is None:
        raise CommandError(topic, "not a command topic")
    if device not in devices:
        raise CommandError(topic, f"unknown device {device!r}")
    data = _load_json(topic, payload)
    if isinstance(data, int | float) and not isinstance(data, bool):
        data = {"incline_pct": data}
    incline = _validate(_InclinePayload, topic, data)
    return InclineSetCommand(device=device, incline_pct=incline.incline_pct)


def _text(topic: str, payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError(topic, "payload is not UTF-8 text") from None


def _incline_device(topic: str, base: str) -> str | None:
    return _device_topic(topic, base, "/incline/set")


def _device_topic(topic: str, base: str, suffix: str) -> str | None:
    prefix = f"{base}/"
    if not (topic.startswith(prefix) and topic.endswith(suffix)):
        return None
    device = topic[len(prefix) : -len(suffix)]
    return device if device and "/" not in device else None


def _runner_topic(topic: str, base: str) -> tuple[str, str] | None:
    """`(runner, "flags/set" | "checkin")` for a runner's command topic, else None."""
    prefix = f"{base}/runners/"
    if not topic.startswith(prefix):
        return None
    name, _, verb = topic[len(prefix) :].partition("/")
    if not name or verb not in {"flags/set", "checkin"}:
        return None
    return name, verb


_R = TypeVar("_R", FlagsSetCommand, CheckinCommand)


def _known_runner(command: _R, topic: str, runners: Collection[str]) -> _R:
    if runners and command.runner is not None and command.runner not in runners:
        raise CommandError(topic, f"runner: unknown runner {command.runner!r}")
    return command


def _reject_constant(name: str) -> Any:  # noqa: ANN401 - json's parse_constant hook
    msg = f"{name} is not a number"
    raise ValueError(msg)


def _load_json(topic: str, payload: bytes) -> Any:  # noqa: ANN401 - JSON is untyped here
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError(topic, "payload is not UTF-8 text") from None
    if not text.strip():
        raise CommandError(topic, "payload is empty")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise CommandError(topic, f"malformed JSON: {exc.msg} at character {exc.pos}") from None
    except (ValueError, RecursionError) as exc:
        raise CommandError(topic, f"malformed JSON: {exc}") from None


def _validate(model: type[_M], topic: str, data: object) -> _M:
    if not isinstance(data, dict):
        raise CommandError(topic, f"expected a JSON object, got {_json_kind(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CommandError(topic, f"{where}: {first['msg']}" if where else first["msg"]) from None


def _json_kind(data: object) -> str:
    match data:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case _:
            return type(data).__name__


def checkin_event_from(command: CheckinCommand) -> CheckinReceived:
    """The rules engine's check-in for a validated `CheckinCommand`, with every kind named."""
    first, *others = (PainKind(kind) for kind in command.kinds)
    return CheckinReceived(command.pain, first, tuple(others), command.run_id)

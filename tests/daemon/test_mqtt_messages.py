"""MQTT payloads: command validation at the trust boundary and the outgoing JSON builders."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadwell.daemon.messages import (
    MAX_COMMAND_BYTES,
    CheckinCommand,
    Command,
    CommandError,
    FlagsSetCommand,
    InclineSetCommand,
    checkin_event_from,
    command_topics,
    parse_command,
)
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
from treadwell.rules.actions import RunSummary
from treadwell.rules.model import BackPain, Flags, Prompt, PromptKind, Step

BASE = "tw"
DEVICES = ("treadmill", "garage")


def parse(topic: str, payload: bytes) -> Command:
    return parse_command(topic, payload, base=BASE, devices=DEVICES)


@pytest.mark.parametrize(
    ("topic", "payload", "expected"),
    [
        ("tw/flags/set", b'{"back_pain": "ache"}', FlagsSetCommand(back_pain="ache")),
        ("tw/flags/set", b'{"back_pain":"red","days":3}', FlagsSetCommand(back_pain="red", days=3)),
        ("tw/flags/set", b'{"back_pain": "none", "days": null}', FlagsSetCommand(back_pain="none")),
        (
            "tw/flags/set",
            b'{"back_pain": "ache", "days": 365}',
            FlagsSetCommand(back_pain="ache", days=365),
        ),
        ("tw/checkin", b'{"pain": 0, "kind": "none"}', CheckinCommand(pain=0, kind="none")),
        ("tw/checkin", b' {"kind": "night", "pain": 10}\n', CheckinCommand(pain=10, kind="night")),
        (
            "tw/treadmill/incline/set",
            b"2.5",
            InclineSetCommand(device="treadmill", incline_pct=2.5),
        ),
        ("tw/garage/incline/set", b"-3", InclineSetCommand(device="garage", incline_pct=-3.0)),
        (
            "tw/treadmill/incline/set",
            b'{"incline_pct": 40}',
            InclineSetCommand(device="treadmill", incline_pct=40.0),
        ),
        (
            "tw/treadmill/incline/set",
            b"-10.0",
            InclineSetCommand(device="treadmill", incline_pct=-10.0),
        ),
    ],
)
def test_good_commands_parse_to_their_model(topic: str, payload: bytes, expected: Command) -> None:
    assert parse(topic, payload) == expected


@pytest.mark.parametrize(
    ("topic", "payload", "error"),
    [
        ("tw/flags/set", b"", "payload is empty"),
        ("tw/flags/set", b"   ", "payload is empty"),
        ("tw/flags/set", b"\xff\xfe\x00junk", "not UTF-8"),
        ("tw/flags/set", b'{"back_pain": "ache"', "malformed JSON"),
        ("tw/flags/set", b"ache", "malformed JSON"),
        ("tw/flags/set", b'"ache"', "expected a JSON object, got a string"),
        ("tw/flags/set", b"[1, 2]", "expected a JSON object, got an array"),
        ("tw/flags/set", b"null", "expected a JSON object, got null"),
        ("tw/flags/set", b"true", "expected a JSON object, got a boolean"),
        ("tw/flags/set", b"{}", "back_pain: Field required"),
        ("tw/flags/set", b'{"back_pain": "agony"}', "back_pain: Input should be"),
        ("tw/flags/set", b'{"back_pain": "ache", "days": 0}', "days: Input should be greater"),
        ("tw/flags/set", b'{"back_pain": "ache", "days": 366}', "days: Input should be less"),
        ("tw/flags/set", b'{"back_pain": "ache", "days": 2.5}', "days: Input should be a valid"),
        ("tw/flags/set", b'{"back_pain": "ache", "days": "3"}', "days: Input should be a valid"),
        ("tw/flags/set", b'{"back_pain": "ache", "colour": 1}', "colour: Extra inputs"),
        ("tw/checkin", b'{"pain": 11, "kind": "ache"}', "pain: Input should be less"),
        ("tw/checkin", b'{"pain": -1, "kind": "ache"}', "pain: Input should be greater"),
        ("tw/checkin", b'{"pain": true, "kind": "ache"}', "pain: Input should be a valid integer"),
        ("tw/checkin", b'{"pain": 3.0, "kind": "ache"}', "pain: Input should be a valid integer"),
        ("tw/checkin", b'{"pain": 3, "kind": "dull"}', "kind: Input should be"),
        ("tw/checkin", b'{"pain": 3}', "kind: Field required"),
        ("tw/treadmill/incline/set", b"NaN", "NaN is not a number"),
        ("tw/treadmill/incline/set", b"Infinity", "Infinity is not a number"),
        ("tw/treadmill/incline/set", b"-Infinity", "-Infinity is not a number"),
        ("tw/treadmill/incline/set", b"1e999", "incline_pct: Input should be a finite number"),
        ("tw/treadmill/incline/set", b"40.5", "incline_pct: Input should be less"),
        ("tw/treadmill/incline/set", b"-11", "incline_pct: Input should be greater"),
        ("tw/treadmill/incline/set", b"true", "expected a JSON object, got a boolean"),
        ("tw/treadmill/incline/set", b'"3"', "expected a JSON object, got a string"),
        ("tw/treadmill/incline/set", b'{"incline_pct": "3"}', "incline_pct: Input should be a"),
        ("tw/treadmill/incline/set", b'{"incline": 3}', "incline_pct: Field required"),
        ("tw/treadmill/incline/set", b'{"incline_pct": 3, "device": "x"}', "device: Extra"),
        ("tw/bike/incline/set", b"3", "unknown device 'bike'"),
        ("tw/a/b/incline/set", b"3", "not a command topic"),
        ("tw//incline/set", b"3", "not a command topic"),
        ("tw/status", b"online", "not a command topic"),
        ("other/flags/set", b'{"back_pain": "ache"}', "not a command topic"),
        ("tw/checkin", b"[" * 2000 + b"]" * 2000, "malformed JSON: maximum recursion depth"),
        ("tw/checkin", b"1" * 4096, "expected a JSON object, got a number"),
        ("tw/treadmill/incline/set", b"1" * 400, "incline_pct: Input should be a valid number"),
        ("tw/checkin", b" " * (MAX_COMMAND_BYTES + 1), "the limit is 4096"),
        ("tw/flags/set", b'{"back_pain": "ache", "x": "' + b"a" * 5000 + b'"}', "limit is 4096"),
    ],
)
def test_bad_commands_are_rejected_with_a_short_clear_error(
    topic: str, payload: bytes, error: str
) -> None:
    with pytest.raises(CommandError) as info:
        parse(topic, payload)
    assert error in info.value.message
    assert info.value.topic == topic
    assert isinstance(info.value, TreadwellError)
    assert "\n" not in info.value.message
    assert len(info.value.message) < 200


def test_command_topics_cover_every_command() -> None:
    assert command_topics("tw") == (
        "tw/flags/set",
        "tw/checkin",
        "tw/+/incline/set",
        "tw/+/runner/set",
        "tw/runners/+/flags/set",
        "tw/runners/+/checkin",
    )


@settings(max_examples=300)
@given(payload=st.binary(max_size=MAX_COMMAND_BYTES + 16))
def test_arbitrary_bytes_give_a_command_or_a_command_error(payload: bytes) -> None:
    for topic in ("tw/flags/set", "tw/checkin", "tw/treadmill/incline/set"):
        try:
            parse(topic, payload)
        except CommandError as exc:
            error = exc
        else:
            continue
        assert error.topic == topic
        assert error.message


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.sampled_from(["ache", "none"]),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=4,
)


@settings(max_examples=300)
@given(data=st.dictionaries(st.sampled_from(["pain", "kind", "back_pain", "days", "x"]), _JSON))
def test_arbitrary_json_objects_give_a_command_or_a_command_error(data: object) -> None:
    payload = json.dumps(data).encode()
    for topic in ("tw/flags/set", "tw/checkin", "tw/treadmill/incline/set"):
        try:
            command = parse(topic, payload)
        except CommandError:
            continue
        assert isinstance(command, FlagsSetCommand | CheckinCommand | InclineSetCommand)


@settings(max_examples=300)
@given(incline=st.floats(allow_nan=True, allow_infinity=True))
def test_incline_commands_accept_exactly_the_finite_range(incline: float) -> None:
    payload = json.dumps(incline).encode()  # NaN and inf become the JSON-ish constants
    in_range = math.isfinite(incline) and -10.0 <= incline <= 40.0
    if in_range:
        assert parse("tw/treadmill/incline/set", payload) == InclineSetCommand(
            device="treadmill", incline_pct=incline
        )
    else:
        with pytest.raises(CommandError):
            parse("tw/treadmill/incline/set", payload)


@settings(max_examples=200)
@given(pain=st.integers(-100, 100), kind=st.sampled_from(["none", "ache", "sharp", "night"]))
def test_checkin_pain_is_accepted_exactly_from_0_to_10(pain: int, kind: str) -> None:
    payload = json.dumps({"pain": pain, "kind": kind}).encode()
    if 0 <= pain <= 10:
        assert parse("tw/checkin", payload) == CheckinCommand(pain=pain, kind=kind)  # type: ignore[arg-type]
    else:
        with pytest.raises(CommandError, match="pain"):
            parse("tw/checkin", payload)


def test_error_report_is_json_with_topic_error_and_zoned_time() -> None:
    at = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)
    report = ErrorReport(topic="tw/checkin", error="pain: too high", received_at=at)
    assert json.loads(report.to_json()) == {
        "topic": "tw/checkin",
        "error": "pain: too high",
        "received_at": "2026-11-26T07:30:00+00:00",
    }


def test_state_payload_carries_every_field_and_nulls_the_unknown() -> None:
    payload = state_payload(
        speed_kmh=8.5,
        incline_pct=float("nan"),
        total_distance_m=1200.0,
        elapsed_time_s=None,
        heart_rate_bpm=142,
        running=True,
        connected=True,
        run_id="run-1",
        runner="alice",
    )
    assert json.loads(payload) == {
        "speed_kmh": 8.5,
        "incline_pct": None,
        "total_distance_m": 1200.0,
        "elapsed_time_s": None,
        "heart_rate_bpm": 142,
        "running": True,
        "connected": True,
        "run_id": "run-1",
        "runner": "alice",
        "cadence_spm": None,
        "stride_length_m": None,
    }


def test_state_payload_has_the_suggested_incline_only_when_there_is_one() -> None:
    payload = state_payload(
        speed_kmh=None,
        incline_pct=1.0,
        total_distance_m=None,
        elapsed_time_s=None,
        heart_rate_bpm=None,
        running=False,
        connected=False,
        run_id=None,
        suggested_incline_pct=2.5,
    )
    assert json.loads(payload)["suggested_incline_pct"] == 2.5


@dataclass(frozen=True, slots=True)
class _Step:
    name: str
    seconds: int | None = None


def test_prompt_payload_carries_the_event_type_and_the_suggested_incline() -> None:
    created = datetime(2026, 11, 26, 8, 0, tzinfo=timezone(timedelta(hours=1)))
    payload = prompt_payload(
        prompt_id="run-1-incline",
        kind="incline",
        title="Try a gentle incline",
        message="Raise the incline to 2-3 %.",
        steps=[_Step("raise incline", 10), "keep going"],
        run_id="run-1",
        created_at=created,
        disclaimer="Not medical advice.",
        suggested_incline_pct=2.5,
    )
    assert json.loads(payload) == {
        "id": "run-1-incline",
        "event_type": "incline",
        "kind": "incline",
        "title": "Try a gentle incline",
        "message": "Raise the incline to 2-3 %.",
        "steps": [{"name": "raise incline", "seconds": 10}, "keep going"],
        "run_id": "run-1",
        "created_at": "2026-11-26T08:00:00+01:00",
        "disclaimer": "Not medical advice.",
        "urgent": False,
        "runner": None,
        "suggested_incline_pct": 2.5,
    }


@pytest.mark.parametrize("kind", PROMPT_KINDS)
def test_only_incline_prompts_carry_a_suggested_incline(kind: str) -> None:
    payload = prompt_payload(
        prompt_id="p",
        kind=kind,
        title="t",
        message="m",
        steps=[],
        run_id=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        disclaimer=None,
        suggested_incline_pct=2.5,
    )
    assert ("suggested_incline_pct" in json.loads(payload)) == (kind == "incline")
    assert json.loads(payload)["event_type"] == kind


def test_prompt_payload_rejects_an_unknown_kind_and_a_naive_time() -> None:
    common: dict[str, object] = {
        "prompt_id": "p",
        "title": "t",
        "message": "m",
        "steps": [],
        "run_id": None,
    }
    with pytest.raises(ValueError, match="unknown prompt kind"):
        prompt_payload(
            **common,  # type: ignore[arg-type]
            kind="dance",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            disclaimer=None,
        )
    with pytest.raises(ValueError, match="no time zone"):
        prompt_payload(
            **common,  # type: ignore[arg-type]
            kind="hydration",
            created_at=datetime(2026, 1, 1),  # noqa: DTZ001 - the point of the test
            disclaimer=None,
        )


def test_flags_payload_with_and_without_expiry() -> None:
    expires = datetime(2026, 12, 1, tzinfo=UTC)
    assert json.loads(flags_payload(back_pain="ache", expires_at=expires)) == {
        "back_pain": "ache",
        "expires_at": "2026-12-01T00:00:00+00:00",
    }
    assert json.loads(flags_payload(back_pain="none", expires_at=None)) == {
        "back_pain": "none",
        "expires_at": None,
    }


@dataclass(frozen=True, slots=True)
class _Summary:
    run_id: str
    ended_at: datetime
    distance_m: float
    avg_hr_bpm: float
    prompts: tuple[str, ...]


def test_run_payload_accepts_a_mapping_or_a_dataclass() -> None:
    ended = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    summary = _Summary("run-1", ended, 5012.5, float("inf"), ("a", "b"))
    expected = {
        "run_id": "run-1",
        "ended_at": "2026-11-26T09:00:00+00:00",
        "distance_m": 5012.5,
        "avg_hr_bpm": None,
        "prompts": ["a", "b"],
    }
    assert json.loads(run_payload(summary)) == expected
    mapping = {
        "run_id": "run-1",
        "ended_at": ended,
        "distance_m": 5012.5,
        "avg_hr_bpm": math.nan,
        "prompts": ["a", "b"],
        "window": {"in_s": 60.0},
    }
    assert json.loads(run_payload(mapping)) == expected | {"window": {"in_s": 60.0}}


def test_a_rules_engine_prompt_becomes_prompt_json() -> None:
    prompt = Prompt(
        id="run-1-stop",
        kind=PromptKind.STOP_RUNNING,
        title="Stop running",
        message="Sharp pain: stop and see a healthcare provider.",
        steps=(Step("walk slowly", seconds=120), Step("figure-4 stretch", reps="2", per_side=True)),
        run_id="run-1",
        created_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        disclaimer="Not medical advice.",
        urgent=True,
    )
    assert json.loads(prompt_payload_from(prompt)) == {
        "id": "run-1-stop",
        "event_type": "stop_running",
        "kind": "stop_running",
        "title": "Stop running",
        "message": "Sharp pain: stop and see a healthcare provider.",
        "steps": [
            {
                "name": "walk slowly",
                "seconds": 120,
                "reps": None,
                "per_side": False,
                "max_seconds": None,
                "how": None,
            },
            {
                "name": "figure-4 stretch",
                "seconds": None,
                "reps": "2",
                "per_side": True,
                "max_seconds": None,
                "how": None,
            },
        ],
        "run_id": "run-1",
        "created_at": "2026-11-26T08:00:00+00:00",
        "disclaimer": "Not medical advice.",
        "urgent": True,
        "runner": None,
    }


def test_rules_engine_flags_become_flags_json() -> None:
    flags = Flags(back_pain=BackPain.ACHE, expires_at=datetime(2026, 12, 1, tzinfo=UTC))
    assert json.loads(flags_payload_from(flags)) == {
        "back_pain": "ache",
        "expires_at": "2026-12-01T00:00:00+00:00",
    }


def test_a_run_summary_becomes_run_json_with_a_prompt_count() -> None:
    start = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    summary = RunSummary(
        run_id="run-1",
        started_at=start,
        ended_at=start + timedelta(minutes=30),
        duration_s=1800.0,
        moving_s=1750.0,
        distance_m=4500.0,
        average_speed_kmh=9.0,
        incline_time_in_window_s=1200.0,
        average_hr_bpm=None,
        max_hr_bpm=None,
        prompt_ids=("run-1-warmup", "run-1-incline"),
    )
    assert json.loads(run_payload_from(summary)) == {
        "run_id": "run-1",
        "started_at": "2026-11-26T07:00:00+00:00",
        "ended_at": "2026-11-26T07:30:00+00:00",
        "duration_s": 1800.0,
        "moving_s": 1750.0,
        "distance_m": 4500.0,
        "average_speed_kmh": 9.0,
        "incline_time_in_window_s": 1200.0,
        "average_hr_bpm": None,
        "max_hr_bpm": None,
        "prompt_ids": ["run-1-warmup", "run-1-incline"],
        "runner": None,
        "treadmill": None,
        "prompts_issued": 2,
    }


@pytest.mark.parametrize(
    ("payload", "pain", "kinds"),
    [
        (b'{"pain": 3, "kind": "ache"}', 3, {"ache"}),
        (b'{"pain": 8, "kinds": ["sharp", "radiating"]}', 8, {"sharp", "radiating"}),
        (
            b'{"pain": 8, "kind": "sharp", "kinds": ["radiating", "sharp"]}',
            8,
            {"sharp", "radiating"},
        ),
        (b'{"pain": 0, "kinds": ["none"]}', 0, {"none"}),
    ],
)
def test_a_checkin_names_one_kind_or_several_and_reaches_the_rules_whole(
    payload: bytes, pain: int, kinds: set[str]
) -> None:
    command = parse("tw/checkin", payload)
    assert isinstance(command, CheckinCommand)
    assert set(command.kinds) == kinds
    assert command.kind == command.kinds[0]
    event = checkin_event_from(command)
    assert event.pain == pain
    assert {str(kind) for kind in event.kinds} == kinds


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b'{"pain": 8, "kinds": []}', "kinds must be a non-empty list"),
        (b'{"pain": 8, "kinds": "sharp"}', "kinds must be a non-empty list"),
        (b'{"pain": 8, "kinds": [1]}', "every pain kind must be a string"),
        (b'{"pain": 8, "kinds": ["none", "sharp"]}', "'none' cannot be combined"),
        (b'{"pain": 8, "kinds": ["sharp", "dull"]}', "kinds.1: Input should be"),
    ],
)
def test_bad_checkin_kinds_are_refused_with_a_reason(payload: bytes, error: str) -> None:
    with pytest.raises(CommandError, match=error):
        parse("tw/checkin", payload)


@pytest.mark.parametrize("back_pain", ["none", "ache", "check", "red"])
def test_every_flag_level_can_be_set(back_pain: str) -> None:
    command = parse("tw/flags/set", json.dumps({"back_pain": back_pain}).encode())
    assert command == FlagsSetCommand(back_pain=back_pain)  # type: ignore[arg-type]

"""Pure. Outgoing MQTT payloads: compact UTF-8 JSON for state, prompts, flags, runs and errors.

The `*_payload` functions take plain values; the `*_from` ones map the rules engine's types
onto them. Timestamps must carry a zone and non-finite numbers are written as null.
Incoming commands are parsed in `treadwell.daemon.messages`, which re-exports these names.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from treadwell.rules.model import PromptKind

if TYPE_CHECKING:
    from collections.abc import Sequence

    from _typeshed import DataclassInstance

    from treadwell.rules.actions import RunSummary
    from treadwell.rules.model import Flags, Prompt

PROMPT_KINDS: Final = tuple(kind.value for kind in PromptKind)
"""Every prompt kind the rules engine emits (also Home Assistant's `event_types`)."""


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """What `{base}/error` carries for a rejected command.

    Attributes:
        topic: The topic the command arrived on.
        error: What was wrong with it.
        received_at: When it arrived (timezone-aware).
        suppressed: For a summary of a flood: how many rejected commands it stands for that
            were not reported one by one (written only when above zero).
    """

    topic: str
    error: str
    received_at: datetime
    suppressed: int = 0

    def to_json(self) -> bytes:
        """The report as compact UTF-8 JSON."""
        report: dict[str, object] = {
            "topic": self.topic,
            "error": self.error,
            "received_at": _iso(self.received_at),
        }
        if self.suppressed:
            report["suppressed"] = self.suppressed
        return _dump(report)


def state_payload(
    *,
    speed_kmh: float | None,
    incline_pct: float | None,
    total_distance_m: float | None,
    elapsed_time_s: float | None,
    heart_rate_bpm: int | None,
    running: bool,
    connected: bool,
    run_id: str | None,
    suggested_incline_pct: float | None = None,
    runner: str | None = None,
    cadence_spm: float | None = None,
    stride_length_m: float | None = None,
) -> bytes:
    """The retained `{base}/<device>/state` JSON: the latest reading of one treadmill.

    Unknown values are JSON `null`; `suggested_incline_pct` appears only when there is one.
    `runner` is who runs (or would, if a run started now); `cadence_spm` and `stride_length_m`
    come from a footpod, or the cadence from the deck's step count.
    """
    state: dict[str, object] = {
        "speed_kmh": _finite(speed_kmh),
        "incline_pct": _finite(incline_pct),
        "total_distance_m": _finite(total_distance_m),
        "elapsed_time_s": _finite(elapsed_time_s),
        "heart_rate_bpm": heart_rate_bpm,
        "running": running,
        "connected": connected,
        "run_id": run_id,
        "runner": runner,
        "cadence_spm": _rounded(cadence_spm, 0),
        "stride_length_m": _rounded(stride_length_m, 2),
    }
    if suggested_incline_pct is not None:
        state["suggested_incline_pct"] = _finite(suggested_incline_pct)
    return _dump(state)


def prompt_payload(
    *,
    prompt_id: str,
    kind: str,
    title: str,
    message: str,
    steps: Sequence[object],
    run_id: str | None,
    created_at: datetime,
    disclaimer: str | None,
    suggested_incline_pct: float | None = None,
    urgent: bool = False,
    runner: str | None = None,
) -> bytes:
    """The `{base}/prompt` JSON for one prompt (`runner`: whom it is for).

    It carries `event_type` (= `kind`) so Home Assistant's event entity can fire on it.
    `steps` may be strings, mappings or dataclasses (such as `treadwell.rules.model.Step`);
    dataclasses are written as JSON objects of their fields.

    Raises:
        ValueError: If `kind` is not one of `PROMPT_KINDS` or `created_at` has no zone.
    """
    if kind not in PROMPT_KINDS:
        msg = f"unknown prompt kind {kind!r}; expected one of {', '.join(PROMPT_KINDS)}"
        raise ValueError(msg)
    prompt: dict[str, object] = {
        "id": prompt_id,
        "event_type": kind,
        "kind": kind,
        "title": title,
        "message": message,
        "steps": [_plain(step) for step in steps],
        "run_id": run_id,
        "created_at": _iso(created_at),
        "disclaimer": disclaimer,
        "urgent": urgent,
        "runner": runner,
    }
    if kind == "incline":
        prompt["suggested_incline_pct"] = _finite(suggested_incline_pct)
    return _dump(prompt)


def prompt_payload_from(prompt: Prompt) -> bytes:
    """The `{base}/prompt` JSON for a rules-engine `Prompt`."""
    return prompt_payload(
        prompt_id=prompt.id,
        kind=prompt.kind,
        title=prompt.title,
        message=prompt.message,
        steps=prompt.steps,
        run_id=prompt.run_id,
        created_at=prompt.created_at,
        disclaimer=prompt.disclaimer,
        suggested_incline_pct=prompt.suggested_incline_pct,
        urgent=prompt.urgent,
        runner=prompt.runner,
    )


def flags_payload_from(flags: Flags, *, runner: str | None = None) -> bytes:
    """The retained flags JSON for the rules engine's `Flags` (and whose they are)."""
    return flags_payload(back_pain=flags.back_pain, expires_at=flags.expires_at, runner=runner)


def run_payload_from(summary: RunSummary, *, treadmill: str | None = None) -> bytes:
    """The retained `{base}/run` JSON for a `RunSummary`, plus `prompts_issued` (a count).

    `treadmill`, when given, names the treadmill (its slug) the run was on.
    """
    fields = dataclasses.asdict(summary)
    fields["prompts_issued"] = len(summary.prompt_ids)
    if treadmill is not None:
        fields["treadmill"] = treadmill
    return run_payload(fields)


def flags_payload(
    *, back_pain: str, expires_at: datetime | None, runner: str | None = None
) -> bytes:
    """The retained flags JSON, e.g. `{"back_pain": "ache", "expires_at": "...", "runner": ...}`."""
    expires = None if expires_at is None else _iso(expires_at)
    data: dict[str, object] = {"back_pain": back_pain, "expires_at": expires}
    if runner is not None:
        data["runner"] = runner
    return _dump(data)


def run_payload(summary: Mapping[str, object] | DataclassInstance) -> bytes:
    """The retained `{base}/run` JSON: the summary of the last finished run.

    Args:
        summary: A mapping or dataclass of plain values (duration, distance, average speed,
            incline time-in-window, average and max heart rate, prompts issued). Datetimes
            are written as ISO 8601 and non-finite numbers as null.
    """
    if not isinstance(summary, Mapping):
        summary = dataclasses.asdict(summary)
    return _dump({str(key): _plain(value) for key, value in summary.items()})


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def _rounded(value: float | None, digits: int) -> float | None:
    finite = _finite(value)
    return None if finite is None else round(finite, digits)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"timestamp {moment!r} has no time zone"
        raise ValueError(msg)
    return moment.isoformat()


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
"""One encoder for every payload: `json.dumps` with options builds a new one per call."""


def _dump(data: Mapping[str, object]) -> bytes:
    return _ENCODER.encode(data).encode()

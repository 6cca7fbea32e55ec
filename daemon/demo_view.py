"""I/O. What `treadwell demo` shows on the terminal: the latest state line and every prompt.

The view is an ordinary MQTT subscriber's: it is handed the daemon's messages (see
`treadwell.daemon.demo_broker`) and writes what a dashboard would show, keeping one status
line in place on a terminal and printing it every two seconds otherwise.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class DemoView:
    """What the terminal shows: the latest state line and every prompt as it arrives."""

    out: TextIO
    base: str
    tty: bool = False
    prompts: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] | None = None
    _status_shown: bool = False
    _last_line_at: float = 0.0

    def handle(self, topic: str, payload: bytes) -> None:
        """Show one message from the daemon."""
        if not payload:
            return
        try:
            data = json.loads(payload)
        except ValueError:
            return
        if topic == f"{self.base}/prompt" and isinstance(data, dict):
            self.prompts.append(data)
            self._prompt(data)
        elif topic.endswith("/state") and isinstance(data, dict):
            self.state = data
            self._status()
        elif topic == f"{self.base}/run" and isinstance(data, dict):
            self.run = data

    def note(self, text: str) -> None:
        """A line about the demo itself (the broker went away, came back)."""
        self._write(text)
        self._status()

    def _write(self, text: str) -> None:
        if self.tty and self._status_shown:
            self.out.write("\r\033[K")
            self._status_shown = False
        self.out.write(text)
        self.out.flush()

    def _prompt(self, prompt: dict[str, Any]) -> None:
        kind = str(prompt.get("kind", "?")).upper().replace("_", " ")
        lines = [f"\n>> {kind}: {prompt.get('title', '')}\n", f"   {prompt.get('message', '')}\n"]
        lines.extend(
            f"   - {_step_text(step)}\n"
            for step in prompt.get("steps") or []
            if isinstance(step, dict)
        )
        if prompt.get("suggested_incline_pct") is not None:
            lines.append(f"   suggested incline: {prompt['suggested_incline_pct']:g}%\n")
        lines.append(f"   ({prompt.get('disclaimer', '')})\n")
        self._write("".join(lines))
        self._status()

    def _status(self) -> None:
        line = status_line(self.state)
        if self.tty:
            self.out.write("\r\033[K" + line)
            self.out.flush()
            self._status_shown = True
            return
        now = time.monotonic()
        if now - self._last_line_at >= 2.0:
            self._last_line_at = now
            self._write(line + "\n")

    def summary(self) -> str:
        """The closing run summary."""
        run = self.run or {}
        kinds = ", ".join(str(p.get("kind")) for p in self.prompts)
        return (
            "\n\nRun summary\n"
            f"  duration      {_minutes(run.get('duration_s'))}\n"
            f"  distance      {_km(run.get('distance_m'))}\n"
            f"  average speed {_num(run.get('average_speed_kmh'), 'km/h')}\n"
            f"  incline 2-3%  {_minutes(run.get('incline_time_in_window_s'))}\n"
            f"  heart rate    avg {_num(run.get('average_hr_bpm'), 'bpm')},"
            f" max {_num(run.get('max_hr_bpm'), 'bpm')}\n"
            f"  prompts       {len(self.prompts)} ({kinds})\n"
        )


def status_line(state: dict[str, Any]) -> str:
    """One line: speed, incline (and the suggestion), heart rate, distance, time."""
    suggested = state.get("suggested_incline_pct")
    hint = f" (suggested {suggested:g}%)" if isinstance(suggested, int | float) else ""
    link = "connected" if state.get("connected") else "waiting for the treadmill"
    return (
        f"speed {_num(state.get('speed_kmh'), 'km/h')} | "
        f"incline {_num(state.get('incline_pct'), '%')}{hint} | "
        f"HR {_num(state.get('heart_rate_bpm'), 'bpm')} | "
        f"distance {_km(state.get('total_distance_m'))} | "
        f"time {_minutes(state.get('elapsed_time_s'))} | {link}"
    )


def _step_text(step: dict[str, Any]) -> str:
    seconds, upto = step.get("seconds"), step.get("max_seconds")
    span = f"{seconds}-{upto}" if upto and upto != seconds else f"{seconds}"
    amount = f"{span} s" if seconds else str(step.get("reps") or "")
    side = "each side" if step.get("per_side") else ""
    detail = " ".join(part for part in (amount, side) if part)
    return f"{step.get('name', '')}: {detail}" if detail else str(step.get("name", ""))


def _num(value: object, unit: str) -> str:
    if isinstance(value, int | float):
        return f"{value:.1f} {unit}" if isinstance(value, float) else f"{value} {unit}"
    return "-"


def _km(value: object) -> str:
    return f"{value / 1000:.2f} km" if isinstance(value, int | float) else "-"


def _minutes(value: object) -> str:
    if not isinstance(value, int | float):
        return "-"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}:{seconds:02d}"

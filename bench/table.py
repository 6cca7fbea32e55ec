"""I/O (a JSON file in, Markdown out). The README's performance tables from one bench.e2e run.

    .venv/bin/python -m bench.e2e --json > e2e.json
    .venv/bin/python -m bench.footprint_bluez --json > footprint_bluez.json  # optional
    .venv/bin/python -m bench.table e2e.json [footprint_bluez.json]

Prints Markdown: the settings, the latency table at the maximum state rate (with the relay's
figures and the ratio), the default-rate table (the delay beyond the publish slot), the CPU
table (the worker's own and net of the sink), the prompt path and the footprint, each with
its sample counts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _spread(run: dict[str, Any], key: str) -> str:
    """A ratio and, when the repeats differed, their range: `1.31x (1.22-1.40)`."""
    text = _ratio(run[key])
    low_high = run.get(f"{key}_range")
    if low_high is None or low_high[0] == low_high[1]:
        return text
    return f"{text} ({low_high[0]:.2f}-{low_high[1]:.2f})"


def render(output: dict[str, Any], bluez: dict[str, Any] | None = None) -> str:
    """The Markdown for one bench.e2e output (and a bench.footprint_bluez one, if given)."""
    s = output["settings"]
    rates = s["max_state_rate_hz"]
    lines = [
        f"One `python -m bench.e2e --json` run: {s['python']}, {s['cpus']} CPUs, 1-minute load"
        f" {s['load_1min'][0]} before and {s['load_1min'][1]} after; each treadmill sends"
        f" Treadmill Data at {s['notify_hz']:g} Hz ({s['speed_kmh']:g} km/h) and has a"
        f" {s['strap_hz']:g} Hz strap; a {s['window_s']:g} s window per run"
        f" (x{s['repeat']}); `rules.run_start_s = {s['run_start_s']:g}`.",
        "",
        f"At the maximum state rate (`max_state_rate_hz = {rates['daemon']:g}`: every reading"
        " is published), notification to MQTT state at a subscriber, ms:",
        "",
        "| treadmills | daemon p50 / p99 / max | bare relay p50 / p99 / max | samples"
        " (daemon, relay) | p99 ratio (repeats' range; target <= 1.5x) |",
        "|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r['treadmills']} | {r['p50_ms']} / {r['p99_ms']} / {r['max_ms']}"
        f" | {r['relay_p50_ms']} / {r['relay_p99_ms']} / {r['relay_max_ms']}"
        f" | {r['samples']}, {r['relay_samples']} | {_spread(r, 'p99_ratio')} |"
        for r in output["runs"]
    )
    lines += [
        "",
        f"At the default state rate (`max_state_rate_hz = {rates['default']:g}`; readings come"
        f" at {s['notify_hz']:g} Hz, so about half are replaced by the next one before their"
        " slot), ms:",
        "",
        "| treadmills | latency p50 / p99 | delay beyond the publish slot p50 / p99 / max"
        " | samples (published, replaced) |",
        "|---|---|---|---|",
    ]
    lines.extend(
        f"| {r['treadmills']} | {r['default_p50_ms']} / {r['default_p99_ms']}"
        f" | {r['default_beyond_slot_p50_ms']} / {r['default_beyond_slot_p99_ms']}"
        f" / {r['default_beyond_slot_max_ms']}"
        f" | {r['default_samples']}, {r['default_unmatched']} |"
        for r in output["runs"]
    )
    lines += ["", *_cpu_table(output)]
    lines.append("")
    for key, broker in (
        ("prompt", "mosquitto as installed (Nagle's algorithm on)"),
        ("prompt_nodelay", "mosquitto with `set_tcp_nodelay true`"),
    ):
        prompt = output.get(key)
        if prompt and "p99_ms" in prompt:
            lines.append(
                f"- Run end (Stop) to the hydration prompt at a subscriber, {broker}:"
                f" {prompt['samples']} runs at {s['prompt_treadmills']} treadmill(s): p50"
                f" {prompt['p50_ms']} ms, p99 {prompt['p99_ms']} ms, max {prompt['max_ms']} ms"
                f" ({prompt['missing']} missing; target p99 < 50 ms)."
            )
    if output.get("ready_s") is not None:
        lines.append(
            f"- Start to systemd READY: {output['ready_s_bleak']} s with bleak,"
            f" {output['ready_s']} s with the virtual world (target 1.5 s)."
        )
        lines.append(
            f"- Resident memory: {output['rss_mb_bleak']} MB with bleak and nothing connected"
            f" (no adapter on the bench machine), {output['rss_mb']} MB with the virtual world"
            " and its treadmill and strap connected in the same process."
        )
    if bluez is not None:
        lines.append(
            f"- Resident memory of `treadwell run` with a treadmill, a strap and a footpod"
            f" connected through BlueZ (`python -m bench.footprint_bluez`, Python"
            f" {bluez['python']} in the BlueZ VM): {bluez['rss_mb']} MB after"
            f" {bluez['settle_s']:g} s connected, peak {bluez['peak_rss_mb']} MB (target"
            f" {bluez['target_mb']:g} MB)."
        )
    return "\n".join(lines)


def _cpu_table(output: dict[str, Any]) -> list[str]:
    runs = output["runs"]
    if output["settings"].get("world", "").startswith("in the worker"):
        intro = (
            "CPU per Treadmill Data notification, us (gross: the worker process, virtual world"
            " included; net: the world alone, measured before and after, subtracted; the"
            " target is on the net ratio):"
        )
    else:
        intro = (
            "CPU per Treadmill Data notification, us. The virtual world runs in a process of"
            " its own, as a radio would, so the worker's figure is the code under test and"
            " bleak's end of the socket (target: daemon <= 1.2x relay). The sink run receives"
            " the same notifications and does nothing with them; net takes its mean (before,"
            " after) off. The world's own process, for scale, in the daemon run:"
        )
    lines = [
        intro,
        "",
        "| treadmills | daemon / net | relay / net | sink (before, after) | ratio (repeats'"
        " range) | net ratio (range)"
        " | ratio at 2 Hz (net) | world process |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r['treadmills']} | {r['cpu_us_per_notification']} / {r['net_cpu_us_per_notification']}"
        f" | {r['relay_cpu_us_per_notification']} / {r['relay_net_cpu_us_per_notification']}"
        f" | {r['sink_cpu_us_per_notification']} ({r['sink_before_cpu_us_per_notification']},"
        f" {r['sink_after_cpu_us_per_notification']}) | {_spread(r, 'cpu_ratio')}"
        f" | {_spread(r, 'net_cpu_ratio')} | {_ratio(r['default_cpu_ratio'])}"
        f" ({_ratio(r['default_net_cpu_ratio'])})"
        f" | {r.get('world_cpu_us_per_notification', 'in the worker')} |"
        for r in runs
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the tables for the bench.e2e JSON file named first (or stdin).

    A second file, if named, is a `bench.footprint_bluez --json` output.
    """
    args = sys.argv[1:] if argv is None else argv
    text = Path(args[0]).read_text(encoding="utf-8") if args else sys.stdin.read()
    bluez = json.loads(Path(args[1]).read_text(encoding="utf-8")) if len(args) > 1 else None
    print(render(json.loads(text), bluez))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A dashboard or a neighbour sends garbage to every command topic of a running daemon.

The whole daemon runs in-process on the virtual world against a real mosquitto (as in
tests/daemon/test_app.py). Every bad command must come back as a report on `{base}/error`,
change nothing (the retained flags stay as they were, no check-in is stored, the treadmill's
control point hears nothing) and leave the daemon responsive. A flood of junk is answered with
rate-limited reports whose counts still add up to every command sent.

mosquitto 2's default `max_packet_size` has no limit below MQTT's own, so the 1 MB payloads
reach the daemon (and are refused there, by size, before any parsing); the test broker needs
no extra configuration for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiomqtt
import pytest

from tests.daemon.test_app import running, settings_for, virtual_devices
from tests.daemon.test_mqtt_bridge import bridge_settings, running_bridge
from tests.support.mqtt_client import Subscriber, subscriber
from treadwell.daemon.error_reports import DROPPED
from treadwell.daemon.mqtt import (
    ERROR_REPORT_BURST,
    ERROR_REPORT_RATE_HZ,
    INCOMING_QUEUE_MAX,
)
from treadwell.daemon.store import Store
from treadwell.drivers.codec.ftms import ControlOp

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.support.mosquitto import Mosquitto
    from treadwell.drivers.virtual.treadmill import VirtualTreadmill

pytestmark = [pytest.mark.reliability, pytest.mark.mqtt]

FLAGS = "tw/flags/set"
CHECKIN = "tw/checkin"
INCLINE = "tw/treadmill/incline/set"
MEGABYTE = 1024 * 1024

BEYOND_LIMITS = "outside your limits"
"""What the rules say of a well-formed incline beyond the runner's limit."""

# (topic, payload, a fragment the error must contain)
BAD_COMMANDS: list[tuple[str, bytes, str]] = [
    # malformed JSON, empty, binary junk
    (FLAGS, b'{"back_pain": "red"', "malformed JSON"),
    (CHECKIN, b"pain=7", "malformed JSON"),
    (INCLINE, b"", "empty"),
    (FLAGS, b"   \n", "empty"),
    (CHECKIN, bytes(range(256)), "not UTF-8"),
    (INCLINE, b"\x00\x01\x02\xff", "not UTF-8"),
    (FLAGS, b"\x00\x00\x00", "malformed JSON"),
    (CHECKIN, b"[" * 2000 + b"]" * 2000, "malformed JSON"),
    # wrong types
    (FLAGS, b'{"back_pain": 2}', "back_pain"),
    (FLAGS, b'{"back_pain": "red", "days": "3"}', "days"),
    (FLAGS, b'{"back_pain": "red", "days": 2.5}', "days"),
    (FLAGS, b'"red"', "expected a JSON object"),
    (FLAGS, b"null", "expected a JSON object"),
    (CHECKIN, b'{"pain": "7", "kind": "sharp"}', "pain"),
    (CHECKIN, b'{"pain": true, "kind": "sharp"}', "pain"),
    (CHECKIN, b'{"pain": 7, "kind": 3}', "kind"),
    (CHECKIN, b"[7, 3]", "expected a JSON object"),
    (INCLINE, b'"2.5"', "expected a JSON object"),
    (INCLINE, b"true", "expected a JSON object"),
    (INCLINE, b'{"incline_pct": [2.5]}', "incline_pct"),
    # NaN and infinities
    (INCLINE, b"NaN", "malformed JSON"),
    (INCLINE, b'{"incline_pct": Infinity}', "malformed JSON"),
    (INCLINE, b"-Infinity", "malformed JSON"),
    (INCLINE, b"1e999", "incline_pct"),
    (CHECKIN, b'{"pain": NaN, "kind": "ache"}', "malformed JSON"),
    (FLAGS, b'{"back_pain": "ache", "days": 1e400}', "days"),
    # negative and huge numbers
    (CHECKIN, b'{"pain": -1, "kind": "ache"}', "pain"),
    (CHECKIN, b'{"pain": 100000000000000000000000000000, "kind": "ache"}', "pain"),
    (FLAGS, b'{"back_pain": "ache", "days": -5}', "days"),
    (FLAGS, b'{"back_pain": "ache", "days": 0}', "days"),
    (FLAGS, b'{"back_pain": "ache", "days": 99999999999999999999}', "days"),
    (INCLINE, b"-500", "incline_pct"),
    (INCLINE, b"1.7976931348623157e308", "incline_pct"),
    # well-formed, in the message's range, but beyond this runner's limit (3 %)
    (INCLINE, b"3.5", BEYOND_LIMITS),
    (INCLINE, b'{"incline_pct": 12}', BEYOND_LIMITS),
    # unknown keys and values
    (FLAGS, b'{"back_pain": "ache", "until": "tomorrow"}', "until"),
    (FLAGS, b'{"back_pain": "sore"}', "back_pain"),
    (CHECKIN, b'{"pain": 3, "kind": "ache", "note": "hi"}', "note"),
    (CHECKIN, b'{"pain": 3}', "kind"),
    (INCLINE, b'{"incline_pct": 2, "speed_kmh": 20}', "speed_kmh"),
    (INCLINE, b'{"speed_kmh": 20}', "incline_pct"),
    ("tw/other/incline/set", b"2", "unknown device"),
    # 1 MB payloads: valid JSON, junk and binary
    (FLAGS, b'{"back_pain": "red", "x": "' + b"a" * MEGABYTE + b'"}', "limit is 4096"),
    (CHECKIN, b" " * MEGABYTE, "limit is 4096"),
    (INCLINE, bytes(MEGABYTE), "limit is 4096"),
]


def rss_bytes() -> int:
    """This process's resident set size, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@contextlib.asynccontextmanager
async def commander(broker: Mosquitto) -> AsyncIterator[aiomqtt.Client]:
    """One long-lived client that sends commands with QoS 1, in order."""
    async with aiomqtt.Client(
        broker.host, broker.port, identifier=f"abuser-{uuid.uuid4().hex[:6]}"
    ) as client:
        yield client


def accounted(sub: Subscriber) -> int:
    """How many rejected commands the error reports stand for (a summary counts several)."""
    return sum(report.get("suppressed", 1) for report in sub.json_on("tw/error"))


def incline_requests(treadmill: VirtualTreadmill) -> list[float | None]:
    return [
        r.incline_pct for r in treadmill.control_log if r.op == ControlOp.SET_TARGET_INCLINATION
    ]


async def connected(sub: Subscriber) -> None:
    await sub.wait_for(
        lambda _: any(s["connected"] for s in sub.json_on("tw/treadmill/state")),
        "the treadmill connected",
    )
    await sub.wait_on("tw/flags")


def test_the_table_fits_in_one_burst_of_reports() -> None:
    # Otherwise some of the table would be summed up rather than reported one by one.
    assert len(BAD_COMMANDS) <= ERROR_REPORT_BURST


async def test_every_kind_of_bad_command_is_reported_and_changes_nothing(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = settings_for(mosquitto, tmp_path, back_pain="none")
    async with (
        subscriber(mosquitto, "tw/#") as sub,
        virtual_devices(profile=None) as (world, treadmill),
        running(settings, world),
    ):
        await connected(sub)
        flags_before = sub.on("tw/flags")[-1].payload
        async with commander(mosquitto) as client:
            for topic, payload, _ in BAD_COMMANDS:
                await client.publish(topic, payload, qos=1)
        reports = await sub.wait_on("tw/error", len(BAD_COMMANDS))
        await asyncio.sleep(0.5)  # room for a wrong state change to show up
        assert sub.on("tw/flags")[-1].payload == flags_before
        assert incline_requests(treadmill) == []
    assert len(reports) == len(BAD_COMMANDS)
    assert all(len(m.payload) < 1024 for m in reports)  # a report never echoes a huge payload
    # Sent in order with QoS 1 on one connection. A malformed command is refused as it is
    # read, so those are reported in the order sent; the two well-formed ones beyond the
    # runner's limit are refused by the rules a moment later, in their own order, and on a
    # busy machine the bridge may read (and refuse) the next malformed ones first.
    parsed = [json.loads(m.payload) for m in reports]
    for beyond in (False, True):
        sent = [c for c in BAD_COMMANDS if (c[2] == BEYOND_LIMITS) is beyond]
        got = [r for r in parsed if (BEYOND_LIMITS in r["error"]) is beyond]
        for (topic, _, fragment), report in zip(sent, got, strict=True):
            assert report["topic"] == topic
            assert fragment in report["error"], (fragment, report["error"])
            assert "suppressed" not in report
    assert all(m.qos == 1 and not m.retain for m in reports)
    with Store.in_dir(tmp_path, read_only=True) as store:
        assert store.checkins() == []
        stored = store.load_flags()
        assert stored is None or stored.back_pain == "none"


FLOOD_RATE_HZ = 1000
FLOOD_S = 10
TICK_S = 0.01


async def flood(client: aiomqtt.Client, *, seconds: float, junk: list[tuple[str, bytes]]) -> int:
    """Publish `FLOOD_RATE_HZ` bad commands a second for `seconds`; return how many were sent."""
    per_tick = round(FLOOD_RATE_HZ * TICK_S)
    ticks = round(seconds / TICK_S)
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    for tick in range(ticks):
        batch = [junk[(sent + i) % len(junk)] for i in range(per_tick)]
        await asyncio.gather(*(client.publish(t, p, qos=1) for t, p in batch))
        sent += len(batch)
        delay = start + (tick + 1) * TICK_S - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
    return sent


@pytest.mark.slow
async def test_a_flood_of_junk_is_summed_up_memory_stays_bounded_and_the_daemon_answers(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    junk = [(t, p) for t, p, _ in BAD_COMMANDS if len(p) <= 4096]
    settings = settings_for(mosquitto, tmp_path, back_pain="none")
    async with (
        subscriber(mosquitto, "tw/error", "tw/flags", "tw/treadmill/state") as sub,
        virtual_devices(profile=None) as (world, treadmill),
        running(settings, world),
        commander(mosquitto) as client,
    ):
        await connected(sub)
        flags_before = sub.on("tw/flags")[-1].payload
        # Warm up (imports, caches, paho's buffers) before taking the baseline.
        warm = await flood(client, seconds=0.5, junk=junk)
        await sub.wait_for(lambda _: accounted(sub) >= warm, "the warm-up accounted", 30)
        baseline = rss_bytes()
        started = time.monotonic()
        reports_before = len(sub.on("tw/error"))

        sent = await flood(client, seconds=FLOOD_S / 2, junk=junk)
        # Mid-flood, a good command still gets through and is applied once.
        await client.publish(CHECKIN, b'{"pain": 1, "kind": "none"}', qos=1)
        sent += await flood(client, seconds=FLOOD_S / 2, junk=junk)

        await sub.wait_for(lambda _: accounted(sub) >= warm + sent, "every command accounted", 60)
        elapsed = time.monotonic() - started
        growth = rss_bytes() - baseline

        # Responsive afterwards: a good incline reaches the treadmill, a flag is applied.
        await client.publish(INCLINE, b"2.0", qos=1)
        await sub.wait_for(lambda _: incline_requests(treadmill) == [2.0], "the incline sent")
        await client.publish(FLAGS, b'{"back_pain": "ache", "days": 1}', qos=1)
        await sub.wait_for(
            lambda _: any(f["back_pain"] == "ache" for f in sub.json_on("tw/flags")), "the flag"
        )
        flags_during = [m.payload for m in sub.on("tw/flags")][:-1]

    assert sent == FLOOD_RATE_HZ * FLOOD_S
    assert accounted(sub) == warm + sent  # every rejected command is in a report, once
    reports: list[dict[str, Any]] = sub.json_on("tw/error")[reports_before:]
    # The limit holds: a burst, then at most ERROR_REPORT_RATE_HZ reports a second.
    assert len(reports) <= ERROR_REPORT_BURST + math.ceil(ERROR_REPORT_RATE_HZ * elapsed) + 1
    summaries = [r for r in reports if r.get("suppressed")]
    assert summaries
    assert all("not reported one by one" in r["error"] for r in summaries)
    # Nothing changed but what the good commands asked for.
    assert set(flags_during) == {flags_before}
    assert incline_requests(treadmill) == [2.0]
    with Store.in_dir(tmp_path, read_only=True) as store:
        assert [(c.pain, c.kind) for c in store.checkins()] == [(1, "none")]
    print(f"flood: {sent} commands, {len(reports)} reports, RSS +{growth / 1e6:.1f} MB")  # noqa: T201
    assert growth < 20 * MEGABYTE, f"RSS grew by {growth / 1e6:.1f} MB during the flood"


QOS0_FLOOD = 60_000
QOS0_FLOODERS = 2
QOS0_TOTAL = QOS0_FLOOD * QOS0_FLOODERS


# A separate process, so the flood does not share this process's GIL with the daemon.
_FLOODER = """
import sys

import paho.mqtt.client as mqtt

host, port, topic, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
client.connect(host, port)
client.loop_start()
for n in range(count):
    info = client.publish(topic, b"junk %d" % n, qos=0)
info.wait_for_publish(timeout=120)
client.disconnect()
client.loop_stop()
"""


async def qos0_flood(broker: Mosquitto, count: int) -> asyncio.subprocess.Process:
    """Start publishing `count` junk commands with QoS 0 from a paho client in its own process."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", _FLOODER, broker.host, str(broker.port), CHECKIN, str(count)
    )


@pytest.mark.slow
async def test_a_qos_0_flood_is_drained_with_bounded_memory_and_own_traffic_keeps_flowing(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = bridge_settings(mosquitto)
    async with (
        subscriber(mosquitto, "tw/error", "tw/treadmill/state", "tw/prompt") as sub,
        running_bridge(settings, tmp_path) as harness,
    ):
        bridge = harness.bridge
        flooders = [await qos0_flood(mosquitto, QOS0_FLOOD) for _ in range(QOS0_FLOODERS)]
        # The daemon's own messages, sent while the flood is on: a prompt waits for its QoS 2
        # handshake behind the flood; the connection must survive that, and state must flow.
        bridge.publish_prompt("in-flood", b'{"id": "in-flood"}')
        bridge.publish_state("treadmill", b'{"in": "flood"}')
        for flooder in flooders:
            assert await asyncio.wait_for(flooder.wait(), 120) == 0
        bridge.publish_state("treadmill", b'{"after": "flood"}')
        await sub.wait_for(
            lambda _: sub.json_on("tw/treadmill/state")[-1:] == [{"after": "flood"}],
            "the state after the flood",
            60,
        )
        await sub.wait_on("tw/prompt", timeout=60)
        await sub.wait_for(lambda _: bridge.incoming.received == QOS0_TOTAL, "the whole flood", 120)
        # Every junk command that reached the bridge is in a report, dropped ones included.
        await sub.wait_for(lambda _: accounted(sub) >= bridge.incoming.received, "the reports", 60)
        assert bridge.connects == 1  # the flood did not cost the daemon its connection
        assert harness.commands == []
    assert accounted(sub) == bridge.incoming.received == QOS0_TOTAL
    assert {"in": "flood"} in sub.json_on("tw/treadmill/state")
    # Memory is bounded by construction: the queue never held more than its bound.
    assert bridge.incoming.peak_messages <= INCOMING_QUEUE_MAX
    if bridge.incoming.dropped:
        assert any(DROPPED in report["error"] for report in sub.json_on("tw/error"))

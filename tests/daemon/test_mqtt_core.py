"""The bridge's sending rules without a broker: `BridgeCore` driven by hand, time as a number."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from treadwell.daemon import topics
from treadwell.daemon.error_reports import DROPPED, ERROR_REPORT_BURST, ERROR_REPORT_RATE_HZ
from treadwell.daemon.messages import (
    CheckinCommand,
    Command,
    FlagsSetCommand,
    InclineSetCommand,
)
from treadwell.daemon.mqtt_core import (
    ONLINE,
    PROMPT_QOS,
    RETAINED_REFUSED,
    BridgeCore,
    Publish,
    Source,
)
from treadwell.daemon.mqtt_pacing import Reconnect
from treadwell.daemon.outbox import Outbox
from treadwell.drivers.errors import TreadwellError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

BASE = "tw"
WALL = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)
DISCOVERY = [("homeassistant/device/tw_treadmill/config", b'{"d": 1}')]


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite") as box:
        yield box


def make_core(
    outbox: Outbox,
    commands: list[Command] | None = None,
    *,
    on_command: Callable[[Command], None] | None = None,
    ha_calls: list[int] | None = None,
) -> BridgeCore:
    sink = commands if commands is not None else []
    calls = ha_calls if ha_calls is not None else []
    return BridgeCore(
        base=BASE,
        devices=("treadmill",),
        outbox=outbox,
        on_command=on_command or sink.append,
        max_state_rate_hz=2.0,
        discovery=lambda: list(DISCOVERY),
        on_ha_online=lambda: calls.append(1),
        ha_online_jitter_s=4.0,
        jitter=lambda: 0.5,
        wall_clock=lambda: WALL,
    )


def drain(core: BridgeCore, now: float) -> list[Publish]:
    """Publish everything due at `now`, as the shell would."""
    sent: list[Publish] = []
    while (item := core.next_publish(now)) is not None:
        sent.append(item)
        core.published(item, now)
        assert len(sent) < 10_000, "the core never ran dry"
    return sent


def test_a_connection_starts_with_online_then_discovery(outbox: Outbox) -> None:
    core = make_core(outbox)
    first = core.connection_made()
    assert [(p.topic, p.payload, p.retain) for p in first] == [
        ("tw/status", ONLINE, True),
        (DISCOVERY[0][0], DISCOVERY[0][1], True),
    ]
    assert drain(core, 0.0) == []


def test_state_is_latest_wins_sent_on_change_and_rate_limited(outbox: Outbox) -> None:
    core = make_core(outbox)
    for n in range(5):
        core.publish_state("treadmill", f"{n}".encode())
    [first] = drain(core, 100.0)
    assert (first.topic, first.payload, first.qos, first.retain) == (
        "tw/treadmill/state",
        b"4",
        0,
        True,
    )
    core.publish_state("treadmill", b"4")  # what the broker has: not sent again
    assert drain(core, 200.0) == []
    core.publish_state("treadmill", b"5")
    core.publish_state("treadmill", b"6")
    assert drain(core, 200.1) == [
        Publish("tw/treadmill/state", b"6", 0, True, Source.STATE, "treadmill")
    ]
    core.publish_state("treadmill", b"7")
    assert drain(core, 200.2) == []  # 2 a second at most
    assert core.wake_in(200.2) == pytest.approx(0.4)
    assert [p.payload for p in drain(core, 200.6)] == [b"7"]


def test_retained_state_is_latest_wins_and_sent_again_on_every_connect(outbox: Outbox) -> None:
    core = make_core(outbox)
    core.publish_retained("tw/flags", b"a")
    core.publish_retained("tw/flags", b"b")
    core.publish_retained("tw/run", b"r", qos=0)
    assert [(p.topic, p.payload, p.qos) for p in drain(core, 0.0)] == [
        ("tw/flags", b"b", 1),
        ("tw/run", b"r", 0),
    ]
    assert drain(core, 1.0) == []
    core.connection_made()
    assert [(p.topic, p.payload) for p in drain(core, 2.0)] == [
        ("tw/flags", b"b"),
        ("tw/run", b"r"),
    ]


def test_retained_state_changed_while_in_flight_is_sent_again(outbox: Outbox) -> None:
    core = make_core(outbox)
    core.publish_retained("tw/flags", b"old")
    in_flight = core.next_publish(0.0)
    assert in_flight is not None
    core.publish_retained("tw/flags", b"new")
    core.published(in_flight, 0.0)
    assert [p.payload for p in drain(core, 0.0)] == [b"new"]


def test_prompts_are_fed_from_the_outbox_in_order_each_once(outbox: Outbox) -> None:
    core = make_core(outbox)
    for n in range(3):
        core.publish_prompt(f"p{n}", f"{n}".encode())
    core.publish_prompt("p1", b"again")  # the same id: not queued twice
    sent = drain(core, 0.0)
    assert [(p.topic, p.payload, p.qos, p.retain) for p in sent] == [
        ("tw/prompt", f"{n}".encode(), PROMPT_QOS, False) for n in range(3)
    ]
    assert outbox.pending() == []


def test_a_prompt_not_acknowledged_before_a_reconnect_is_sent_again(outbox: Outbox) -> None:
    core = make_core(outbox)
    core.publish_prompt("p0", b"0")
    assert core.next_publish(0.0) is not None  # the connection drops before the ack
    core.connection_made()
    [again] = drain(core, 1.0)
    assert again.payload == b"0"
    assert outbox.pending() == []


def waiting(core: BridgeCore) -> bool:
    """Asked afresh each time (mypy would narrow a property read twice)."""
    return core.prompts_waiting


def test_a_prompt_waits_until_its_acknowledgement_not_until_it_is_picked(outbox: Outbox) -> None:
    core = make_core(outbox)
    assert waiting(core)  # the outbox may hold prompts from before: not looked at yet
    drain(core, 0.0)
    assert not waiting(core)
    core.publish_prompt("p0", b"0")
    assert waiting(core)
    picked = core.next_publish(0.0)
    assert picked is not None
    assert waiting(core)  # on the wire, not acknowledged yet
    core.published(picked, 0.0)
    assert not waiting(core)
    outbox.close()
    core.publish_prompt("p1", b"1")  # kept in memory: waiting all the same
    assert waiting(core)
    drain(core, 0.0)
    assert not waiting(core)


def test_prompts_the_outbox_cannot_store_are_still_sent_from_memory(outbox: Outbox) -> None:
    core = make_core(outbox)
    outbox.close()
    core.publish_prompt("p0", b"0")
    core.publish_prompt("p0", b"0")
    core.publish_prompt("p1", b"1")
    assert [(p.payload, p.source) for p in drain(core, 0.0)] == [
        (b"0", Source.UNSTORED),
        (b"1", Source.UNSTORED),
    ]


def test_rules_run_in_a_fixed_order(outbox: Outbox) -> None:
    commands: list[Command] = []
    core = make_core(outbox, commands)
    core.publish_state("treadmill", b"s")
    core.report_error("tw/checkin", "bad", 0.0)
    core.publish_prompt("p0", b"p")
    core.receive("tw/flags/set", b'{"back_pain": "none"}', retained=False, now=0.0)
    core.publish_retained("tw/flags", b"f")
    core.receive(core.ha_status_topic, ONLINE, retained=False, now=0.0)
    sources = [p.source for p in drain(core, 10.0)]
    assert sources == [
        Source.DISCOVERY,
        Source.RETAINED,
        Source.CLEAR,
        Source.PROMPT,
        Source.ERROR,
        Source.STATE,
    ]


def test_home_assistant_online_republishes_discovery_and_state_after_the_jitter(
    outbox: Outbox,
) -> None:
    ha_calls: list[int] = []
    core = make_core(outbox, ha_calls=ha_calls)
    core.publish_state("treadmill", b"s")
    core.publish_retained("tw/flags", b"f")
    drain(core, 0.0)
    core.receive(core.ha_status_topic, b"offline", retained=False, now=10.0)
    assert core.wake_in(10.0) is None
    core.receive(core.ha_status_topic, ONLINE, retained=True, now=10.0)
    assert core.wake_in(10.0) == pytest.approx(2.0)  # half of the 4 s jitter bound
    assert drain(core, 11.0) == []
    assert ha_calls == []
    sent = drain(core, 12.0)
    assert ha_calls == [1]
    assert [(p.topic, p.payload) for p in sent] == [
        *DISCOVERY,
        ("tw/flags", b"f"),
        ("tw/treadmill/state", b"s"),
    ]


@pytest.mark.parametrize(
    ("topic", "payload", "command"),
    [
        ("tw/flags/set", b'{"back_pain": "red"}', FlagsSetCommand(back_pain="red")),
        ("tw/checkin", b'{"pain": 3, "kind": "ache"}', CheckinCommand(pain=3, kind="ache")),
        (
            "tw/treadmill/incline/set",
            b"2.5",
            InclineSetCommand(device="treadmill", incline_pct=2.5),
        ),
    ],
)
def test_a_live_command_is_applied_then_any_retained_copy_is_cleared(
    outbox: Outbox, topic: str, payload: bytes, command: Command
) -> None:
    commands: list[Command] = []
    core = make_core(outbox, commands)
    core.receive(topic, payload, retained=False, now=0.0)
    assert commands == [command]
    [clear] = drain(core, 0.0)
    assert (clear.topic, clear.payload, clear.retain, clear.qos) == (topic, b"", True, 1)
    core.receive(topic, b"", retained=False, now=0.0)  # the clearing message comes back
    assert drain(core, 0.0) == []  # ... and is not reported as an empty command
    core.receive(topic, b"", retained=False, now=0.0)  # someone else's empty command is
    assert [json.loads(p.payload)["error"] for p in drain(core, 0.0)] == ["payload is empty"]


def test_a_retained_command_replayed_on_subscribe_is_refused_reported_and_cleared(
    outbox: Outbox,
) -> None:
    commands: list[Command] = []
    core = make_core(outbox, commands)
    core.receive("tw/flags/set", b'{"back_pain": "red"}', retained=True, now=0.0)
    assert commands == []
    sent = drain(core, 0.0)
    assert [(p.source, p.topic) for p in sent] == [
        (Source.CLEAR, "tw/flags/set"),
        (Source.ERROR, "tw/error"),
    ]
    assert sent[0].payload == b""
    assert sent[0].retain
    report = json.loads(sent[1].payload)
    assert report["topic"] == "tw/flags/set"
    assert report["error"] == RETAINED_REFUSED


def test_a_rejected_command_is_reported_and_not_cleared(outbox: Outbox) -> None:
    core = make_core(outbox)
    core.receive("tw/treadmill/incline/set", b"99", retained=False, now=0.0)
    [report] = drain(core, 0.0)
    assert report.source is Source.ERROR
    assert "incline_pct" in json.loads(report.payload)["error"]
    assert json.loads(report.payload)["received_at"] == "2026-12-01T07:30:00+00:00"


def test_a_command_the_daemon_refuses_is_reported(outbox: Outbox) -> None:
    def refuse(command: Command) -> None:
        raise TreadwellError(f"{command} is above this treadmill's maximum")

    core = make_core(outbox, on_command=refuse)
    core.receive("tw/treadmill/incline/set", b"9", retained=False, now=0.0)
    [report] = drain(core, 0.0)
    assert "above this treadmill's maximum" in json.loads(report.payload)["error"]


def reported(sent: list[Publish]) -> int:
    """How many rejected commands the reports stand for."""
    reports = [json.loads(p.payload) for p in sent if p.source is Source.ERROR]
    return sum(report.get("suppressed", 1) for report in reports)


@pytest.mark.parametrize("rejected", [1, ERROR_REPORT_BURST, ERROR_REPORT_BURST + 1, 5000])
def test_every_rejected_command_is_accounted_for_in_the_reports(
    outbox: Outbox, rejected: int
) -> None:
    core = make_core(outbox)
    for n in range(rejected):
        core.receive("tw/checkin", f"junk {n}".encode(), retained=False, now=0.0)
    sent = drain(core, 0.0)
    assert len(sent) <= ERROR_REPORT_BURST
    later = drain(core, 0.0 + 1.0 / ERROR_REPORT_RATE_HZ)
    assert reported(sent + later) == rejected
    assert core.suppressed == 0
    assert len(later) <= 1


def test_a_summary_waits_for_the_rate_limit(outbox: Outbox) -> None:
    core = make_core(outbox)
    for _ in range(ERROR_REPORT_BURST + 3):
        core.report_error("tw/checkin", "bad", 0.0)
    assert len(drain(core, 0.0)) == ERROR_REPORT_BURST
    assert core.suppressed == 3
    wait = core.wake_in(0.0)
    assert wait is not None
    assert wait == pytest.approx(1.0 / ERROR_REPORT_RATE_HZ)
    [summary] = drain(core, wait)
    report = json.loads(summary.payload)
    assert report["suppressed"] == 3
    assert report["error"].startswith("3 more rejected commands")


def test_commands_dropped_unread_are_counted_in_the_summary(outbox: Outbox) -> None:
    core = make_core(outbox)
    for _ in range(ERROR_REPORT_BURST):
        core.report_error("tw/checkin", "bad", 0.0)
    for _ in range(7):
        core.dropped("tw/flags/set")
    core.report_error("tw/checkin", "the last problem", 0.0)
    sent = drain(core, 0.0) + drain(core, 1.0)
    summary = json.loads(sent[-1].payload)
    assert summary["suppressed"] == 8
    assert summary["error"] == (
        f"8 more rejected commands not reported one by one, 7 of them {DROPPED};"
        " the last: the last problem"
    )
    assert summary["topic"] == "tw/checkin"
    assert reported(sent) == ERROR_REPORT_BURST + 8


def test_topic_names_round_trip_for_incline_commands() -> None:
    assert topics.incline_set_device(topics.incline_set("a/b", "tm"), "a/b") == "tm"
    assert topics.incline_set_device("a/b/x/y/incline/set", "a/b") is None
    assert topics.incline_set_device("a/b//incline/set", "a/b") is None
    assert topics.incline_set_device(topics.flags_set("a/b"), "a/b") is None
    assert topics.command_filters("t") == (
        "t/flags/set",
        "t/checkin",
        "t/+/incline/set",
        "t/+/runner/set",
        "t/runners/+/flags/set",
        "t/runners/+/checkin",
    )


# -- reconnect pacing -------------------------------------------------------------------------


def run_sessions(reconnect: Reconnect, sessions: list[float | None]) -> list[float]:
    """Each entry: a session that lasted so many seconds, or None for a failed connect."""
    now = 0.0
    delays = []
    for length in sessions:
        if length is not None:
            reconnect.connected(now)
            now += length
        delay = reconnect.ended(now)
        delays.append(delay)
        now += delay
    return delays


@pytest.mark.parametrize(
    ("sessions", "delays", "suspected"),
    [
        ([None, None, None, None, None], [1, 2, 4, 8, 8], False),  # broker down: doubling
        ([None, None, 600.0, None], [1, 2, 1, 2], False),  # a good session resets the delay
        ([0.5, 0.5], [1, 1], False),  # short sessions, not yet suspicious
        ([0.5, 0.5, 0.5, 0.5, 0.5, 0.5], [1, 1, 2, 4, 8, 8], True),  # takeovers: back off
        ([0.5, 0.5, 0.5, None], [1, 1, 2, 4], False),  # a refused connect: not a takeover
        ([0.5, 0.5, 0.5, 600.0], [1, 1, 2, 1], False),  # a long session clears suspicion
    ],
)
def test_reconnect_delays_and_takeover_detection(
    sessions: list[float | None], delays: list[float], suspected: bool
) -> None:
    reconnect = Reconnect(1.0, 8.0, window_s=60.0)
    assert run_sessions(reconnect, sessions) == delays
    assert reconnect.takeover_suspected is suspected


def _settled(core: BridgeCore, now: float) -> BridgeCore:
    core.connection_made()
    drain(core, now)
    return core


@pytest.mark.parametrize(
    ("waiting", "only_state"),
    [
        ("nothing", True),
        ("a prompt", False),
        ("a retained message", False),
        ("an error report", False),
        ("a retained command (its clearing and its report)", False),
        ("Home Assistant came online", False),
    ],
)
def test_only_state_is_due_when_nothing_else_waits(
    outbox: Outbox, waiting: str, only_state: bool
) -> None:
    core = _settled(make_core(outbox), 0.0)
    core.publish_state("treadmill", b'{"speed": 1}')
    match waiting:
        case "a prompt":
            core.publish_prompt("p0", b"0")
        case "a retained message":
            core.publish_retained(f"{BASE}/runner/alice/flags", b"{}")
        case "an error report":
            core.report_error(f"{BASE}/treadmill/incline/set", "bad", 0.0)
        case "a retained command (its clearing and its report)":
            core.receive(f"{BASE}/treadmill/incline/set", b"2", retained=True, now=0.0)
        case "Home Assistant came online":
            core.receive(core.ha_status_topic, ONLINE, retained=False, now=0.0)
    due_at = 10.0  # past Home Assistant's jitter (2 s here)

    assert core.only_state_due(due_at) is only_state
    if only_state:  # then the next message is this state, and handing it out changes nothing else
        item = core.next_publish(due_at, qos0_only=True)
        assert item is not None
        assert (item.source, item.payload) == (Source.STATE, b'{"speed": 1}')
        assert core.next_publish(due_at) == item
        assert core.state_waiting
        core.published(item, due_at)
        assert not core.state_waiting

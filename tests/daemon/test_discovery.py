"""Home Assistant device discovery: the exact payload (snapshot) and the rules it must keep.

Regenerate the snapshot after a deliberate change with
`TREADWELL_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/daemon/test_discovery.py`, and review the
diff like code.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadwell.daemon.discovery import build_device_discovery, discovery_object_id
from treadwell.daemon.messages import parse_command

SNAPSHOT = Path(__file__).parent / "snapshots" / "discovery.json"
BASE = "treadwell"


def build(**changes: Any) -> tuple[str, dict[str, Any]]:
    arguments: dict[str, Any] = {
        "base": BASE,
        "discovery_prefix": "homeassistant",
        "daemon_id": "treadwell-gym",
        "device_slug": "treadmill",
        "device_name": "Treadmill",
        "sw_version": "0.1.0",
        "incline_min": 0.0,
        "incline_max": 15.0,
        "incline_step": 0.5,
        "runners": ("alice", "bob"),
    } | changes
    return build_device_discovery(**arguments)


def components() -> dict[str, dict[str, Any]]:
    components: dict[str, dict[str, Any]] = build()[1]["components"]
    return components


def test_discovery_payload_matches_the_snapshot() -> None:
    topic, payload = build()
    document = {"topic": topic, "payload": payload}
    if os.environ.get("TREADWELL_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    assert document == json.loads(SNAPSHOT.read_text())


def test_the_topic_is_device_based_under_the_discovery_prefix() -> None:
    topic, _ = build(discovery_prefix="ha", daemon_id="gym", device_slug="garage")
    assert topic == "ha/device/gym_garage/config"


@settings(max_examples=200)
@given(daemon_id=st.text(min_size=1, max_size=20), slug=st.text(min_size=1, max_size=20))
def test_object_ids_only_use_the_characters_home_assistant_allows(
    daemon_id: str, slug: str
) -> None:
    object_id = discovery_object_id(daemon_id, slug)
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in object_id)


def test_device_and_origin_are_present() -> None:
    _, payload = build()
    assert payload["device"]["identifiers"] == ["treadwell-gym_treadmill"]
    assert payload["device"]["sw_version"] == "0.1.0"
    assert payload["origin"]["name"] == "treadwell"
    assert payload["origin"]["sw_version"] == "0.1.0"


def test_every_unique_id_is_unique_and_every_entity_id_is_set() -> None:
    entities = components().values()
    unique_ids = [c["unique_id"] for c in entities]
    assert len(unique_ids) == len(set(unique_ids))
    for component in entities:
        platform, _, object_id = component["default_entity_id"].partition(".")
        assert platform == component["platform"]
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", object_id)
        assert object_id == component["unique_id"].replace("-", "_")
        assert "object_id" not in component  # deprecated by Home Assistant


def test_every_command_entity_uses_qos_1() -> None:
    commanders = [c for c in components().values() if "command_topic" in c]
    assert {c["platform"] for c in commanders} == {"select", "number"}
    assert all(c["qos"] == 1 for c in commanders)


def test_treadmill_entities_need_both_the_daemon_and_the_treadmill_link() -> None:
    both = [{"topic": f"{BASE}/status"}, {"topic": f"{BASE}/treadmill/availability"}]
    daemon_only = [{"topic": f"{BASE}/status"}]
    for key, component in components().items():
        assert component["availability_mode"] == "all"
        expected = daemon_only if key in {"connected", "runner"} else both
        assert component["availability"] == expected, key


def test_the_expected_entities_are_there() -> None:
    platforms = {key: c["platform"] for key, c in components().items()}
    assert platforms == {
        "speed": "sensor",
        "incline": "sensor",
        "heart_rate": "sensor",
        "distance": "sensor",
        "elapsed_time": "sensor",
        "cadence": "sensor",
        "stride_length": "sensor",
        "suggested_incline": "sensor",
        "running": "binary_sensor",
        "connected": "binary_sensor",
        "runner": "select",
        "target_incline": "number",
    }


def test_the_target_incline_number_uses_the_given_limits() -> None:
    number = build(incline_min=-3.0, incline_max=12.0, incline_step=0.1)[1]["components"][
        "target_incline"
    ]
    assert (number["min"], number["max"], number["step"]) == (-3.0, 12.0, 0.1)


@pytest.mark.parametrize("step", [0.0, -0.5])
def test_an_incline_step_that_is_not_positive_is_refused(step: float) -> None:
    with pytest.raises(ValueError, match="bad incline range"):
        build(incline_step=step)


@pytest.mark.parametrize(("low", "high"), [(0.0, 0.0), (5.0, 5.0), (10.0, 0.0)])
def test_a_ceiling_that_allows_no_incline_offers_no_target_incline_control(
    low: float, high: float
) -> None:
    # max_incline_pct = 0 means "never incline": the device is still announced, without
    # a number a dashboard could use to set one.
    topic, payload = build(incline_min=low, incline_max=high)
    assert topic == "homeassistant/device/treadwell-gym_treadmill/config"
    assert "target_incline" not in payload["components"]
    assert {"speed", "incline", "runner"} <= set(payload["components"])


@pytest.mark.parametrize(
    ("first", "second"),
    [("gym.a", "gym_a"), ("gym a", "gym_a"), ("gym/a", "gym.a"), ("Gym", "gym")],
)
def test_client_ids_that_clean_to_the_same_text_get_distinct_discovery_ids(
    first: str, second: str
) -> None:
    topic_a, payload_a = build(daemon_id=first)
    topic_b, payload_b = build(daemon_id=second)
    assert topic_a != topic_b
    assert payload_a["device"]["identifiers"] != payload_b["device"]["identifiers"]
    ids_a = {c["unique_id"] for c in payload_a["components"].values()}
    ids_b = {c["unique_id"] for c in payload_b["components"].values()}
    assert not ids_a & ids_b


def test_a_clean_client_id_keeps_its_discovery_id() -> None:
    # Ids made of [a-zA-Z0-9_-] are used as they are, so existing devices do not move.
    assert discovery_object_id("treadwell-gym_1", "treadmill") == "treadwell-gym_1_treadmill"


@pytest.mark.parametrize("option", ["auto", "alice", "bob"])
def test_the_runner_select_produces_a_valid_runner_command(option: str) -> None:
    select = components()["runner"]
    assert option in select["options"]
    command = parse_command(
        select["command_topic"],
        option.encode(),
        base=BASE,
        devices=["treadmill"],
        runners=["alice", "bob"],
    )
    expected = None if option == "auto" else option
    assert command.model_dump() == {"device": "treadmill", "runner": expected}


def test_the_target_incline_command_topic_is_one_the_bridge_accepts() -> None:
    number = components()["target_incline"]
    command = parse_command(number["command_topic"], b"2.5", base=BASE, devices=["treadmill"])
    assert command.model_dump() == {"device": "treadmill", "incline_pct": 2.5}

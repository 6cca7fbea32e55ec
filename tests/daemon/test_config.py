"""Configuration: file resolution, sources and their order, and errors named by key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadwell.daemon import paths
from treadwell.daemon.config import (
    EX_CONFIG,
    BleSettings,
    ConfigError,
    ExportSettings,
    FlagsSettings,
    FootpodSettings,
    MqttSettings,
    RulesSettings,
    RunnerSettings,
    Settings,
    StorageSettings,
    StrapSettings,
    TreadmillSettings,
    load_settings,
    slugify,
)
from treadwell.daemon.config_example import EXAMPLE_CONFIG
from treadwell.rules.model import RulesConfig

if TYPE_CHECKING:
    from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
ENV_VARS = (
    "TREADWELL_CONFIG",
    "CONFIGURATION_DIRECTORY",
    "CREDENTIALS_DIRECTORY",
    "STATE_DIRECTORY",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
)


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config or credentials from the machine running the tests."""
    import os

    for name in [*ENV_VARS, *(k for k in os.environ if k.startswith("TREADWELL_"))]:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems(config: Path | None = None, **overrides: object) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as exc:
        load_settings(config, overrides or None)
    return exc.value.problems


def keys(config: Path | None = None, **overrides: object) -> list[str]:
    return [key for key, _ in problems(config, **overrides)]


# -- where the file comes from --------------------------------------------------------------


def test_without_any_file_the_defaults_apply(clean_env: Path) -> None:
    settings = load_settings()
    assert settings.mqtt.host == "127.0.0.1"
    assert settings.mqtt.port == 1883
    assert settings.mqtt.base_topic == "treadwell"
    assert settings.mqtt.client_id.startswith("treadwell-")
    assert [t.name for t in settings.treadmills] == ["treadmill"]
    assert settings.treadmills[0].first_found
    assert not settings.treadmills[0].automation_allowed
    assert settings.treadmills[0].max_incline_pct == 3.0
    assert settings.ble.backend == "bleak"
    assert settings.state_dir == clean_env / ".local" / "state" / "treadwell"


def test_an_explicit_config_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.toml") == [
        ("(file)", f"{tmp_path / 'nope.toml'}: no such file")
    ]


def test_resolution_order(tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system_like = write(clean_env / ".config" / "treadwell" / "config.toml", "")
    assert paths.resolve_config_path() == (system_like, False)
    xdg = write(tmp_path / "xdg" / "treadwell" / "config.toml", "")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert paths.resolve_config_path() == (xdg, False)
    confdir = write(tmp_path / "etc" / "config.toml", "")
    monkeypatch.setenv("CONFIGURATION_DIRECTORY", f"{tmp_path / 'etc'}:/other")
    assert paths.resolve_config_path() == (confdir, False)
    named = tmp_path / "named.toml"
    monkeypatch.setenv("TREADWELL_CONFIG", str(named))
    assert paths.resolve_config_path() == (named, True)
    cli = tmp_path / "cli.toml"
    assert paths.resolve_config_path(cli) == (cli, True)


def test_candidates_skip_unset_variables(clean_env: Path) -> None:
    assert paths.config_candidates({"HOME": str(clean_env)}) == [
        clean_env / ".config" / "treadwell" / "config.toml",
        paths.SYSTEM_CONFIG,
    ]


def test_config_directory_file_is_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "etc" / "config.toml", '[mqtt]\nhost = "broker.lan"\n')
    monkeypatch.setenv("CONFIGURATION_DIRECTORY", str(tmp_path / "etc"))
    assert load_settings().mqtt.host == "broker.lan"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"STATE_DIRECTORY": "/var/lib/treadwell"}, Path("/var/lib/treadwell")),
        ({"STATE_DIRECTORY": "/a:/b"}, Path("/a")),
        ({"XDG_STATE_HOME": "/x/state", "HOME": "/h"}, Path("/x/state/treadwell")),
        ({"HOME": "/h"}, Path("/h/.local/state/treadwell")),
    ],
)
def test_state_dir(env: dict[str, str], expected: Path) -> None:
    assert paths.state_dir(env) == expected


def test_credentials_dir() -> None:
    assert paths.credentials_dir({}) is None
    assert paths.credentials_dir({"CREDENTIALS_DIRECTORY": "/run/c"}) == Path("/run/c")


def test_state_dir_follows_systemd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    assert load_settings().state_dir == tmp_path / "state"


# -- sources and their order ------------------------------------------------------------------


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(
        tmp_path / "c.toml",
        '[mqtt]\nhost = "file-host"\nport = 1884\nbase_topic = "gym"\n',
    )
    monkeypatch.setenv("TREADWELL_MQTT__HOST", "env-host")
    monkeypatch.setenv("TREADWELL_LOG_LEVEL", "debug")
    monkeypatch.setenv(
        "TREADWELL_TREADMILLS", '[{"name": "Garage", "address": "aa:bb:cc:dd:ee:ff"}]'
    )
    settings = load_settings(config)
    assert settings.mqtt.host == "env-host"
    assert settings.mqtt.port == 1884
    assert settings.mqtt.base_topic == "gym"
    assert settings.log_level == "DEBUG"
    assert settings.treadmills[0].address == "AA:BB:CC:DD:EE:FF"
    assert settings.treadmills[0].slug == "garage"


def test_keyword_overrides_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADWELL_MQTT__PORT", "1999")
    assert load_settings(None, {"mqtt": {"port": 2000}}).mqtt.port == 2000


def test_a_bad_environment_value_is_named_by_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADWELL_MQTT__PORT", "eighty")
    monkeypatch.setenv("TREADWELL_MQTT__HOTS", "typo")
    assert sorted(keys()) == ["mqtt.hots", "mqtt.port"]


def test_password_from_the_systemd_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "creds" / "treadwell_mqtt_password", "s3cret-pw\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    config = write(tmp_path / "c.toml", '[mqtt]\nusername = "tw"\npassword = "from-file"\n')
    settings = load_settings(config)
    assert settings.mqtt.password is not None
    assert settings.mqtt.password.get_secret_value() == "s3cret-pw"
    assert settings.mqtt.username == "tw"
    assert "s3cret-pw" not in repr(settings)
    monkeypatch.setenv("TREADWELL_MQTT__PASSWORD", "from-env")
    password = load_settings(config).mqtt.password
    assert password is not None
    assert password.get_secret_value() == "from-env"


def test_an_empty_credentials_directory_means_no_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "creds").mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    assert load_settings().mqtt.password is None


def test_an_unreadable_credential_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "creds" / "treadwell_mqtt_password").mkdir(parents=True)  # a directory
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    assert keys() == ["mqtt.password"]


def test_password_file(tmp_path: Path) -> None:
    secret = write(tmp_path / "pw", "from-a-file\r\n")
    config = write(tmp_path / "c.toml", f'[mqtt]\npassword_file = "{secret}"\n')
    password = load_settings(config).mqtt.password
    assert password is not None
    assert password.get_secret_value() == "from-a-file"


# -- every kind of problem, each named ------------------------------------------------------


def test_toml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", '[mqtt]\nhost = "x"\nport = = 3\n')
    [(key, message)] = problems(config)
    assert key == "(syntax)"
    assert "line 3" in message
    assert "column" in message


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(b'log_level = "\xff"\n')
    assert keys(config) == ["(file)"]


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "dir.toml").mkdir()
    assert keys(tmp_path / "dir.toml") == ["(file)"]


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.toml",
        """
        bogus = 1
        log_level = "loud"
        [mqtt]
        port = "abc"
        hots = "typo"
        base_topic = "a/#"
        [ble]
        backend = "bluez"
        speedup = 0
        [[treadmills]]
        name = "t"
        address = "not-an-address"
        max_incline_pct = -1
        [rules]
        incline_window_min_pct = "x"
        [flags]
        back_pain = "sore"
        """,
    )
    assert sorted(keys(config)) == sorted(
        [
            "bogus",
            "log_level",
            "mqtt.port",
            "mqtt.hots",
            "mqtt.base_topic",
            "ble.backend",
            "ble.speedup",
            "treadmills.0.address",
            "treadmills.0.max_incline_pct",
            "rules.incline_window_min_pct",
            "flags.back_pain",
        ]
    )


def test_unknown_keys_are_rejected_at_every_level(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.toml",
        "[mqtt]\nx = 1\n[ble]\nx = 1\n[rules]\nx = 1\n[flags]\nx = 1\n"
        "[[treadmills]]\nx = 1\n[[straps]]\nx = 1\n[[footpods]]\nx = 1\n",
    )
    found = problems(config)
    assert sorted(key for key, _ in found) == [
        "ble.x",
        "flags.x",
        "footpods.0.x",
        "mqtt.x",
        "rules.x",
        "straps.0.x",
        "treadmills.0.x",
    ]
    assert {message for _, message in found} == {"unknown key"}


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        ({"mqtt": {"base_topic": "/gym"}}, "mqtt.base_topic", "start or end"),
        ({"mqtt": {"base_topic": "gym/"}}, "mqtt.base_topic", "start or end"),
        ({"mqtt": {"base_topic": "a//b"}}, "mqtt.base_topic", "empty level"),
        ({"mqtt": {"discovery_prefix": "ha/+"}}, "mqtt.discovery_prefix", "wildcards"),
        ({"mqtt": {"port": 0}}, "mqtt.port", "greater than or equal to 1"),
        ({"mqtt": {"ca_file": "/no/such/ca.pem"}}, "mqtt.ca_file", "does not exist"),
        ({"mqtt": {"password_file": "/no/such/pw"}}, "mqtt.password_file", "No such file"),
        (
            {"mqtt": {"password": "x", "password_file": "/etc/hostname"}},
            "mqtt.password_file",
            "not both",
        ),
        ({"mqtt": {"host": "broker.lan", "password": "pw"}}, "mqtt.password", "unencrypted"),
        ({"treadmills": []}, "treadmills", "at least 1"),
        ({"treadmills": [{"name": "!!"}]}, "treadmills.0.name", "letter or digit"),
        (
            {"treadmills": [{"name": "Run A"}], "straps": [{"name": "run-a"}]},
            "straps.0.name",
            "same identifier",
        ),
        ({"rules": {"incline_target_pct": 5.0}}, "rules", "incline window"),
        (
            {"rules": {"escalate_painful_runs": 6, "escalate_window_runs": 5}},
            "rules",
            "escalate",
        ),
        ({"flags": {"days": 0}}, "flags.days", "greater than or equal to 1"),
    ],
)
def test_bad_values_are_named(overrides: dict[str, object], key: str, fragment: str) -> None:
    found = problems(None, **overrides)
    assert [k for k, _ in found] == [key], found
    assert fragment in found[0][1]


def test_the_password_never_appears_in_a_problem() -> None:
    text = ConfigError(problems(None, mqtt={"password": 12345678})).format()
    assert "12345678" not in text


def test_insecure_credentials_can_be_allowed_or_kept_local() -> None:
    allowed = load_settings(
        None, {"mqtt": {"host": "b.lan", "password": "pw", "allow_insecure_credentials": True}}
    )
    assert allowed.mqtt.password is not None
    assert load_settings(None, {"mqtt": {"host": "localhost", "password": "pw"}}).mqtt.password
    assert load_settings(None, {"mqtt": {"host": "b.lan", "password": "pw", "tls": True}}).mqtt.tls


def test_format_names_the_file_and_counts(tmp_path: Path) -> None:
    error = ConfigError([("mqtt.port", "bad"), ("x", "unknown key")], tmp_path / "c.toml")
    assert error.format() == (
        f"invalid configuration in {tmp_path / 'c.toml'}: 2 problems\n"
        "  mqtt.port: bad\n  x: unknown key"
    )
    assert ConfigError([("a", "b")]).format().startswith("invalid configuration: 1 problem\n")


# -- devices, rules ----------------------------------------------------------------------------


def test_several_treadmills_and_how_each_is_found() -> None:
    settings = load_settings(
        None,
        {
            "treadmills": [
                {"name": "Garage", "address": "C8:4F:12:34:56:78", "automation_allowed": True},
                {"name": "Office", "match_name": "FS-A1"},
                {"name": "Spare"},
            ],
            "straps": [{"name": "Polar"}],
        },
    )
    assert [t.slug for t in settings.treadmills] == ["garage", "office", "spare"]
    assert [t.first_found for t in settings.treadmills] == [False, False, True]
    assert settings.straps[0].slug == "polar"


def test_rules_map_onto_the_engine_config_with_the_treadmill_limits() -> None:
    settings = load_settings(
        None,
        {
            "rules": {"checkin_after_s": 60.0, "hr_drift_bpm": 0},
            "treadmills": [{"name": "t", "max_incline_pct": 2.0, "automation_allowed": True}],
        },
    )
    config = settings.rules.to_rules_config(settings.treadmills[0])
    assert isinstance(config, RulesConfig)
    assert config.checkin_after_s == 60.0
    assert config.hr_drift_bpm is None
    assert config.max_incline_pct == 2.0
    assert config.automation_allowed is True
    default = settings.rules.to_rules_config()
    assert default.automation_allowed is False
    assert default.max_incline_pct == 3.0


def test_rules_settings_cover_every_engine_threshold() -> None:
    from dataclasses import fields

    engine = {f.name for f in fields(RulesConfig)}
    ours = set(RulesSettings.model_fields)
    assert engine - ours == {"max_incline_pct", "automation_allowed"}
    assert ours - engine == {"prompt_grace_s"}


@given(st.text(max_size=40))
def test_slugs_are_identifier_safe(name: str) -> None:
    slug = slugify(name)
    assert slug == slug.strip("_")
    assert all(c.isascii() and (c.isalnum() or c == "_") and not c.isupper() for c in slug)
    assert slugify(slug) == slug


# -- the example and the command -------------------------------------------------------------


def test_the_example_config_is_valid_and_documents_every_key() -> None:
    example = ROOT / "docs" / "config.example.toml"
    assert example.read_text() == EXAMPLE_CONFIG
    settings = load_settings(example)
    assert settings == load_settings(None, {"mqtt": {"client_id": settings.mqtt.client_id}})
    models: list[type[BaseModel]] = [
        Settings,
        MqttSettings,
        BleSettings,
        TreadmillSettings,
        StrapSettings,
        FootpodSettings,
        RunnerSettings,
        RulesSettings,
        FlagsSettings,
        StorageSettings,
        ExportSettings,
    ]
    sections = {"mqtt", "ble", "treadmills", "straps", "footpods", "runners", "rules", "flags"}
    sections |= {"storage", "export"}
    for model in models:
        for name in model.model_fields:
            if name not in sections:
                assert f"{name} = " in EXAMPLE_CONFIG, f"{model.__name__}.{name}"


def _treadwell(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "treadwell.daemon", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )


def test_config_check_exits_78_listing_every_problem(tmp_path: Path, clean_env: Path) -> None:
    config = write(tmp_path / "c.toml", '[mqtt]\nport = "abc"\nhots = 1\n[ble]\nspeedup = -1\n')
    result = _treadwell("config", "check", "--config", str(config), env={"HOME": str(clean_env)})
    assert result.returncode == EX_CONFIG
    assert result.stdout == ""
    assert "mqtt.port:" in result.stderr
    assert "mqtt.hots: unknown key" in result.stderr
    assert "ble.speedup:" in result.stderr
    assert "3 problems" in result.stderr


def test_config_check_of_a_good_file_prints_a_summary(tmp_path: Path, clean_env: Path) -> None:
    config = write(
        tmp_path / "c.toml",
        '[mqtt]\nhost = "broker.lan"\n[[treadmills]]\nname = "Garage"\nmatch_name = "FS-1"\n'
        '[[straps]]\nname = "Polar"\naddress = "AA:BB:CC:DD:EE:FF"\n',
    )
    result = _treadwell("config", "check", "--config", str(config), env={"HOME": str(clean_env)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"config OK ({config})")
    assert "broker.lan:1883" in result.stdout
    assert "treadmill: Garage (name 'FS-1')" in result.stdout
    assert "strap: Polar (AA:BB:CC:DD:EE:FF)" in result.stdout


def test_config_check_reads_the_environment(clean_env: Path) -> None:
    env = {"HOME": str(clean_env), "TREADWELL_MQTT__KEEPALIVE": "1"}
    result = _treadwell("config", "check", env=env)
    assert result.returncode == EX_CONFIG
    assert "mqtt.keepalive" in result.stderr


def test_config_example_prints_the_example(clean_env: Path) -> None:
    result = _treadwell("config", "example", env={"HOME": str(clean_env)})
    assert result.returncode == 0
    assert result.stdout == EXAMPLE_CONFIG


# -- what passes the check must run and mean what it says ------------------------------------


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[[treadmills]]\nautomation_allowed = "yes"\n', "treadmills.0.automation_allowed"),
        ('[mqtt]\nport = "1883"\n', "mqtt.port"),
        ("[mqtt]\ntls = 1\n", "mqtt.tls"),
        ("[mqtt]\ndiscovery = 0\n", "mqtt.discovery"),
        ('[rules]\nhr_drift_bpm = "10"\n', "rules.hr_drift_bpm"),
        ('[ble]\nspeedup = "2"\n', "ble.speedup"),
    ],
)
def test_a_file_value_of_the_wrong_toml_type_is_refused_not_converted(
    tmp_path: Path, toml: str, key: str
) -> None:
    found = problems(write(tmp_path / "c.toml", toml))
    assert [k for k, _ in found] == [key], found
    assert "must be" in found[0][1]
    assert ", not " in found[0][1]


def test_numbers_where_decimals_are_expected_and_paths_as_strings_are_fine(
    tmp_path: Path,
) -> None:
    config = write(
        tmp_path / "c.toml",
        f'state_dir = "{tmp_path}"\n[ble]\nspeedup = 2\n[[treadmills]]\nmax_incline_pct = 4\n',
    )
    settings = load_settings(config)
    assert settings.ble.speedup == 2.0
    assert settings.treadmills[0].max_incline_pct == 4.0
    assert settings.state_dir == tmp_path


def test_environment_values_are_text_and_still_converted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TREADWELL_MQTT__PORT", "1884")
    monkeypatch.setenv("TREADWELL_MQTT__TLS", "false")
    settings = load_settings(write(tmp_path / "c.toml", "[mqtt]\nport = 1883\n"))
    assert (settings.mqtt.port, settings.mqtt.tls) == (1884, False)


def test_stop_timeout_zero_is_refused_as_no_run_could_start() -> None:
    assert keys(rules={"stop_timeout_s": 0}) == ["rules.stop_timeout_s"]


@pytest.mark.parametrize(
    "base", ["$SYS/treadwell", "gym$", "gym\x07", "tread\nwell", "gym/+", "gym/#", "a\x00b"]
)
def test_a_base_topic_with_dollar_control_characters_or_wildcards_is_refused(base: str) -> None:
    assert keys(mqtt={"base_topic": base}) == ["mqtt.base_topic"]


@pytest.mark.parametrize(
    ("base", "prefix"),
    [
        ("homeassistant", "homeassistant"),
        ("homeassistant/treadwell", "homeassistant"),
        ("ha", "ha/discovery"),
    ],
)
def test_a_base_topic_overlapping_the_discovery_prefix_is_refused(base: str, prefix: str) -> None:
    found = problems(mqtt={"base_topic": base, "discovery_prefix": prefix})
    assert [k for k, _ in found] == ["mqtt.base_topic"]
    assert "discovery prefix" in found[0][1]


def test_a_huge_name_is_refused_with_a_short_clear_message(tmp_path: Path) -> None:
    name = "x" * 70_000
    config = write(tmp_path / "c.toml", f'[[treadmills]]\nname = "{name}"\n')
    found = problems(config)
    assert [k for k, _ in found] == ["treadmills.0.name"]
    assert "at most 100 characters" in found[0][1]
    assert "70000 characters" in found[0][1]
    assert len(ConfigError(found).format()) < 300


def test_a_purely_cyrillic_name_is_accepted_with_a_transliterated_slug() -> None:
    settings = load_settings(None, {"treadmills": [{"name": "Беговая дорожка"}]})
    assert settings.treadmills[0].slug == "begovaya_dorozhka"
    assert slugify("Living room treadmill") == "living_room_treadmill"
    assert slugify("Café 2") == "caf_2"  # names that had a slug keep it: topics do not move


def test_a_ceiling_of_zero_means_never_incline_and_the_summary_says_so(
    tmp_path: Path, clean_env: Path
) -> None:
    config = write(
        tmp_path / "c.toml",
        "[[treadmills]]\nname = 'Garage'\nautomation_allowed = true\nmax_incline_pct = 0\n"
        "[[treadmills]]\nname = 'Loft'\nautomation_allowed = true\nmax_incline_pct = 2.5\n"
        "[[treadmills]]\nname = 'Spare'\n",
    )
    settings = load_settings(config)
    assert settings.rules.to_rules_config(settings.treadmills[0]).max_incline_pct == 0
    result = _treadwell("config", "check", "--config", str(config), env={"HOME": str(clean_env)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    garage = lines.index("  treadmill: Garage (first found)")
    assert "incline: never" in lines[garage + 1]
    loft = lines.index("  treadmill: Loft (first found)")
    assert "up to 2.5%, Treadwell may set it" in lines[loft + 1]
    spare = lines.index("  treadmill: Spare (first found)")
    assert "up to 3%, suggested only, never set" in lines[spare + 1]
    assert "automation_allowed = false" in lines[spare + 1]


def test_rule_settings_take_their_defaults_from_the_rules() -> None:
    # Nothing restated: the configuration's defaults are the rules' own.
    assert RulesSettings().to_rules_config(TreadmillSettings()) == RulesConfig(
        max_incline_pct=TreadmillSettings().max_incline_pct, automation_allowed=False
    )

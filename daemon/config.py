"""I/O. Treadwell's settings: pydantic models, their sources and a loader that names every problem.

Sources, strongest first: keyword arguments, `TREADWELL_` environment variables (`__` nests,
e.g. `TREADWELL_MQTT__HOST`), credential files (systemd `LoadCredential=`), the TOML file,
then the defaults. Every model forbids unknown keys, so a typo anywhere is an error rather
than a silently ignored setting.
"""

from __future__ import annotations

import contextvars
import importlib.util
import ipaddress
import json
import re
import socket
import tomllib
from collections.abc import Mapping  # noqa: TC003
from pathlib import Path  # noqa: TC003 (pydantic needs it at run time)
from typing import Any, Final, Literal

from anyascii import anyascii
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo  # noqa: TC002 (signature of an override)
from pydantic_core import ErrorDetails  # noqa: TC002
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from treadwell.daemon import paths
from treadwell.drivers.errors import TreadwellError
from treadwell.rules.model import RulesConfig, RulesInputError

EX_CONFIG = 78
"""Exit status for a bad configuration (sysexits.h); the unit's `RestartPreventExitStatus`."""

_TOPIC_FORBIDDEN = re.compile(r"[#+\x00]")
_TOPIC_CONTROL = re.compile(r"[\x01-\x1f\x7f-\x9f]")
MAX_NAME_LENGTH: Final = 100
"""Longest device name: it becomes a Home Assistant device name and part of topics."""
MAX_TOPIC_LENGTH: Final = 200
_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_NAMED_KEY = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): (.+)$", re.DOTALL)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _is_loopback(host: str) -> bool:
    try:
        return host in _LOOPBACK_HOSTS or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The parsed TOML file for the settings being built (see `load_settings`).
_FILE_DATA: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("_FILE_DATA")

BackPain = Literal["none", "ache", "check", "red"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class ConfigError(TreadwellError):
    """A configuration that cannot be used; `problems` lists every (dotted key, message)."""

    def __init__(self, problems: list[tuple[str, str]], source: Path | None = None) -> None:
        self.problems = problems
        self.source = source
        super().__init__(self.format())

    def format(self) -> str:
        """Every problem on its own line, each starting with its dotted key."""
        where = f" in {self.source}" if self.source is not None else ""
        count = len(self.problems)
        head = f"invalid configuration{where}: {count} problem{'s' if count != 1 else ''}"
        return "\n".join([head, *(f"  {key}: {message}" for key, message in self.problems)])


def _ascii_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def slugify(name: str) -> str:
    """A lower-case `[a-z0-9_]` identifier for a device name, as used in topics and entity ids.

    The ASCII letters and digits of the name make the slug. A name without any (Cyrillic,
    Greek, CJK, ...) is transliterated to ASCII first, so "Беговая дорожка" becomes
    "begovaya_dorozhka". Names that already gave a slug keep it unchanged, so topics and the
    stored history of existing devices do not move.

    Args:
        name: The human name, e.g. "Living room treadmill".

    Returns:
        The slug, e.g. "living_room_treadmill" (empty if the name has no letters or digits
        in any script).
    """
    return _ascii_slug(name) or _ascii_slug(anyascii(name))


def _default_client_id() -> str:
    return f"treadwell-{socket.gethostname() or 'host'}"


VIRTUAL_MISSING: Final = (
    "the virtual Bluetooth world needs Bumble, which is not installed: "
    "pip install 'treadwell[virtual]' (the demo: 'treadwell[demo]')"
)


def virtual_world_available() -> bool:
    """Whether the optional virtual Bluetooth world (Bumble, `treadwell[virtual]`) is there.

    Only looks for the package: importing it is slow and never needed on real hardware.
    """
    try:
        return importlib.util.find_spec("bumble") is not None
    except (ImportError, ValueError):  # ValueError: hidden in sys.modules
        return False


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(_Model):
    """The MQTT broker and how Treadwell uses it."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    tls: bool = False
    ca_file: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    tls_insecure: bool = False
    base_topic: str = Field(default="treadwell", min_length=1, max_length=MAX_TOPIC_LENGTH)
    client_id: str = Field(default_factory=_default_client_id, min_length=1, max_length=128)
    discovery_prefix: str = Field(
        default="homeassistant", min_length=1, max_length=MAX_TOPIC_LENGTH
    )
    discovery: bool = True
    keepalive: int = Field(default=30, ge=5, le=3600)
    allow_insecure_credentials: bool = False
    max_state_rate_hz: float = Field(default=2.0, gt=0.0, le=50.0)

    @field_validator("base_topic", "discovery_prefix")
    @classmethod
    def _plain_topic(cls, value: str) -> str:
        if _TOPIC_FORBIDDEN.search(value):
            raise ValueError("must not contain the MQTT wildcards '+' or '#' (or NUL)")
        if _TOPIC_CONTROL.search(value):
            raise ValueError("must not contain control characters")
        if "$" in value:
            raise ValueError("must not contain '$' (topics starting with it are the broker's)")
        if value.startswith("/") or value.endswith("/"):
            raise ValueError("must not start or end with '/'")
        if "//" in value:
            raise ValueError("must not contain an empty level ('//')")
        return value

    @field_validator("password_file")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        # Checked here as well as when read below, so that a missing file is reported along
        # with every other field problem (model validators run only on valid fields).
        if value is not None:
            try:
                value.open("rb").close()
            except OSError as exc:
                raise ValueError(f"cannot read {str(value)!r}: {exc.strerror or exc}") from exc
        return value

    @field_validator("ca_file", "certfile", "keyfile")
    @classmethod
    def _existing_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file {str(value)!r} does not exist")
        return value

    @model_validator(mode="after")
    def _resolve_password(self) -> MqttSettings:
        if self.password_file is not None:
            if self.password is not None:
                raise ValueError("password_file: give either password or password_file, not both")
            try:
                text = self.password_file.read_text(encoding="utf-8")
            except OSError as exc:
                msg = (
                    f"password_file: cannot read {str(self.password_file)!r}: {exc.strerror or exc}"
                )
                raise ValueError(msg) from exc
            object.__setattr__(self, "password", SecretStr(text.rstrip("\r\n")))
        if self.certfile is None and self.keyfile is not None:
            raise ValueError("keyfile: needs certfile too")
        base, prefix = self.base_topic, self.discovery_prefix
        if base == prefix or base.startswith(f"{prefix}/") or prefix.startswith(f"{base}/"):
            raise ValueError(
                f"base_topic: {base!r} overlaps the Home Assistant discovery prefix "
                f"{prefix!r}: the daemon's status and commands would mix with Home Assistant's "
                "own topics; choose a base topic outside it (e.g. 'treadwell')"
            )
        # The same rule as the MQTT bridge's, so `config check` refuses what `run` would.
        sent = "password" if self.password is not None else "username" if self.username else None
        if (
            sent is not None
            and not self.tls
            and not _is_loopback(self.host)
            and not self.allow_insecure_credentials
        ):
            raise ValueError(
                f"{sent}: would be sent unencrypted to a remote broker: set tls = true, "
                "or allow_insecure_credentials = true if the network is trusted"
            )
        return self


class BleSettings(_Model):
    """How Treadwell reaches Bluetooth devices."""

    backend: Literal["bleak", "virtual"] = "bleak"
    adapter: str | None = None
    scan_timeout_s: float = Field(default=10.0, gt=0.0, le=300.0)
    speedup: float = Field(default=1.0, gt=0.0, le=1000.0)
    virtual_profile: Literal["demo", "steady"] = "demo"

    @field_validator("backend")
    @classmethod
    def _installed(cls, value: str) -> str:
        if value == "virtual" and not virtual_world_available():
            raise ValueError(VIRTUAL_MISSING)
        return value


class _DeviceSettings(_Model):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    address: str | None = None
    match_name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)

    @field_validator("name")
    @classmethod
    def _sluggable(cls, value: str) -> str:
        if not slugify(value):
            raise ValueError("must contain at least one letter or digit")
        return value

    @field_validator("address")
    @classmethod
    def _mac(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _ADDRESS.match(value):
            raise ValueError(f"{value!r} is not a Bluetooth address like 'AA:BB:CC:DD:EE:FF'")
        return value.upper()

    @property
    def slug(self) -> str:
        """The device's identifier in topics and entity ids, derived from its name."""
        return slugify(self.name)

    @property
    def first_found(self) -> bool:
        """Whether neither address nor name pins the device, so the first one found is used."""
        return self.address is None and self.match_name is None


class TreadmillSettings(_DeviceSettings):
    """One FTMS treadmill.

    `automation_allowed` lets incline automation drive this deck at all (each runner also
    consents for themselves); `dashboard_control` lets a dashboard set its incline;
    `max_incline_pct` is the deck's ceiling whoever runs.
    """

    name: str = Field(default="treadmill", min_length=1, max_length=MAX_NAME_LENGTH)
    automation_allowed: bool = False
    dashboard_control: bool = True
    max_incline_pct: float = Field(default=3.0, ge=0.0, le=40.0)


class StrapSettings(_DeviceSettings):
    """One heart-rate strap (Heart Rate service)."""

    name: str = Field(default="strap", min_length=1, max_length=MAX_NAME_LENGTH)


class FootpodSettings(_DeviceSettings):
    """One running footpod (Running Speed and Cadence service)."""

    name: str = Field(default="footpod", min_length=1, max_length=MAX_NAME_LENGTH)


DEFAULT_RUNNER: Final = "default"
"""The runner a configuration without `[[runners]]` has: the treadmills' settings apply."""


class RunnerSettings(_Model):
    """One member of the household.

    Attributes:
        name: How the runner is called; its slug names their topics.
        max_incline_pct: Their ceiling: nothing above it is set while they run, on any deck.
        automation_allowed: Their consent to Treadwell setting the incline by itself (the
            treadmill must allow it too).
        strap: Their heart-rate strap, by Bluetooth address, by the name of a `[[straps]]`
            entry, or by its advertised name: when it is connected as a run starts, the run is
            theirs.
        max_hr_bpm: Their maximum heart rate, if known.
        default: Runs nobody else claims are this runner's (default: the first runner).
    """

    name: str = Field(min_length=1, max_length=64)
    max_incline_pct: float = Field(default=3.0, ge=0.0, le=40.0)
    automation_allowed: bool = False
    strap: str | None = Field(default=None, min_length=1, max_length=248)
    max_hr_bpm: int | None = Field(default=None, ge=100, le=240)
    default: bool = False

    @field_validator("name")
    @classmethod
    def _sluggable(cls, value: str) -> str:
        if not slugify(value):
            raise ValueError("must contain at least one letter or digit")
        return value

    @property
    def slug(self) -> str:
        """The runner's identifier in topics and ids."""
        return slugify(self.name)


class RulesSettings(_Model):
    """Thresholds of the back-care rules (`treadwell.rules.model.RulesConfig`).

    Durations are seconds, speeds km/h, inclines percent. The runner's incline ceiling and
    whether automation is allowed are per treadmill (see `TreadmillSettings`).
    """

    run_start_speed_kmh: float = Field(default=2.0, ge=0.0, le=30.0)
    run_start_s: float = Field(default=5.0, ge=1.0, le=600.0)
    # 0 would end every run at its first reading: no run could ever start.
    stop_timeout_s: float = Field(default=120.0, ge=1.0, le=24 * 3600)
    pause_tolerance_s: float = Field(default=600.0, ge=0.0, le=24 * 3600)
    incline_window_min_pct: float = Field(default=2.0, ge=0.0, le=40.0)
    incline_window_max_pct: float = Field(default=3.0, ge=0.0, le=40.0)
    incline_target_pct: float = Field(default=2.5, ge=0.0, le=40.0)
    incline_underway_s: float = Field(default=60.0, ge=0.0, le=24 * 3600)
    incline_interval_s: float = Field(default=300.0, ge=0.0, le=24 * 3600)
    incline_settle_s: float = Field(default=30.0, ge=0.0, le=3600)
    form_cue_distance_m: float = Field(default=3000.0, ge=0.0, le=200_000)
    hr_drift_bpm: int = Field(default=10, ge=0, le=100)
    hr_baseline_after_s: float = Field(default=600.0, ge=0.0, le=24 * 3600)
    steady_speed_tolerance_kmh: float = Field(default=0.5, ge=0.0, le=30.0)
    hydration_reminder_after_s: float = Field(default=3600.0, ge=0.0, le=7 * 24 * 3600)
    checkin_after_s: float = Field(default=7200.0, ge=0.0, le=7 * 24 * 3600)
    escalate_painful_runs: int = Field(default=3, ge=1, le=100)
    escalate_window_runs: int = Field(default=5, ge=1, le=100)
    hr_settle_s: float = Field(default=180.0, ge=0.0, le=3600)
    severe_pain: int = Field(default=7, ge=1, le=10)
    warmup_window_s: float = Field(default=1800.0, ge=0.0, le=24 * 3600)
    stride_min_speed_kmh: float = Field(default=7.0, ge=0.0, le=30.0)
    overstride_cadence_spm: float = Field(default=150.0, ge=0.0, le=300.0)
    overstride_step_m: float = Field(default=1.0, ge=0.0, le=5.0)
    overstride_after_s: float = Field(default=60.0, ge=0.0, le=24 * 3600)
    shoe_note_fraction: float = Field(default=0.5, gt=0.0, le=1.0)
    shoe_note_min_s: float = Field(default=300.0, ge=0.0, le=24 * 3600)
    prompt_grace_s: int = Field(default=1800, ge=1, le=7 * 24 * 3600)

    @model_validator(mode="after")
    def _consistent(self) -> RulesSettings:
        try:
            self.to_rules_config()
        except RulesInputError as exc:
            raise ValueError(str(exc).removeprefix("invalid rules config: ")) from exc
        return self

    def to_rules_config(self, treadmill: TreadmillSettings | None = None) -> RulesConfig:
        """The rules engine's thresholds, with one treadmill's limits.

        Args:
            treadmill: Supplies `max_incline_pct` and `automation_allowed` (defaults to a
                treadmill with default settings: 3 % ceiling, no automation).

        Returns:
            The engine's `RulesConfig`.
        """
        fields = self.model_dump(exclude={"prompt_grace_s"})
        # TOML has no null: 0 switches the heart-rate drift cue off.
        fields["hr_drift_bpm"] = self.hr_drift_bpm or None
        device = treadmill if treadmill is not None else TreadmillSettings()
        return RulesConfig(
            **fields,
            max_incline_pct=device.max_incline_pct,
            automation_allowed=device.automation_allowed,
        )


class FlagsSettings(_Model):
    """The back-pain flag the daemon starts with when it has none stored."""

    back_pain: BackPain = "none"
    days: int | None = Field(default=None, ge=1, le=365)


class StorageSettings(_Model):
    """How long the state database keeps what (days; 0 keeps for ever).

    Defaults: samples 365 days (about 50 MB for a year of daily one-hour runs), delivered
    prompts in the outbox 30 days (far longer than a prompt can be re-issued), run history
    for ever (a few hundred bytes a run).
    """

    samples_days: int = Field(default=365, ge=0, le=36500)
    outbox_days: int = Field(default=30, ge=1, le=36500)
    history_days: int = Field(default=0, ge=0, le=36500)
    commit_every_s: float = Field(default=2.0, gt=0.0, le=60.0)


ExportFormat = Literal["fit", "tcx", "csv"]


class ExportSettings(_Model):
    """Automatic export of every finished run (see docs/export.md)."""

    directory: Path | None = None
    formats: list[ExportFormat] = Field(default_factory=lambda: list[ExportFormat](["fit"]))
    command: list[str] = Field(default_factory=list)
    retry_s: float = Field(default=60.0, gt=0.0, le=86400.0)
    fit_manufacturer: int = Field(default=255, ge=0, le=65534)
    fit_product: int = Field(default=0, ge=0, le=65534)


class _FileSource(PydanticBaseSettingsSource):
    """The parsed TOML file (parsed by `load_settings`, so syntax errors get a key)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        del field
        return _FILE_DATA.get({}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_DATA.get({}))


class _CredentialsSource(PydanticBaseSettingsSource):
    """systemd credentials: `$CREDENTIALS_DIRECTORY/treadwell_mqtt_password` -> mqtt.password."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        del field
        return self().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        directory = paths.credentials_dir()
        if directory is None:
            return {}
        path = directory / paths.MQTT_PASSWORD_CREDENTIAL
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            msg = f"credential {str(path)!r} cannot be read: {exc.strerror or exc}"
            raise ConfigError([("mqtt.password", msg)]) from exc
        return {"mqtt": {"password": text.rstrip("\r\n")}}


class Settings(BaseSettings):
    """Everything Treadwell can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="TREADWELL_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    ble: BleSettings = Field(default_factory=BleSettings)
    treadmills: list[TreadmillSettings] = Field(
        default_factory=lambda: [TreadmillSettings()], min_length=1
    )
    straps: list[StrapSettings] = Field(default_factory=list)
    footpods: list[FootpodSettings] = Field(default_factory=list)
    runners: list[RunnerSettings] = Field(default_factory=list)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    flags: FlagsSettings = Field(default_factory=FlagsSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    state_dir: Path = Field(default_factory=paths.state_dir)
    log_level: LogLevel = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _unique_slugs(self) -> Settings:
        names: dict[str, list[object]] = {
            group: [device.name for device in getattr(self, group)] for group in _DEVICE_GROUPS
        }
        if duplicates := _duplicate_slugs(names):
            raise ValueError(duplicates[0])
        for index, treadmill in enumerate(self.treadmills):
            if treadmill.slug in RESERVED_SLUGS:
                raise ValueError(
                    f"treadmills.{index}.name: {treadmill.name!r} is reserved for the daemon's "
                    "own topics; choose another name"
                )
        runner_slugs = [runner.slug for runner in self.runners]
        for index, slug in enumerate(runner_slugs):
            if slug in runner_slugs[:index]:
                raise ValueError(
                    f"runners.{index}.name: another runner has the identifier {slug!r}"
                )
        defaults = [i for i, runner in enumerate(self.runners) if runner.default]
        if len(defaults) > 1:
            raise ValueError(f"runners.{defaults[1]}.default: only one runner can be the default")
        return self

    @property
    def default_runner(self) -> str:
        """The slug of the runner whose runs nobody else claims."""
        if not self.runners:
            return DEFAULT_RUNNER
        chosen = [runner for runner in self.runners if runner.default] or self.runners[:1]
        return chosen[0].slug

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments > environment > credentials > TOML file > defaults."""
        del dotenv_settings, file_secret_settings
        return (
            init_settings,
            env_settings,
            _CredentialsSource(settings_cls),
            _FileSource(settings_cls),
        )


_DEVICE_GROUPS: Final = ("treadmills", "straps", "footpods")
# Slugs a treadmill cannot have: its topics `{base}/<device>/...` would meet the daemon's own.
RESERVED_SLUGS: Final = frozenset(
    {"runners", "flags", "checkin", "prompt", "run", "error", "status"}
)


class _FileShape(BaseModel):
    """The TOML file on its own (no other source), for the strict type check."""

    model_config = ConfigDict(extra="ignore")

    mqtt: MqttSettings | None = None
    ble: BleSettings | None = None
    treadmills: list[TreadmillSettings] | None = None
    straps: list[StrapSettings] | None = None
    footpods: list[FootpodSettings] | None = None
    rules: RulesSettings | None = None
    flags: FlagsSettings | None = None
    state_dir: Path | None = None
    log_level: str | None = None


def _duplicate_slugs(names: Mapping[str, list[object]]) -> list[str]:
    """A "key: message" line for every device name whose slug an earlier device has."""
    seen: dict[str, str] = {}
    found = []
    for group in _DEVICE_GROUPS:
        for index, name in enumerate(names.get(group, [])):
            if not isinstance(name, str) or not slugify(name):
                continue
            key, slug = f"{group}.{index}.name", slugify(name)
            if slug in seen:
                found.append(f"{key}: {name!r} has the same identifier {slug!r} as {seen[slug]}")
            else:
                seen[slug] = key
    return found


def _raw_duplicate_slugs(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Duplicate device identifiers in unvalidated data (reported with the other problems)."""
    names: dict[str, list[object]] = {
        group: [d.get("name") if isinstance(d, dict) else None for d in data[group]]
        for group in _DEVICE_GROUPS
        if isinstance(data.get(group), list)
    }
    return [
        (key, message)
        for key, _, message in (line.partition(": ") for line in _duplicate_slugs(names))
    ]


def _describe(error: ErrorDetails) -> tuple[str, str]:
    loc = [str(part) for part in error["loc"]]
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return ".".join(loc) or "(top level)", "unknown key"
    if error["type"] == "missing":
        return ".".join(loc), "required"
    shown = error.get("input")
    secret = any("password" in part for part in loc)
    if (
        not secret
        and isinstance(shown, str | int | float | bool)
        and error["type"] != "value_error"
    ):
        message = f"{message} (got {_shorten(shown)})"
    named = _NAMED_KEY.match(message)
    if error["type"] == "value_error" and named:
        # A cross-field check that names the key it is about ("treadmills.1.name: ...").
        return ".".join([*loc, named.group(1)]), named.group(2)
    return ".".join(loc) or "(top level)", message


def _shorten(value: object) -> str:
    """`repr(value)`, cut short so a huge value does not flood the output."""
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        return f"{value[:_SHOWN_CHARS]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}..."


_SHOWN_CHARS: Final = 40
_TOML_TYPE_NAMES: Final[dict[type, str]] = {
    bool: "the boolean",
    int: "the whole number",
    float: "the number",
    str: "the string",
    list: "an array",
    dict: "a table",
}


def _strict_file_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Values in the TOML file whose type is wrong, though lax validation would convert them.

    TOML has real booleans and numbers, so `automation_allowed = "yes"`, `port = "1883"` or
    `tls = 1` are mistakes: converting them silently could change what a setting means (a
    safety setting above all). The file alone is validated strictly (as JSON, which keeps
    strings for paths and allows whole numbers where decimals are expected); only type
    errors are taken from it, the other checks run on the merged settings as usual.
    Environment variables are text by nature and stay lax.
    """
    try:
        text = json.dumps(data, default=str)
    except (TypeError, ValueError):
        return []
    try:
        _FileShape.model_validate_json(text, strict=True)
    except ValidationError as exc:
        found = []
        for error in exc.errors(include_url=False):
            if not str(error["type"]).endswith("_type"):
                continue
            loc = ".".join(str(part) for part in error["loc"])
            value = error.get("input")
            given = _TOML_TYPE_NAMES.get(type(value), type(value).__name__)
            wanted = str(error["msg"]).removeprefix("Input should be ")
            if error["type"] == "bool_type":
                wanted = "true or false"
            hint = " (write it without quotes)" if isinstance(value, str) else ""
            found.append((loc, f"must be {wanted}, not {given} {_shorten(value)}{hint}"))
        return found
    return []


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([("(file)", f"cannot read {path}: {exc.strerror or exc}")], path) from exc
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([("(file)", f"not UTF-8 text: {exc.reason}")], path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([("(syntax)", f"TOML syntax error: {exc}")], path) from exc


def load_settings(
    config_path: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Load and validate the settings, collecting every problem.

    Args:
        config_path: The file given with `--config` (must exist); None looks for one in the
            usual places (see `treadwell.daemon.paths`) and uses the defaults if there is none.
        overrides: Values that beat every other source (keyword arguments to Settings).

    Returns:
        The validated settings.

    Raises:
        ConfigError: With every problem found, each with its dotted key.
    """
    path, explicit = paths.resolve_config_path(config_path)
    data: dict[str, Any] = {}
    if path is not None:
        if not path.is_file() and explicit:
            raise ConfigError([("(file)", f"{path}: no such file")], path)
        if path.is_file():
            data = _read_toml(path)
    token = _FILE_DATA.set(data)
    strict = _strict_file_problems(data)
    try:
        settings = Settings(**dict(overrides or {}))
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors(include_url=False)]
        named = {key for key, _ in problems}
        raw = {**data, **dict(overrides or {})}
        problems += [p for p in _raw_duplicate_slugs(raw) if p[0] not in named]
        problems += [p for p in strict if p[0] not in named]
        raise ConfigError(problems, path) from exc
    finally:
        _FILE_DATA.reset(token)
    if strict:
        raise ConfigError(strict, path)
    return settings

"""I/O. Treadwell's settings: the whole model, its sources and a loader that names every problem.

Sources, strongest first: keyword arguments, `TREADWELL_` environment variables (`__` nests,
e.g. `TREADWELL_MQTT__HOST`), credential files (systemd `LoadCredential=`), the TOML file,
then the defaults. Every model forbids unknown keys, so a typo anywhere is an error rather
than a silently ignored setting. The sections (one model per TOML table) live in
`treadwell.daemon.config_sections`; every public name there is importable from here too.
"""

from __future__ import annotations

import contextvars
import json
import re
import tomllib
from collections.abc import Mapping  # noqa: TC003
from pathlib import Path  # noqa: TC003 (pydantic needs it at run time)
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo  # noqa: TC002 (signature of an override)
from pydantic_core import ErrorDetails  # noqa: TC002
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from treadwell.daemon import paths
from treadwell.daemon.config_sections import (
    DEFAULT_RUNNER,
    MAX_NAME_LENGTH,
    MAX_TOPIC_LENGTH,
    VIRTUAL_MISSING,
    BackPain,
    BleSettings,
    ExportFormat,
    ExportSettings,
    FlagsSettings,
    FootpodSettings,
    LogLevel,
    MqttSettings,
    RulesSettings,
    RunnerSettings,
    StorageSettings,
    StrapSettings,
    TreadmillSettings,
    slugify,
    virtual_world_available,
)
from treadwell.drivers.errors import TreadwellError

__all__ = [
    "DEFAULT_RUNNER",
    "EX_CONFIG",
    "MAX_NAME_LENGTH",
    "MAX_TOPIC_LENGTH",
    "RESERVED_SLUGS",
    "VIRTUAL_MISSING",
    "BackPain",
    "BleSettings",
    "ConfigError",
    "ExportFormat",
    "ExportSettings",
    "FlagsSettings",
    "FootpodSettings",
    "LogLevel",
    "MqttSettings",
    "RulesSettings",
    "RunnerSettings",
    "Settings",
    "StorageSettings",
    "StrapSettings",
    "TreadmillSettings",
    "load_settings",
    "slugify",
    "virtual_world_available",
]

EX_CONFIG = 78
"""Exit status for a bad configuration (sysexits.h); the unit's `RestartPreventExitStatus`."""

_NAMED_KEY = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): (.+)$", re.DOTALL)


# The parsed TOML file for the settings being built (see `load_settings`).
_FILE_DATA: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("_FILE_DATA")


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

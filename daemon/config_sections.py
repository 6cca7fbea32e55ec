"""I/O. The sections of Treadwell's settings: one pydantic model per TOML table, and their checks.

`treadwell.daemon.config` assembles them into `Settings` and loads them from their sources;
it re-exports every public name here. Every model forbids unknown keys and is frozen; the
MQTT section reads its password file and checks that TLS files exist as it validates.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import re
import socket
from pathlib import Path  # noqa: TC003 (pydantic needs it at run time)
from typing import Final, Literal

from anyascii import anyascii
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from treadwell.rules.model import RulesConfig, RulesInputError

_TOPIC_FORBIDDEN = re.compile(r"[#+\x00]")
_TOPIC_CONTROL = re.compile(r"[\x01-\x1f\x7f-\x9f]")
MAX_NAME_LENGTH: Final = 100
"""Longest device name: it becomes a Home Assistant device name and part of topics."""
MAX_TOPIC_LENGTH: Final = 200
_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _is_loopback(host: str) -> bool:
    try:
        return host in _LOOPBACK_HOSTS or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


BackPain = Literal["none", "ache", "check", "red"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


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


# The rules' own defaults: the settings add only the bounds a configuration file must keep.
_RULES: Final = RulesConfig()


class RulesSettings(_Model):
    """Thresholds of the back-care rules (`treadwell.rules.model.RulesConfig`).

    Durations are seconds, speeds km/h, inclines percent. Each default is the rules' own
    (`RulesConfig()`), not restated here. The runner's incline ceiling and whether automation
    is allowed are per runner and treadmill (see `RunnerSettings`, `TreadmillSettings`).
    """

    run_start_speed_kmh: float = Field(default=_RULES.run_start_speed_kmh, ge=0.0, le=30.0)
    run_start_s: float = Field(default=_RULES.run_start_s, ge=1.0, le=600.0)
    # 0 would end every run at its first reading: no run could ever start.
    stop_timeout_s: float = Field(default=_RULES.stop_timeout_s, ge=1.0, le=24 * 3600)
    pause_tolerance_s: float = Field(default=_RULES.pause_tolerance_s, ge=0.0, le=24 * 3600)
    incline_window_min_pct: float = Field(default=_RULES.incline_window_min_pct, ge=0.0, le=40.0)
    incline_window_max_pct: float = Field(default=_RULES.incline_window_max_pct, ge=0.0, le=40.0)
    incline_target_pct: float = Field(default=_RULES.incline_target_pct, ge=0.0, le=40.0)
    incline_underway_s: float = Field(default=_RULES.incline_underway_s, ge=0.0, le=24 * 3600)
    incline_interval_s: float = Field(default=_RULES.incline_interval_s, ge=0.0, le=24 * 3600)
    incline_settle_s: float = Field(default=_RULES.incline_settle_s, ge=0.0, le=3600)
    form_cue_distance_m: float = Field(default=_RULES.form_cue_distance_m, ge=0.0, le=200_000)
    hr_drift_bpm: int = Field(default=_RULES.hr_drift_bpm or 0, ge=0, le=100)
    hr_baseline_after_s: float = Field(default=_RULES.hr_baseline_after_s, ge=0.0, le=24 * 3600)
    steady_speed_tolerance_kmh: float = Field(
        default=_RULES.steady_speed_tolerance_kmh, ge=0.0, le=30.0
    )
    hydration_reminder_after_s: float = Field(
        default=_RULES.hydration_reminder_after_s, ge=0.0, le=7 * 24 * 3600
    )
    checkin_after_s: float = Field(default=_RULES.checkin_after_s, ge=0.0, le=7 * 24 * 3600)
    escalate_painful_runs: int = Field(default=_RULES.escalate_painful_runs, ge=1, le=100)
    escalate_window_runs: int = Field(default=_RULES.escalate_window_runs, ge=1, le=100)
    hr_settle_s: float = Field(default=_RULES.hr_settle_s, ge=0.0, le=3600)
    severe_pain: int = Field(default=_RULES.severe_pain, ge=1, le=10)
    warmup_window_s: float = Field(default=_RULES.warmup_window_s, ge=0.0, le=24 * 3600)
    stride_min_speed_kmh: float = Field(default=_RULES.stride_min_speed_kmh, ge=0.0, le=30.0)
    overstride_cadence_spm: float = Field(default=_RULES.overstride_cadence_spm, ge=0.0, le=300.0)
    overstride_step_m: float = Field(default=_RULES.overstride_step_m, ge=0.0, le=5.0)
    overstride_after_s: float = Field(default=_RULES.overstride_after_s, ge=0.0, le=24 * 3600)
    shoe_note_fraction: float = Field(default=_RULES.shoe_note_fraction, gt=0.0, le=1.0)
    shoe_note_min_s: float = Field(default=_RULES.shoe_note_min_s, ge=0.0, le=24 * 3600)
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

"""Pure. What the MQTT bridge needs to know, and the rule on sending credentials."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from treadwell.drivers.errors import TreadwellError

if TYPE_CHECKING:
    from pathlib import Path

    from treadwell.daemon.config import MqttSettings


class InsecureCredentialsError(TreadwellError):
    """Credentials would cross the network in clear text, and that was not allowed."""


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """What the bridge needs to know; the daemon maps its configuration onto this.

    Attributes:
        host: Broker host name or address.
        port: Broker port.
        username: MQTT user name, if the broker wants one.
        password: MQTT password (never logged, not in the repr).
        tls: Connect with TLS.
        ca_file: CA bundle to verify the broker with; None uses the system's.
        certfile: Client certificate, for brokers that want one.
        keyfile: The client certificate's key.
        tls_insecure: Skip the broker host name check (self-signed test brokers only).
        base_topic: Root of the daemon's own topics.
        client_id: Stable MQTT client id; the broker keeps the session under it.
        discovery_prefix: Home Assistant's discovery prefix.
        keepalive: MQTT keepalive in seconds.
        allow_insecure_credentials: Allow a password over plain TCP to a non-loopback host.
        devices: Slugs of the configured treadmills (for `{base}/<device>/incline/set`).
        runners: Slugs of the configured runners (for their command topics).
        max_state_rate_hz: At most this many state messages a second per device.
        backoff_initial_s: First delay before reconnecting.
        backoff_max_s: Cap of the doubling reconnect delay.
        ha_online_jitter_s: Upper bound of the random delay before re-publishing discovery.
        takeover_window_s: A session the broker ends sooner than this after connecting counts
            towards "another client uses this client id".
    """

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    tls_insecure: bool = False
    base_topic: str = "treadwell"
    client_id: str = "treadwell"
    discovery_prefix: str = "homeassistant"
    keepalive: int = 30
    allow_insecure_credentials: bool = False
    devices: tuple[str, ...] = ("treadmill",)
    runners: tuple[str, ...] = ()
    max_state_rate_hz: float = 2.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    ha_online_jitter_s: float = 5.0
    takeover_window_s: float = 60.0

    @classmethod
    def from_config(
        cls, mqtt: MqttSettings, *, devices: tuple[str, ...], runners: tuple[str, ...] = ()
    ) -> BridgeSettings:
        """Map the daemon's `[mqtt]` configuration onto bridge settings."""
        password = None if mqtt.password is None else mqtt.password.get_secret_value()
        return cls(
            host=mqtt.host,
            port=mqtt.port,
            username=mqtt.username,
            password=password,
            tls=mqtt.tls,
            ca_file=mqtt.ca_file,
            certfile=mqtt.certfile,
            keyfile=mqtt.keyfile,
            tls_insecure=mqtt.tls_insecure,
            base_topic=mqtt.base_topic,
            client_id=mqtt.client_id,
            discovery_prefix=mqtt.discovery_prefix,
            keepalive=mqtt.keepalive,
            allow_insecure_credentials=mqtt.allow_insecure_credentials,
            devices=devices,
            runners=runners,
            max_state_rate_hz=mqtt.max_state_rate_hz,
        )


def check_credentials(settings: BridgeSettings) -> None:
    """Refuse to send credentials in clear text to another machine.

    Raises:
        InsecureCredentialsError: If a user name or password would go over plain TCP to a
            non-loopback host and `allow_insecure_credentials` is off.
    """
    if settings.username is None and settings.password is None:
        return
    if settings.tls or settings.allow_insecure_credentials or _is_loopback(settings.host):
        return
    raise InsecureCredentialsError(
        f"refusing to send MQTT credentials in clear text to {settings.host}:{settings.port};"
        " enable tls, or set allow_insecure_credentials if the network is trusted"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

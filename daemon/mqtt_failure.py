"""I/O. How the MQTT bridge reports failures, and what it does on an unexpected one.

Connection failures are logged in one line each (`log_connection_failure`, `log_takeover`).
A bug inside the session (an exception that is not an MQTT error) must not leave the retained
`{base}/status` at `online`: the client's clean disconnect on the way out suppresses the last
will. `fail_safe` publishes `offline` itself, logs one line (the traceback only at DEBUG) and
raises `BridgeFailedError`, on which `treadwell run` exits with `EXIT_BRIDGE_FAILED`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from treadwell.daemon.mqtt_core import OFFLINE
from treadwell.drivers.errors import TreadwellError

_LOGGER = logging.getLogger("treadwell.daemon.mqtt")

EXIT_BRIDGE_FAILED: Final = 70
"""The daemon's exit status when the MQTT bridge fails unexpectedly (EX_SOFTWARE)."""
OFFLINE_TIMEOUT_S = 5.0
"""How long a failing bridge tries to publish `offline` before it gives up."""
_AUTH_FAILURES = frozenset({4, 5, 134, 135})  # MQTT 3.1.1 and 5 "bad credentials / not authorized"


class BridgeFailedError(TreadwellError):
    """An unexpected error (not a broker or network problem) stopped the MQTT bridge.

    `{base}/status` was set to `offline` first (when the broker could still be reached).
    """


def mqtt_errors_only(exc: BaseException) -> bool:
    """Whether `exc` (or every exception in the group) is an MQTT error."""
    if isinstance(exc, BaseExceptionGroup):
        return all(mqtt_errors_only(inner) for inner in exc.exceptions)
    return isinstance(exc, aiomqtt.MqttError)


def _first_non_mqtt(exc: BaseException) -> BaseException:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if not mqtt_errors_only(inner):
                return _first_non_mqtt(inner)
    return exc


async def fail_safe(client: aiomqtt.Client, status_topic: str, exc: Exception) -> BridgeFailedError:
    """Publish `offline` on `status_topic`, log one line; return the error to raise."""
    cause = _first_non_mqtt(exc)
    with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
        async with asyncio.timeout(OFFLINE_TIMEOUT_S):
            await client.publish(status_topic, OFFLINE, qos=1, retain=True)
    _LOGGER.critical(
        "MQTT: stopping on an unexpected error, status set offline: %s: %s",
        type(cause).__name__,
        cause,
    )
    _LOGGER.debug("MQTT: the unexpected error", exc_info=cause)
    msg = f"the MQTT bridge stopped on an unexpected error: {type(cause).__name__}: {cause}"
    failure = BridgeFailedError(msg)
    failure.__cause__ = cause
    return failure


def log_connection_failure(error: BaseException | None, where: str, delay: float) -> None:
    """One line for a failed connection or session; refused credentials as an error."""
    rc = getattr(error, "rc", None)  # an int or paho's (unhashable) ReasonCode
    code = getattr(rc, "value", rc)
    # Log the text, not the exception: a log record that keeps the exception keeps its
    # traceback and with it paho's half-open TLS socket after a failed handshake.
    reason = str(error)
    # Only a refused CONNECT carries a CONNACK code; a failed publish carries paho's own
    # error numbers, where 4 means "not connected" (the broker went away), not "bad
    # credentials".
    refused = isinstance(error, MqttConnectError)
    if refused and isinstance(code, int) and code in _AUTH_FAILURES:
        _LOGGER.error(
            "MQTT %s: the broker refused the credentials (%s); retrying in %.1f s",
            where,
            reason,
            delay,
        )
    else:
        _LOGGER.warning("MQTT %s: %s; reconnecting in %.1f s", where, reason, delay)


def log_takeover(client_id: str, sessions: int, delay: float) -> None:
    """One error line: another client seems to use our client id."""
    _LOGGER.error(
        "MQTT: the broker ended %d connections in a row right after they opened: another"
        " client is using the client id %r (a second daemon, or a machine cloned from the"
        " same image?); give each daemon its own [mqtt] client_id; backing off, retrying in"
        " %.1f s",
        sessions,
        client_id,
        delay,
    )

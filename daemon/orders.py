"""I/O. MQTT commands as the household's orders, and the check-in's confirmation.

A command names a runner or not; without one it is the default runner's. A check-in is
stored (with the run it is about) before the rules hear of it, and confirmed on the runner's
`{base}/runners/<runner>/checkin/last` so that its sender (`treadwell checkin`, a dashboard)
knows it was taken.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, assert_never

from treadwell.daemon import messages
from treadwell.daemon.effects import runner_topic
from treadwell.daemon.store import StateStoreError
from treadwell.rules import household
from treadwell.rules.model import BackPain, PainKind

if TYPE_CHECKING:
    from datetime import datetime

    from treadwell.daemon.mqtt import MqttBridge
    from treadwell.daemon.store import Store

_LOGGER = logging.getLogger(__name__)


def order_for(
    command: messages.Command,
    house: household.HouseholdState,
    now: datetime,
    *,
    store: Store,
    bridge: MqttBridge,
    base: str,
) -> household.Order:
    """The order for a validated command (a check-in is stored and confirmed on the way)."""
    default = house.config.default_runner
    match command:
        case messages.FlagsSetCommand(back_pain=back_pain, days=days, runner=runner):
            expires = now + timedelta(days=days) if days else None
            return household.RunnerFlagSet(runner or default, BackPain(back_pain), expires)
        case messages.CheckinCommand(pain=pain, kinds=kinds, runner=runner, run_id=run_id):
            who = runner or default
            about = household.checkin_run(house, who, run_id)
            try:
                store.add_checkin(pain, ",".join(kinds), at=now, runner=who, run_key=about)
            except StateStoreError as exc:
                _LOGGER.error("state: check-in not stored: %s", exc)  # noqa: TRY400
            first, *others = (PainKind(kind) for kind in kinds)
            confirmation = {
                "runner": who,
                "pain": pain,
                "kinds": list(kinds),
                "run_id": about,
                "received_at": now.isoformat(),
            }
            bridge.publish_retained(
                runner_topic(base, who, "checkin/last"),
                json.dumps(confirmation, separators=(",", ":")).encode(),
            )
            return household.RunnerCheckin(who, pain, first, about, tuple(others))
        case messages.InclineSetCommand(device=device, incline_pct=incline_pct):
            return household.InclineRequested(device, incline_pct)
        case messages.RunnerSelectCommand(device=device, runner=runner):
            return household.RunnerSelected(device, runner)
        case _:
            assert_never(command)

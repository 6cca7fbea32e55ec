"""I/O. A Bumble virtual controller with the fixes the virtual world needs.

Bumble's `Controller` answers LE Create Connection Cancel with "success" but keeps the pending
connection, so a timed-out connect to an absent device hangs and the controller stays
"connecting" for ever (docs/virtual-ble.md quirk 4). A real controller drops the pending connection
and reports an LE Connection Complete event with status Unknown Connection Identifier, which is
what `VirtualController` does.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bumble import controller as bumble_controller
from bumble import hci
from bumble.controller import Controller

if TYPE_CHECKING:
    from bumble.link import LocalLink

# Vol 4, Part E, 7.8.13: a cancelled LE connect completes with "Unknown Connection Identifier".
_CANCELLED = hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR
_BUMBLE_LOGGER = bumble_controller.logger


class CancellableController(Controller):
    """A Bumble controller that honours LE Create Connection Cancel (see the module docstring).

    Also the base of the BlueZ VM suite's controller on /dev/vhci, where BlueZ cancels a
    connect whose timeout expired (e.g. while the treadmill is off).
    """

    def on_hci_le_create_connection_cancel_command(
        self, command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        """Drop the pending LE connect and report its failure after the command completes."""
        del command
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        asyncio.get_running_loop().call_soon(self._report_cancelled, pending.peer_address)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)

    def _report_cancelled(self, peer_address: hci.Address) -> None:
        self.send_hci_packet(
            hci.HCI_LE_Connection_Complete_Event(
                status=_CANCELLED,
                connection_handle=0,
                role=hci.Role.CENTRAL,
                peer_address_type=peer_address.address_type,
                peer_address=peer_address,
                connection_interval=0,
                peripheral_latency=0,
                supervision_timeout=0,
                central_clock_accuracy=0,
            )
        )


class VirtualController(CancellableController):
    """A Bumble controller on a `LocalLink`: cancellable connects, no eager DEBUG text."""

    def __init__(self, name: str, link: LocalLink) -> None:
        """Create the controller and attach it to `link`; call inside the running loop.

        Args:
            name: A label for Bumble's own logs.
            link: The in-process radio every virtual device shares.
        """
        super().__init__(name, link=link)

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Dispatch a packet from the host without building Bumble's DEBUG text first.

        Bumble formats every packet into an f-string before `logger.debug` decides to drop it,
        which was most of the CPU a long virtual run spent (quirk 9).
        """
        if _BUMBLE_LOGGER.isEnabledFor(logging.DEBUG):
            super().on_hci_packet(packet)
            return
        match packet:
            case hci.HCI_Command():
                self.on_hci_command_packet(packet)
            case hci.HCI_AclDataPacket():
                self.on_hci_acl_data_packet(packet)
            case _:
                super().on_hci_packet(packet)

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Hand a packet to the host (skipping the eager DEBUG text unless DEBUG is on)."""
        if _BUMBLE_LOGGER.isEnabledFor(logging.DEBUG):
            super().send_hci_packet(packet)
            return
        if self.host:
            asyncio.get_running_loop().call_soon(self.host.on_packet, bytes(packet))

"""I/O. A Bumble controller for the Linux kernel on /dev/vhci, linked to emulated peripherals.

The guest kernel drives `HostController` over /dev/vhci exactly as it drives a USB dongle; the
emulated treadmill and strap are Bumble devices on the same `HostLink`. Two Bumble behaviours
only show up with a real host stack, and are fixed here:

1. `LocalLink` labels LE data with the sender's random address. The kernel scans with a random
   address but connects with its public one, so the peripheral finds no connection for the
   label, drops every ATT packet ("no connection for ...") and BlueZ logs "MTU Exchange
   failed". `HostLink` labels data with the sender's own address on that connection.
2. Bumble always reports "LE Connection Complete". When the kernel unmasked "LE Enhanced
   Connection Complete" (it does on controllers with extended advertising or LL privacy) it
   waits for that event instead; the legacy one leaves its command queue stalled, so a later
   disconnect never reaches the controller. `HostController` sends the event that was asked for.

`HostController` also honours LE Create Connection Cancel, through the virtual world's
`CancellableController` (Bumble answers "success" but keeps
connecting): BlueZ cancels a connect when its timeout expires, e.g. while the treadmill is off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bumble import core, hci
from bumble.link import LocalLink
from bumble.transport import open_transport

from treadwell.drivers.virtual.controller import CancellableController

if TYPE_CHECKING:
    from bumble.controller import Controller
    from bumble.transport.common import Transport

_LOGGER = logging.getLogger(__name__)

# Vol 4, Part E, 7.8.1: the LE event mask bit of subevent N is bit N-1.
_ENHANCED_CONNECTION_COMPLETE_BIT = 1 << (hci.HCI_LE_ENHANCED_CONNECTION_COMPLETE_EVENT - 1)
VHCI_PATH = "/dev/vhci"


class HostLink(LocalLink):
    """A `LocalLink` that labels LE data with the address the sender uses on that connection."""

    def __init__(self) -> None:
        """Create an empty link."""
        super().__init__()  # type: ignore[no-untyped-call]  # bumble leaves it untyped

    def send_acl_data(
        self,
        sender_controller: Controller,
        destination_address: hci.Address,
        transport: core.PhysicalTransport,
        data: bytes,
    ) -> None:
        """Deliver `data` to the controller connected to `destination_address`."""
        if transport != core.PhysicalTransport.LE:
            super().send_acl_data(sender_controller, destination_address, transport, data)
            return
        connection = sender_controller.le_connections.get(destination_address)
        if connection is None:
            _LOGGER.warning("LE data for %s without a connection: dropped", destination_address)
            return
        destination = self.find_le_controller(destination_address)
        if destination is None:
            return
        source = connection.self_address
        asyncio.get_running_loop().call_soon(
            destination.on_link_acl_data, source, core.PhysicalTransport.LE, data
        )


class HostController(CancellableController):
    """A Bumble controller that a real host stack (the Linux kernel) can drive."""

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        """Send `packet` to the host, as the enhanced connection event when it asked for that."""
        if isinstance(packet, hci.HCI_LE_Connection_Complete_Event) and (
            self.le_event_mask & _ENHANCED_CONNECTION_COMPLETE_BIT
        ):
            packet = hci.HCI_LE_Enhanced_Connection_Complete_Event(
                status=packet.status,
                connection_handle=packet.connection_handle,
                role=packet.role,
                peer_address_type=packet.peer_address_type,
                peer_address=packet.peer_address,
                local_resolvable_private_address=hci.Address.ANY,
                peer_resolvable_private_address=hci.Address.ANY,
                connection_interval=packet.connection_interval,
                peripheral_latency=packet.peripheral_latency,
                supervision_timeout=packet.supervision_timeout,
                central_clock_accuracy=packet.central_clock_accuracy,
            )
        super().send_hci_packet(packet)


async def open_vhci_controller(
    link: HostLink, public_address: str, path: str = VHCI_PATH
) -> tuple[HostController, Transport]:
    """Give the kernel a new Bluetooth controller on `link` (close the transport to remove it).

    Args:
        link: The link the emulated peripherals are on.
        public_address: The controller's public address (the kernel refuses 00:00:00:00:00:00).
        path: The vhci device.

    Returns:
        The controller and the open vhci transport.
    """
    transport = await open_transport(f"vhci:{path}")
    controller = HostController(
        "vhci",
        host_source=transport.source,
        host_sink=transport.sink,
        link=link,
        public_address=hci.Address(public_address, hci.Address.PUBLIC_DEVICE_ADDRESS),
    )
    return controller, transport

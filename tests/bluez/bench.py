"""I/O. The BlueZ bench: a kernel controller on /dev/vhci, powered in BlueZ, and its devices."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from tests.bluez.vhci import HostController, HostLink, open_vhci_controller
from treadwell.drivers.virtual.footpod import FootpodConfig, VirtualFootpod
from treadwell.drivers.virtual.strap import StrapConfig, VirtualStrap
from treadwell.drivers.virtual.treadmill import TreadmillConfig, VirtualTreadmill

if TYPE_CHECKING:
    from bumble.transport.common import Transport

    from treadwell.drivers.virtual.peripheral import VirtualPeripheral

ADAPTER_ADDRESS = "00:1B:DC:7E:AD:01"
# Every device of the session gets its own address, so BlueZ's per-device GATT cache (kept
# in /var/lib/bluetooth across tests) never describes another test's device.
_ADDRESSES = (f"C0:7E:AD:B1:{n >> 8:02X}:{n & 0xFF:02X}" for n in itertools.count(1))
_POWER_ON_TIMEOUT_S = 60.0


def next_address() -> str:
    """A random static address no other device of this session had."""
    return next(_ADDRESSES)


async def bluetoothctl(*args: str, timeout_s: float = 20.0) -> str:
    """Run `bluetoothctl ARGS` and return its output (stdout and stderr)."""
    process = await asyncio.create_subprocess_exec(
        "bluetoothctl",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(timeout_s):
            output, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return output.decode(errors="replace")


async def power_on_adapter() -> None:
    """Wait until BlueZ has the new controller, then power it on (like `bluetoothctl power on`)."""
    async with asyncio.timeout(_POWER_ON_TIMEOUT_S):
        while True:
            shown = await bluetoothctl("show", ADAPTER_ADDRESS)
            if "Powered: yes" in shown:
                return
            if "Powered: no" in shown:
                await bluetoothctl("power", "on")
            await asyncio.sleep(0.2)


async def wait_adapter_gone() -> None:
    """Wait until BlueZ forgot the controller, so the next test's one is the only one."""
    async with asyncio.timeout(_POWER_ON_TIMEOUT_S):
        while ADAPTER_ADDRESS in await bluetoothctl("list"):
            await asyncio.sleep(0.2)


_Device = TypeVar("_Device", bound="VirtualPeripheral")


@dataclass
class BluezBench:
    """A kernel controller powered on in BlueZ and the emulated devices it can reach."""

    link: HostLink
    controller: HostController
    transport: Transport
    devices: list[VirtualPeripheral] = field(default_factory=list)

    async def add_treadmill(
        self, config: TreadmillConfig | None = None, *, speedup: float = 1.0
    ) -> VirtualTreadmill:
        """Add, power on and start advertising an emulated treadmill."""
        config = config or TreadmillConfig()
        address = config.address or next_address()
        return await self._started(
            VirtualTreadmill(config, link=self.link, address=address, speedup=speedup)
        )

    async def add_strap(
        self, config: StrapConfig | None = None, *, speedup: float = 1.0
    ) -> VirtualStrap:
        """Add, power on and start advertising an emulated heart-rate strap."""
        config = config or StrapConfig()
        address = config.address or next_address()
        return await self._started(
            VirtualStrap(config, link=self.link, address=address, speedup=speedup)
        )

    async def add_footpod(
        self, config: FootpodConfig | None = None, *, speedup: float = 1.0
    ) -> VirtualFootpod:
        """Add, power on and start advertising an emulated running footpod."""
        config = config or FootpodConfig()
        address = config.address or next_address()
        return await self._started(
            VirtualFootpod(config, link=self.link, address=address, speedup=speedup)
        )

    async def _started(self, device: _Device) -> _Device:
        """Power `device` on, start its advertising and keep it for `close`."""
        await device.start()
        self.devices.append(device)
        return device

    async def close(self) -> None:
        """Power the devices off and take the controller away from the kernel."""
        for device in self.devices:
            await device.close()
        await self.transport.close()


async def open_bench() -> BluezBench:
    """Give the kernel a fresh controller and wait until BlueZ has powered it on."""
    link = HostLink()
    controller, transport = await open_vhci_controller(link, ADAPTER_ADDRESS)
    bench = BluezBench(link=link, controller=controller, transport=transport)
    try:
        await power_on_adapter()
    except BaseException:
        await bench.close()
        raise
    return bench

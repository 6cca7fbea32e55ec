"""I/O. The virtual Bluetooth world: one `LocalLink`, a central for bleak, and peripherals.

    async with VirtualWorld() as world:
        treadmill = await world.add_treadmill(TreadmillConfig(profile=RunProfile.demo()))
        strap = await world.add_strap(StrapConfig(follow=treadmill))
        async with BleakClient(treadmill.address, backend=world.backend.client) as client:
            ...

Build the world inside the loop that uses it: Bumble's controllers bind the running loop when
they are created (docs/virtual-ble.md quirk 1). Closing the world powers every device off and awaits
every task it started, so none outlives it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self, TypeVar

from bumble.link import LocalLink

from treadwell.drivers.virtual.backend import VirtualCentral
from treadwell.drivers.virtual.footpod import FootpodConfig, VirtualFootpod
from treadwell.drivers.virtual.strap import StrapConfig, VirtualStrap
from treadwell.drivers.virtual.treadmill import TreadmillConfig, VirtualTreadmill

if TYPE_CHECKING:
    from types import TracebackType

    from treadwell.drivers.backend import BleBackend
    from treadwell.drivers.capture import Capture
    from treadwell.drivers.virtual.peripheral import VirtualPeripheral
    from treadwell.drivers.virtual.replay import ReplayDevice

_CENTRAL_ADDRESS = "C0:7E:AD:00:00:00"
# Random static addresses have the two top bits set (Core Vol 6, Part B, 1.3.2.1).
_ADDRESS_PREFIX = "C0:7E:AD"
_MAX_DEVICES = 0xFFFFFF
_P = TypeVar("_P", bound="VirtualPeripheral")


class VirtualWorld:
    """Virtual treadmills, straps and footpods, and the bleak backend to reach them.

    Attributes:
        speedup: Simulated seconds per loop second (the demo uses > 1; tests use looptime).
    """

    def __init__(self, *, speedup: float = 1.0) -> None:
        """Describe the world; it comes to life in `async with`."""
        if speedup <= 0:
            raise ValueError(f"speedup must be > 0, got {speedup!r}")
        self.speedup = speedup
        self._link: LocalLink | None = None
        self._central: VirtualCentral | None = None
        self._other_centrals: list[VirtualCentral] = []
        self._backend: BleBackend | None = None
        self._devices: list[VirtualPeripheral] = []
        self._next_address = 1

    async def __aenter__(self) -> Self:
        """Create the link and the central (quiets Bumble's DEBUG logging, quirk 9)."""
        logging.getLogger("bumble").setLevel(logging.WARNING)
        self._link = LocalLink()  # type: ignore[no-untyped-call]
        self._central = await VirtualCentral.create(self._link, _CENTRAL_ADDRESS)
        self._backend = self._central.backend()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close every device and the central."""
        await self.close()

    async def close(self) -> None:
        """Power everything off and wait for every task the world started."""
        centrals = [self._central] if self._central is not None else []
        centrals += self._other_centrals
        self._central, self._other_centrals = None, []
        for central in centrals:
            await central.close()
        devices, self._devices = self._devices, []
        for device in devices:
            await device.close()

    @property
    def backend(self) -> BleBackend:
        """The bleak scanner and client classes bound to this world."""
        if self._backend is None:
            raise RuntimeError("the virtual world is not open: use `async with VirtualWorld()`")
        return self._backend

    @property
    def devices(self) -> tuple[VirtualPeripheral, ...]:
        """Every peripheral in the world, in the order they were added."""
        return tuple(self._devices)

    async def add_central(self) -> BleBackend:
        """Add a second computer (say, a phone app) with its own radio; returns its backend.

        A Bumble controller holds one link per peer address, so two clients on one central
        cannot both connect to the same treadmill; two centrals can.
        """
        address = self._address(None)
        central = await VirtualCentral.create(self._open_link(), address)
        self._other_centrals.append(central)
        return central.backend()

    async def add_treadmill(self, config: TreadmillConfig | None = None) -> VirtualTreadmill:
        """Add, power on and start advertising a treadmill."""
        config = config or TreadmillConfig()
        treadmill = VirtualTreadmill(
            config,
            link=self._open_link(),
            address=self._address(config.address),
            speedup=self.speedup,
        )
        return await self._started(treadmill)

    async def add_strap(self, config: StrapConfig | None = None) -> VirtualStrap:
        """Add, power on and start advertising a heart-rate strap."""
        config = config or StrapConfig()
        strap = VirtualStrap(
            config,
            link=self._open_link(),
            address=self._address(config.address),
            speedup=self.speedup,
        )
        return await self._started(strap)

    async def add_footpod(self, config: FootpodConfig | None = None) -> VirtualFootpod:
        """Add, power on and start advertising a footpod."""
        config = config or FootpodConfig()
        footpod = VirtualFootpod(
            config,
            link=self._open_link(),
            address=self._address(config.address),
            speedup=self.speedup,
        )
        return await self._started(footpod)

    async def add_replay(
        self, capture: Capture, *, name: str | None = None, loop: bool = False
    ) -> ReplayDevice:
        """Add, power on and start advertising a device that plays `capture` back.

        Args:
            capture: The capture to serve.
            name: Advertise this name instead of the captured one.
            loop: Start the timeline over once it ends (a long-running daemon or demo).
        """
        from treadwell.drivers.virtual.replay import ReplayDevice  # noqa: PLC0415

        device = ReplayDevice(
            capture,
            link=self._open_link(),
            address=self._address(None),
            speedup=self.speedup,
            name=name,
            loop=loop,
        )
        return await self._started(device)

    async def _started(self, device: _P) -> _P:
        await device.start()
        self._devices.append(device)
        return device

    def _open_link(self) -> LocalLink:
        if self._link is None:
            raise RuntimeError("the virtual world is not open: use `async with VirtualWorld()`")
        return self._link

    def _address(self, wanted: str | None) -> str:
        if wanted is not None:
            return wanted.upper()
        if self._next_address > _MAX_DEVICES:
            raise RuntimeError("the virtual world is full")
        number, self._next_address = self._next_address, self._next_address + 1
        return (
            f"{_ADDRESS_PREFIX}:{number >> 16:02X}:{(number >> 8) & 0xFF:02X}:{number & 0xFF:02X}"
        )

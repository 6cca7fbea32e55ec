"""Pure. One entry point for every export format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from treadwell.daemon.export import csvfile, fit, tcx

if TYPE_CHECKING:
    from treadwell.daemon.export.run import Format, RunExport


def encode(run: RunExport, fmt: Format, *, manufacturer: int = 255, product: int = 0) -> bytes:
    """The run in format `fmt`.

    Raises:
        ExportError: The run has no samples.
    """
    if fmt == "fit":
        return fit.encode(run, manufacturer=manufacturer, product=product)
    if fmt == "tcx":
        return tcx.encode(run)
    return csvfile.encode(run)

"""Pure. One entry point for every export format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from treadwell.daemon.export import csvfile, tcx

if TYPE_CHECKING:
    from treadwell.daemon.export.run import Format, RunExport


def encode(run: RunExport, fmt: Format, *, manufacturer: int = 255, product: int = 0) -> bytes:
    """The run in format `fmt`.

    Raises:
        ExportError: The run has no samples.
    """
    if fmt == "fit":
        # fit-tool takes about 4 MB of memory: it is loaded by the first FIT export, so a
        # daemon that exports nothing (or only TCX and CSV) never carries it.
        from treadwell.daemon.export import fit  # noqa: PLC0415

        return fit.encode(run, manufacturer=manufacturer, product=product)
    if fmt == "tcx":
        return tcx.encode(run)
    return csvfile.encode(run)

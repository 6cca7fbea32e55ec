"""I/O. `treadwell export`: one run as a FIT, TCX or CSV file, from the state database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from treadwell.daemon.commands.config import (
    add_config_option,
    err,
    out,
    settings_or_exit_status,
)
from treadwell.daemon.export.run import FORMATS, SUFFIXES, ExportError, file_stem

EXIT_FAILURE = 1


def _run_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a run id (a whole number): {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"run ids start at 1, got {value}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    """Add RUN_ID or `--last`, `--format`, `-o`, `--state-dir` and `--config`."""
    parser.description = (
        "Write one run as a FIT, TCX or CSV file (FIT for Garmin Connect, Strava, "
        "intervals.icu). Run ids are those `treadwell history` lists."
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("run_id", nargs="?", type=_run_id, metavar="RUN_ID", help="the run's id")
    which.add_argument("--last", action="store_true", help="the most recent run")
    parser.add_argument("--format", choices=FORMATS, default="fit", help="file format (fit)")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="where to write ('-' for standard output; default: a dated name in the "
        "current directory)",
    )
    parser.add_argument(
        "--state-dir", type=Path, metavar="DIR", help="state directory (default: from config)"
    )
    add_config_option(parser)


def run(args: argparse.Namespace) -> int:
    """Export the chosen run and print where it went."""
    from treadwell.daemon.export.formats import encode  # noqa: PLC0415
    from treadwell.daemon.export_files import load_run_export, write_export  # noqa: PLC0415
    from treadwell.daemon.store import StateStoreError  # noqa: PLC0415

    state_dir: Path | None = args.state_dir
    manufacturer, product = 255, 0
    loaded = settings_or_exit_status(args)
    if isinstance(loaded, int):
        if state_dir is None:
            return loaded
        err("treadwell export: going on with the default FIT device ids")
    else:
        state_dir = state_dir or loaded.state_dir
        manufacturer = loaded.export.fit_manufacturer
        product = loaded.export.fit_product
    try:
        record = load_run_export(state_dir, None if args.last else args.run_id)
        data = encode(record, args.format, manufacturer=manufacturer, product=product)
    except (StateStoreError, ExportError) as exc:
        err(f"treadwell export: {exc}")
        return EXIT_FAILURE
    output: Path | None = args.output
    if output is not None and str(output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    path = output or Path(f"{file_stem(record)}{SUFFIXES[args.format]}")
    try:
        write_export(data, path)
    except OSError as exc:
        err(f"treadwell export: cannot write {path}: {exc.strerror or exc}")
        return EXIT_FAILURE
    out(str(path))
    return 0

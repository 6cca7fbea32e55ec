"""Run a command as root without the capabilities that bypass file modes.

Tests that need "a user who may not write here" cannot rely on file modes when they run as
root, and switching to another user (`nobody`) fails wherever that user cannot reach the
interpreter: a clone inside a private 0700 directory, as `mktemp -d` makes. Root without
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER is held to the file modes like any
user, and still reaches the interpreter and the sources it owns. For a non-root test run
the modes apply already and no wrapper is needed.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

_DROPPED = "-dac_override,-dac_read_search,-fowner"


@functools.cache
def held_to_file_modes() -> tuple[str, ...] | None:
    """A command prefix under which file modes are enforced, or None if there is none.

    Returns:
        `()` when not root, the `setpriv` prefix when root and it works, else None.
    """
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = (setpriv, f"--bounding-set={_DROPPED}", "--")
    with tempfile.TemporaryDirectory() as scratch:
        locked = Path(scratch) / "locked"
        locked.mkdir(mode=0o555)
        # Works only if setpriv may drop them; then writing into a 0555 directory must fail.
        ran = subprocess.run([*prefix, "true"], capture_output=True, check=False)
        wrote = subprocess.run(
            [*prefix, "sh", "-c", f"echo > '{locked}/probe'"], capture_output=True, check=False
        )
        locked.chmod(0o755)
    return prefix if ran.returncode == 0 and wrote.returncode != 0 else None


SKIP_REASON = (
    "needs to run a process that file modes apply to: as root that takes setpriv "
    "(util-linux) with permission to drop capabilities, which is missing here"
)

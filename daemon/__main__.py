"""I/O. `python -m treadwell.daemon` runs the command line."""

import sys

from treadwell.daemon.cli import main

sys.exit(main())

"""Pure. The root of every error Treadwell raises on purpose.

It lives in the rules, the innermost layer, so that the rules do not depend on the drivers:
the drivers (`treadwell.drivers.errors`) and the daemon derive their errors from it.
"""

from __future__ import annotations

__all__ = ["TreadwellError"]


class TreadwellError(Exception):
    """Root of every error Treadwell raises on purpose."""

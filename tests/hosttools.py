"""Kept for older imports: the test host now lives in the test kit."""

from gatehouse.core.testing import make_host

__all__ = ["make_host"]

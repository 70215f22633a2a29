"""A tiny third-party Gatehouse plugin used by the test suite."""

"""Test-only integrations for the config entry and flow tests (not entry-point plugins)."""

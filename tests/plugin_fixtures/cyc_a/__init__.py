"""Fixture integration cyc_a (see plugin_fixtures/__init__.py)."""

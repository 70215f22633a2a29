"""Fixture integration cyc_b (see plugin_fixtures/__init__.py)."""

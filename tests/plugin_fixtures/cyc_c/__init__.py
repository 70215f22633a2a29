"""Fixture integration cyc_c (see plugin_fixtures/__init__.py)."""

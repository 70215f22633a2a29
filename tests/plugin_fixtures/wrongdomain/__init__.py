"""Fixture integration wrongdomain (see plugin_fixtures/__init__.py)."""

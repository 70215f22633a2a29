"""Fixture integration needsbroken (see plugin_fixtures/__init__.py)."""

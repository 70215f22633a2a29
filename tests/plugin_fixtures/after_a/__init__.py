"""Fixture integration after_a (see plugin_fixtures/__init__.py)."""

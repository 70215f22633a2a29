"""Fixture integration badiot (see plugin_fixtures/__init__.py)."""

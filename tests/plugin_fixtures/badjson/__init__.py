"""Fixture integration badjson (see plugin_fixtures/__init__.py)."""

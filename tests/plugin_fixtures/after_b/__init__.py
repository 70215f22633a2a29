"""Fixture integration after_b (see plugin_fixtures/__init__.py)."""

"""Fixture integration needsghost (see plugin_fixtures/__init__.py)."""

"""Fixture integration nofields (see plugin_fixtures/__init__.py)."""

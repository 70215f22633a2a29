"""Fixture integration notadict (see plugin_fixtures/__init__.py)."""

"""Fixture integration chain_top (see plugin_fixtures/__init__.py)."""

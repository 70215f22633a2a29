"""Fixture integration chain_mid (see plugin_fixtures/__init__.py)."""

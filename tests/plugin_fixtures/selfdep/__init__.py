"""Fixture integration selfdep (see plugin_fixtures/__init__.py)."""

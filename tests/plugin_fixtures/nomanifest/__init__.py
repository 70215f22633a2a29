"""Fixture integration without manifest.json."""

"""Fixture: a second, never-used echo (the entry point wins)."""

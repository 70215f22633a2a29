"""Integrations used by tests/core/test_host.py (loaded with PluginManager.add_package)."""

"""Integration packages with broken manifests, bad hooks and dependency tangles.

Made available to a ``PluginManager`` with ``add_package(domain, "plugin_fixtures.<name>")``
by tests/core/test_plugins.py; no entry point points here.
"""

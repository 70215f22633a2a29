"""A third party's conftest: the Gatehouse test kit is all it needs."""

pytest_plugins = ["gatehouse.core.testing.plugin"]

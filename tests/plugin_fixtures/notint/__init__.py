"""Fixture: ``gatehouse_integration`` returns something that is not an Integration."""

from __future__ import annotations

from gatehouse.core import hookimpl


@hookimpl
def gatehouse_integration() -> str:
    return "notint"

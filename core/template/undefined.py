"""Undefined values: an error in a strict render, empty text with a warning otherwise.

Home Assistant renders an undefined variable as empty text and logs a warning
(``{{ trigger.to_state.state }}`` in an automation started by hand, ``{{ value_json.x }}``
on a payload without ``x``), while our own value readers want the error. One
environment serves both: the render's budget says which (``RenderBudget.strict``), so a
template is compiled and cached once whichever way it is rendered. Outside a render
(jinja folding constants) the value is strict.

In both modes an attribute or item of an undefined value, calling it or doing
arithmetic with it is an error, as in Home Assistant.
"""

from __future__ import annotations

import logging
from typing import Any, Final, NoReturn

import jinja2

from .budget import current_budget

_LOGGER = logging.getLogger(__name__)

#: Warnings already given (template, message): a tracked template re-rendered every
#: second must not log the same line every second. Cleared when full.
_WARNED: set[tuple[str, str]] = set()
_WARNED_MAX: Final = 512


class HomeUndefined(jinja2.Undefined):
    """jinja's lenient ``Undefined`` that fails like ``StrictUndefined`` in a strict
    render (module docstring)."""

    __slots__ = ()

    def _lenient(self) -> bool:
        budget = current_budget()
        if budget is None or budget.strict:
            self._fail_with_undefined_error()
        key = (budget.template, self._undefined_message)
        if key not in _WARNED:
            if len(_WARNED) >= _WARNED_MAX:
                _WARNED.clear()
            _WARNED.add(key)
            _LOGGER.warning(
                "Template variable warning: %s when rendering %r", self._undefined_message,
                budget.template,
            )
        return True

    def _fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._fail_with_undefined_error(*args, **kwargs)

    def __str__(self) -> str:
        self._lenient()
        return ""

    def __iter__(self) -> Any:
        self._lenient()
        return iter(())

    def __bool__(self) -> bool:
        self._lenient()
        return False

    def __len__(self) -> int:
        self._lenient()
        return 0

    def __eq__(self, other: object) -> bool:
        self._lenient()
        return type(self) is type(other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        self._lenient()
        return id(type(self))

    def __contains__(self, item: object) -> bool:
        self._lenient()
        return False

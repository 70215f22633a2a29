"""Templates for the engine: the one place that talks to the template helpers.

Home Assistant renders a template and reads the text back as a native value (``"5"``
→ 5, ``"[1, 2]"`` → a list) so that templated service data keeps its types; the
house's ``render_template(host, source, variables, native=True)`` does exactly that,
and ``track_template`` re-renders only when a state the template read changes. Every
other module of the engine calls ``render``/``render_value``/``track`` here, so a
change of the template API is a change of this module only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gatehouse.core import Host
from gatehouse.core.helpers import (
    TemplateError,
    check_template,
    render_template,
    track_template,
)

from .errors import ScriptError, ScriptTemplateError


def is_template(value: object) -> bool:
    """True for a string with jinja2 markup (only those are rendered)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value)


def render(
    host: Host, source: str, variables: Mapping[str, Any] | None = None, *, native: bool = True
) -> Any:
    """Render ``source`` with ``variables``; ``ScriptTemplateError`` names the template."""
    try:
        return render_template(host, source, variables, native=native)
    except TemplateError as err:
        raise ScriptTemplateError(str(err)) from err


def render_value(host: Host, value: Any, variables: Mapping[str, Any] | None) -> Any:
    """``value`` with every template string in it rendered (dicts and lists walked)."""
    kind = type(value)
    if kind is str:
        return render(host, value, variables) if is_template(value) else value
    if kind is int or kind is float or kind is bool or value is None:
        return value  # the common constants: no ABC checks on the hot path
    if isinstance(value, str):
        return render(host, value, variables) if is_template(value) else value
    if kind is dict or isinstance(value, Mapping):
        return {key: render_value(host, item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(host, item, variables) for item in value]
    return value


def truthy(value: Any) -> bool:
    """A template condition's verdict, Home Assistant's rule (``"true"``, ``"on"``,
    ``"yes"``, ``"enable"``, non-zero numbers are true); a render error is false."""
    if isinstance(value, BaseException) or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in ("true", "on", "yes", "enable", "1")
    return bool(value)


def track(
    host: Host,
    source: str,
    variables: Mapping[str, Any] | None,
    action: Callable[[Any, Any], None],
) -> Callable[[], None]:
    """Call ``action(old, new)`` whenever the result changes because a state it read
    changed (a render error arrives as the exception); returns the stop."""
    tracker: Callable[[], None] = track_template(host, source, variables, action)
    return tracker


def check_templates(host: Host, value: Any, path: str) -> None:
    """Every template string in ``value`` compiles with the host's engine (syntax only:
    nothing rendered, no state read), else ``ScriptError`` naming where in the item.
    Checked when the item is compiled, so a typo in a template is found at load time
    (and by ``gatehouse check-config``) rather than at each run, as in Home Assistant."""
    if isinstance(value, str):
        if "{" in value:  # jinja markup; plain text compiles to itself anyway
            problem = check_template(host, value)
            if problem is not None:
                raise ScriptError(f"{path}: {problem}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_templates(host, item, f"{path} -> {key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_templates(host, item, f"{path}[{index}]")

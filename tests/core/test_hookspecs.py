"""Meta-test of the hook specifications: documented, listed, and each one exercised.

The ``echo`` test plugin (``tests/plugin_pkg``, installed through its entry point)
implements every hook and records each call in ``gatehouse_testplugin.echo.CALLS``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gatehouse_testplugin import echo

from gatehouse.core import Host, HostState, hookimpl
from gatehouse.core import hookspecs as hookspecs_module
from gatehouse.core.control import collect_diagnostics
from gatehouse.core.hookspecs import HOOK_NAMES, PROJECT_NAME
from gatehouse.core.plugins import PluginManager
from gatehouse.core.template import TemplateEngine
from gatehouse.core.testing import make_host

#: Words that say how the results of several plugins are combined (or that they are not).
COMBINE_WORDS = ("ignored", "merged", "collected", "never combined")


def hookspecs() -> dict[str, Any]:
    """Every function of the hookspecs module marked with ``@hookspec``."""
    marker = f"{PROJECT_NAME}_spec"
    return {
        name: func
        for name, func in vars(hookspecs_module).items()
        if inspect.isfunction(func) and hasattr(func, marker)
    }


def test_hook_names_match_the_hookspecs() -> None:
    specs = hookspecs()
    assert specs, "no hookspec found: did the marker name change?"
    assert len(HOOK_NAMES) == len(set(HOOK_NAMES))
    assert set(HOOK_NAMES) == set(specs)
    assert all(name.startswith(f"{PROJECT_NAME}_") for name in specs)
    # and pluggy sees exactly these
    relay = PluginManager().pluggy.hook
    assert {name for name in vars(relay) if not name.startswith("_")} == set(specs)


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hookspec_is_documented(name: str) -> None:
    func = hookspecs()[name]
    doc = inspect.getdoc(func)
    assert doc, f"{name} has no docstring"
    for param in inspect.signature(func).parameters:
        assert f"``{param}``" in doc, f"{name}: argument {param!r} is not described"
    if not inspect.signature(func).parameters:
        assert "no arguments" in doc, f"{name}: say that it takes no arguments"
    assert any(word in doc for word in COMBINE_WORDS), (
        f"{name}: the docstring must say how results of several plugins combine"
    )


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hookspec_is_synchronous(name: str) -> None:
    """pluggy does not await: an async hookspec would hand out coroutines."""
    assert not inspect.iscoroutinefunction(hookspecs()[name])


def test_echo_plugin_implements_every_hook() -> None:
    pm = PluginManager()
    pm.load("echo")
    implemented = {
        name
        for name in HOOK_NAMES
        if any(i.plugin_name == "echo" for i in getattr(pm.hook, name).get_hookimpls())
    }
    assert implemented == set(HOOK_NAMES)


# -- every hook is called by the core ---------------------------------------------------


def _template_globals(host: Host) -> None:
    """The core builds its jinja2 environment with every plugin's globals."""
    engine = TemplateEngine(host)
    assert engine.render("{{ echo_shout('quiet') }}") == "QUIET"
    raw = host.plugins.hook.gatehouse_template_globals(host=host)
    assert [sorted(r) for r in raw] == [["echo_shout"]]


def _diagnostics(host: Host) -> None:
    """``gatehouse diagnostics`` collects each plugin's result under its name."""
    diagnostics = collect_diagnostics(host)
    assert diagnostics["plugins"]["echo"] == {"echo": {"loaded_entries": 1}}
    assert "echo" in diagnostics["host"]["integrations"]


def _http_routes(host: Host) -> None:
    from gatehouse.core.http.extensions import collect_routes

    assert any(route.path.startswith("/api/echo") for route in collect_routes(host))


def _ws_commands(host: Host) -> None:
    from gatehouse.core.http.ws_commands import plugin_commands

    assert "echo/last" in plugin_commands(host)


def _panels(host: Host) -> None:
    from gatehouse.core.http.extensions import collect_panels

    assert "echo" in collect_panels(host)


#: Hooks the host calls by itself while starting and stopping.
LIFECYCLE_HOOKS = {"gatehouse_integration", "gatehouse_host_started", "gatehouse_host_stopping"}
#: The core code path that calls each other hook, run while the host is up.
EXERCISERS: dict[str, Callable[[Host], None]] = {
    "gatehouse_template_globals": _template_globals,
    "gatehouse_diagnostics": _diagnostics,
    "gatehouse_http_routes": _http_routes,
    "gatehouse_ws_commands": _ws_commands,
    "gatehouse_panels": _panels,
}


def test_every_hook_has_a_known_caller() -> None:
    unknown = set(HOOK_NAMES) - LIFECYCLE_HOOKS - set(EXERCISERS)
    assert not unknown, f"add the core call path of {sorted(unknown)} to EXERCISERS"
    assert set(EXERCISERS) <= set(HOOK_NAMES)


@pytest.fixture
def echo_calls() -> Iterator[list[str]]:
    echo.CALLS.clear()
    yield echo.CALLS
    echo.CALLS.clear()


def _echo_host(config_dir: Path) -> Host:
    (config_dir / "configuration.yaml").write_text("echo:\n  prefix: '> '\n", encoding="utf-8")
    return make_host(config_dir)


@pytest.mark.anyio
async def test_lifecycle_hooks_are_called_by_a_running_host(
    config_dir: Path, echo_calls: list[str]
) -> None:
    host = _echo_host(config_dir)
    async with host.running():
        assert host.plugins.loaded()["echo"].integration.domain == "echo"
        assert echo_calls == ["gatehouse_integration", "gatehouse_host_started"]
        reply = await host.services.call("echo", "say", {"text": "hi"}, return_response=True)
        assert reply == {"text": "> hi", "user_id": None}
        assert host.states.get("sensor.echo_last_message") is not None
    assert echo_calls == [
        "gatehouse_integration", "gatehouse_host_started", "gatehouse_host_stopping"
    ]
    assert set(echo_calls) == LIFECYCLE_HOOKS


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(EXERCISERS))
async def test_hook_is_called_by_the_core(
    name: str, config_dir: Path, echo_calls: list[str]
) -> None:
    host = _echo_host(config_dir)
    async with host.running():
        assert name not in echo_calls
        EXERCISERS[name](host)
        assert name in echo_calls


class _Raising:
    """A hook-only plugin whose lifecycle hooks fail."""

    def __init__(self, fail_started: bool) -> None:
        self.fail_started = fail_started
        self.stopping = 0

    @hookimpl
    def gatehouse_host_started(self, host: Host) -> None:
        if self.fail_started:
            raise RuntimeError("started hook failed")

    @hookimpl
    def gatehouse_host_stopping(self, host: Host) -> None:
        self.stopping += 1
        raise RuntimeError("stopping hook failed")

    @hookimpl
    def gatehouse_diagnostics(self, host: Host) -> dict[str, Any]:
        raise RuntimeError("diagnostics hook failed")


def _leaves(err: BaseException) -> list[BaseException]:
    if isinstance(err, BaseExceptionGroup):
        return [leaf for sub in err.exceptions for leaf in _leaves(sub)]
    return [err]


@pytest.mark.anyio
async def test_stopping_hook_errors_are_logged_and_stop_goes_on(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host = make_host(config_dir)
    plugin = _Raising(fail_started=False)
    host.plugins.register(plugin, "raising")
    with caplog.at_level(logging.ERROR):
        async with host.running():
            found = collect_diagnostics(host)["plugins"]["raising"]
            assert "diagnostics hook failed" in found["error"]
    assert plugin.stopping == 1
    assert host.state is HostState.STOPPED
    assert "gatehouse_host_stopping" in caplog.text
    assert "stopping hook failed" in caplog.text


@pytest.mark.anyio
async def test_started_hook_errors_propagate_to_start_up(config_dir: Path) -> None:
    host = make_host(config_dir)
    plugin = _Raising(fail_started=True)
    host.plugins.register(plugin, "raising")
    entered = False
    with pytest.raises(BaseException) as caught:  # anyio may wrap it in a group
        async with host.running():
            entered = True
    assert not entered
    assert any(
        isinstance(e, RuntimeError) and "started hook failed" in str(e)
        for e in _leaves(caught.value)
    )
    assert plugin.stopping == 1  # the host still stopped what it had started

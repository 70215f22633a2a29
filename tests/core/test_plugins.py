"""The plugin manager: entry-point discovery without imports, lazy load, order, breakage."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import yaml

from gatehouse.core import ConfigEntry, ConfigEntryState, Integration, hookimpl
from gatehouse.core.exceptions import DependencyError, IntegrationNotFound, ManifestError
from gatehouse.core.plugins import ENTRY_POINT_GROUP, PluginManager
from gatehouse.core.testing import make_host

FIXTURES = "plugin_fixtures"
BROKEN = ["nofields", "badiot", "wrongdomain", "badjson", "notadict", "nomanifest"]
VALID = [
    "after_a", "after_b", "chain_mid", "chain_top", "cyc_a", "cyc_b", "cyc_c",
    "needsbroken", "needsghost", "noimpl", "notint", "selfdep", "wrongint",
]


def manager(*domains: str) -> PluginManager:
    """A fresh plugin manager that also knows the fixture packages named."""
    pm = PluginManager()
    for domain in domains:
        pm.add_package(domain, f"{FIXTURES}.{domain}")
    return pm


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (clean ``sys.modules``); return its stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# -- discovery ---------------------------------------------------------------------


def test_discovery_reads_entry_points_and_manifests_without_importing() -> None:
    out = run_python(
        """
        import json, sys
        import gatehouse.core
        from gatehouse.core.plugins import PluginManager

        watched = ("gatehouse.integrations.demo", "gatehouse_testplugin.echo")
        before = [m for m in watched if m in sys.modules]
        pm = PluginManager()
        available = pm.available()
        after = [m for m in watched if m in sys.modules]
        print(json.dumps({
            "before": before,
            "after": after,
            "domains": sorted(available),
            "modules": {d: a.module_name for d, a in available.items()},
            "echo_deps": list(available["echo"].manifest.dependencies),
            "broken": pm.broken(),
        }))
        """
    )
    seen = json.loads(out)
    assert seen["before"] == []
    assert seen["after"] == []  # manifests were read, no plugin module imported
    assert {"demo", "echo"} <= set(seen["domains"])
    assert seen["modules"]["demo"] == "gatehouse.integrations.demo"
    assert seen["modules"]["echo"] == "gatehouse_testplugin.echo"
    assert seen["echo_deps"] == ["demo"]
    assert seen["broken"] == {}


def test_load_imports_only_what_is_asked_for() -> None:
    out = run_python(
        """
        import json, sys
        from gatehouse.core.plugins import PluginManager

        pm = PluginManager()
        loaded = pm.load("echo")
        print(json.dumps({
            "echo": "gatehouse_testplugin.echo" in sys.modules,
            "demo": "gatehouse.integrations.demo" in sys.modules,
            "loaded": sorted(pm.loaded()),
            "domain": loaded.integration.domain,
        }))
        """
    )
    seen = json.loads(out)
    assert seen == {"echo": True, "demo": False, "loaded": ["echo"], "domain": "echo"}


def test_load_registers_the_plugin_once() -> None:
    pm = PluginManager()
    loaded = pm.load("echo")
    assert loaded.domain == "echo"
    assert loaded.module_name == "gatehouse_testplugin.echo"
    assert loaded.manifest.name == "Echo (test plugin)"
    assert isinstance(loaded.integration, Integration)
    assert loaded.config_schema is not None
    module = sys.modules["gatehouse_testplugin.echo"]
    assert pm.pluggy.get_plugin("echo") is module
    started = [impl.plugin_name for impl in pm.hook.gatehouse_host_started.get_hookimpls()]
    assert started == ["echo"]
    assert pm.load("echo") is loaded  # cached: not registered twice
    assert list(pm.loaded()) == ["echo"]


def test_unknown_domain_suggests_the_closest() -> None:
    pm = PluginManager()
    with pytest.raises(IntegrationNotFound) as err:
        pm.load("ecoh")
    assert err.value.domain == "ecoh"
    assert err.value.suggestion == "echo"
    assert "did you mean 'echo'?" in str(err.value)
    with pytest.raises(IntegrationNotFound) as far:
        pm.load("zzzzzz")
    assert far.value.suggestion is None
    assert pm.suggest("dem") == "demo"
    assert pm.loaded() == {}


@pytest.mark.parametrize(
    ("domain", "needle"),
    [
        ("nofields", "name: required key not provided"),
        ("badiot", "iot_class: expected IotClass"),
        ("wrongdomain", "domain is 'other' but the folder/entry point is 'wrongdomain'"),
        ("badjson", "Expecting value"),
        ("notadict", "expected a dictionary"),
        ("nomanifest", "manifest.json is missing"),
    ],
)
def test_broken_manifest_is_reported_not_raised(
    domain: str, needle: str, caplog: pytest.LogCaptureFixture
) -> None:
    pm = manager(*BROKEN, *VALID)
    with caplog.at_level(logging.ERROR, logger="gatehouse.core.plugins"):
        available = pm.available()
    broken = pm.broken()
    assert domain not in available
    assert needle in broken[domain]
    assert f"invalid manifest for {domain!r}" in broken[domain]
    # the healthy ones are all still there
    assert set(VALID) | {"demo", "echo"} <= set(available)
    assert set(broken) == set(BROKEN)
    assert any(domain in r.getMessage() for r in caplog.records)
    # loading a broken domain says "not found", with the manifest problem as the cause
    with pytest.raises(IntegrationNotFound) as err:
        pm.load(domain)
    assert isinstance(err.value.__cause__, ManifestError)


def test_missing_fields_are_all_named() -> None:
    reason = manager("nofields").broken()["nofields"]
    for field in ("name", "version", "iot_class"):
        assert f"{field}: required key not provided" in reason


def test_package_folder_must_match_the_domain() -> None:
    pm = PluginManager()
    pm.add_package("renamed", f"{FIXTURES}.after_b")
    assert "renamed" not in pm.available()
    assert "package folder 'after_b' does not match" in pm.broken()["renamed"]


def test_add_package_of_a_missing_module_is_refused() -> None:
    pm = PluginManager()
    with pytest.raises(IntegrationNotFound):
        pm.add_package("nothing", f"{FIXTURES}.does_not_exist")


def test_broken_entry_points_never_crash_discovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parent package that raises on import, a missing module, bad bytes: all reported."""
    boom = tmp_path / "gh_boom_pkg"
    (boom / "inner").mkdir(parents=True)
    (boom / "__init__.py").write_text("raise RuntimeError('parent package explodes')\n")
    (boom / "inner" / "__init__.py").write_text("")
    latin = tmp_path / "gh_latin_pkg" / "latin"
    latin.mkdir(parents=True)
    (latin.parent / "__init__.py").write_text("")
    (latin / "__init__.py").write_text("")
    (latin / "manifest.json").write_bytes(b'{"domain": "latin", "name": "Caf\xe9"}')
    monkeypatch.syspath_prepend(str(tmp_path))

    real = [
        EntryPoint(name="demo", value="gatehouse.integrations.demo", group=ENTRY_POINT_GROUP),
        EntryPoint(name="echo", value="gatehouse_testplugin.echo", group=ENTRY_POINT_GROUP),
    ]
    fake = [
        EntryPoint(name="inner", value="gh_boom_pkg.inner", group=ENTRY_POINT_GROUP),
        EntryPoint(name="missing", value="gh_no_such_pkg.missing", group=ENTRY_POINT_GROUP),
        EntryPoint(name="latin", value="gh_latin_pkg.latin:ignored", group=ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(
        "gatehouse.core.plugins._entry_points", lambda group: sorted(
            real + fake, key=lambda ep: ep.name
        )
    )
    pm = PluginManager()
    assert set(pm.available()) == {"demo", "echo"}
    broken = pm.broken()
    assert set(broken) == {"inner", "missing", "latin"}
    assert "parent package explodes" in broken["inner"]
    assert "gh_no_such_pkg" in broken["missing"]
    assert "manifest.json" in broken["latin"]


def test_entry_point_wins_over_a_second_package_for_the_same_domain(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pm = PluginManager()
    pm.add_package("echo", f"{FIXTURES}.dup.echo")
    with caplog.at_level(logging.WARNING, logger="gatehouse.core.plugins"):
        available = pm.available()
    assert available["echo"].module_name == "gatehouse_testplugin.echo"
    assert "Two packages provide echo" in caplog.text


# -- loading plugins that misbehave -----------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "needle"),
    [
        ("noimpl", "does not implement gatehouse_integration"),
        ("wrongint", "returned domain 'other'"),
        ("notint", "not an Integration"),
    ],
)
def test_bad_plugin_is_refused_and_unregistered(domain: str, needle: str) -> None:
    pm = manager(domain)
    with pytest.raises(ManifestError, match=needle):
        pm.load(domain)
    assert domain not in pm.loaded()
    # a plugin that did not load must not receive broadcast hooks
    assert pm.pluggy.get_plugin(domain) is None
    names = {impl.plugin_name for impl in pm.hook.gatehouse_host_started.get_hookimpls()}
    assert domain not in names
    with pytest.raises(ManifestError, match=needle):  # and it fails the same way again
        pm.load(domain)


def test_register_and_unregister_a_hook_only_plugin() -> None:
    calls: list[str] = []

    class Extra:
        @hookimpl
        def gatehouse_host_started(self, host: object) -> None:
            calls.append("started")

    pm = PluginManager()
    pm.register(Extra(), "extra")
    pm.hook.gatehouse_host_started(host=None)
    assert calls == ["started"]
    pm.unregister("extra")
    pm.unregister("extra")  # unknown names are ignored
    pm.hook.gatehouse_host_started(host=None)
    assert calls == ["started"]


# -- set-up order ----------------------------------------------------------------------


def test_setup_order_puts_dependencies_first() -> None:
    pm = PluginManager()
    assert pm.setup_order(["echo"]) == ["demo", "echo"]
    assert pm.setup_order(["echo", "demo"]) == ["demo", "echo"]
    assert pm.setup_order([]) == []


def test_setup_order_follows_transitive_dependencies() -> None:
    pm = manager("chain_top", "chain_mid")
    order = pm.setup_order(["chain_top"])
    assert set(order) == {"chain_top", "chain_mid", "echo", "demo"}
    for before, after in [("demo", "chain_mid"), ("demo", "echo"), ("chain_mid", "chain_top"),
                          ("echo", "chain_top")]:
        assert order.index(before) < order.index(after), order


def test_after_dependencies_only_order_what_is_wanted() -> None:
    pm = manager("after_a", "after_b")
    assert pm.setup_order(["after_a"]) == ["after_a"]  # not pulled in, "ghost" ignored
    assert pm.setup_order(["after_a", "after_b"]) == ["after_b", "after_a"]


def test_missing_dependency_is_named() -> None:
    pm = manager("needsghost")
    with pytest.raises(DependencyError, match="needsghost depends on ghost, which is not"):
        pm.setup_order(["needsghost"])


def test_broken_dependency_is_named_as_broken() -> None:
    pm = manager("needsbroken", "badiot")
    with pytest.raises(DependencyError, match="needsbroken depends on badiot, which is broken"):
        pm.setup_order(["needsbroken"])


def test_unknown_domain_in_setup_order() -> None:
    with pytest.raises(IntegrationNotFound, match="did you mean 'demo'"):
        PluginManager().setup_order(["dmeo"])


@pytest.mark.parametrize("start", ["cyc_a", "cyc_b", "cyc_c"])
def test_dependency_cycle_is_named(start: str) -> None:
    pm = manager("cyc_a", "cyc_b", "cyc_c")
    with pytest.raises(DependencyError) as err:
        pm.setup_order([start])
    assert "dependency cycle: cyc_a -> cyc_b -> cyc_c -> cyc_a" in str(err.value)


def test_self_dependency_is_a_cycle() -> None:
    with pytest.raises(DependencyError, match="dependency cycle: selfdep -> selfdep"):
        manager("selfdep").setup_order(["selfdep"])


# -- services.yaml: read once, when the plugin is loaded --------------------------------

SVC_PLUGIN = '''
"""A plugin whose one service is described by the services.yaml next to it."""

from typing import Any

from gatehouse.core import hookimpl


class SvcDoc:
    domain = "svcdoc"

    async def setup_entry(self, host: Any, entry: Any) -> None:
        async def ping(call: Any) -> None:
            return None

        entry.on_unload(host.services.register("svcdoc", "ping", ping))

    async def unload_entry(self, host: Any, entry: Any) -> None:
        return None


@hookimpl
def gatehouse_integration() -> SvcDoc:
    return SvcDoc()
'''


def svc_plugin(root: Path, top: str, services_yaml: str | None) -> Path:
    """Write package ``<top>.svcdoc`` under ``root`` (on sys.path); return its folder."""
    folder = root / top / "svcdoc"
    folder.mkdir(parents=True)
    (folder.parent / "__init__.py").write_text("")
    (folder / "__init__.py").write_text(SVC_PLUGIN)
    (folder / "manifest.json").write_text(json.dumps(
        {"domain": "svcdoc", "name": "Service docs", "version": "1.0",
         "iot_class": "calculated"}
    ))
    if services_yaml is not None:
        (folder / "services.yaml").write_text(services_yaml)
    return folder


def described(words: str) -> str:
    return f"ping:\n  description: {words}\n  fields: {{}}\n"


@pytest.mark.anyio
async def test_services_yaml_is_parsed_once_per_load_not_per_set_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reloading an entry reuses the descriptions read at load; a new load reads the file."""
    folder = svc_plugin(tmp_path, "gh_svc_once", described("First words."))
    monkeypatch.syspath_prepend(str(tmp_path))
    parsed: list[str] = []
    real_safe_load = yaml.safe_load

    def counting_safe_load(stream: Any) -> Any:
        parsed.append(str(getattr(stream, "name", "<text>")))
        return real_safe_load(stream)

    monkeypatch.setattr(yaml, "safe_load", counting_safe_load)
    services_file = str(folder / "services.yaml")

    host = make_host(tmp_path / "config", packages={"svcdoc": "gh_svc_once.svcdoc"})
    async with host.running():
        entry = await host.config_entries.add(
            ConfigEntry(domain="svcdoc", title="S", data={})
        )
        assert entry.state is ConfigEntryState.LOADED
        assert host.services.description("svcdoc", "ping")["description"] == "First words."
        (folder / "services.yaml").write_text(described("Second words."))
        for _ in range(3):
            assert await host.config_entries.reload(entry.entry_id) is True
        assert host.services.description("svcdoc", "ping")["description"] == "First words."
    assert parsed.count(services_file) == 1

    fresh = PluginManager()
    fresh.add_package("svcdoc", "gh_svc_once.svcdoc")
    assert fresh.load("svcdoc").service_descriptions["ping"]["description"] == "Second words."
    assert parsed.count(services_file) == 2


@pytest.mark.parametrize(
    ("top", "content", "needle"),
    [
        ("gh_svc_bad_yaml", "ping:\n  description: [unclosed\n", "is not valid YAML"),
        ("gh_svc_bad_list", "- ping\n- pong\n", "must map service names to descriptions"),
        ("gh_svc_bad_bytes", None, "could not be read"),
    ],
)
def test_malformed_services_yaml_fails_the_load_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, top: str, content: str | None,
    needle: str,
) -> None:
    folder = svc_plugin(tmp_path, top, content)
    if content is None:
        (folder / "services.yaml").write_bytes(b"ping:\n  description: Caf\xe9\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = PluginManager()
    pm.add_package("svcdoc", f"{top}.svcdoc")
    with pytest.raises(ManifestError) as caught:
        pm.load("svcdoc")
    assert str(folder / "services.yaml") in str(caught.value)
    assert needle in str(caught.value)
    assert "svcdoc" not in pm.loaded()
    assert pm.pluggy.get_plugin("svcdoc") is None  # no broadcast hooks for a failed load


@pytest.mark.anyio
async def test_an_entry_of_a_plugin_with_malformed_services_yaml_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entry fails its set-up with a reason that says which file to fix."""
    folder = svc_plugin(tmp_path, "gh_svc_bad_entry", "ping: {description: [\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    host = make_host(tmp_path / "config", packages={"svcdoc": "gh_svc_bad_entry.svcdoc"})
    async with host.running():
        entry = await host.config_entries.add(
            ConfigEntry(domain="svcdoc", title="S", data={})
        )
        assert entry.state is ConfigEntryState.SETUP_ERROR
        assert f"{folder / 'services.yaml'} is not valid YAML" in (entry.reason or "")
        assert not host.services.has("svcdoc", "ping")


@pytest.mark.parametrize("content", [None, "", "# nothing described yet\n"])
def test_no_or_empty_services_yaml_describes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None
) -> None:
    top = f"gh_svc_none_{len(content) if content is not None else 'x'}"
    svc_plugin(tmp_path, top, content)
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = PluginManager()
    pm.add_package("svcdoc", f"{top}.svcdoc")
    assert dict(pm.load("svcdoc").service_descriptions) == {}

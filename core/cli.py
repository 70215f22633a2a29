"""The ``gatehouse`` command line.

Exit codes scripts can rely on:

====  =====================================================================
 0    success
 1    the operation failed (a service raised, an entry did not load...)
 2    usage error (bad arguments)
 3    the configuration is invalid
 4    no host is running for that config dir (for commands that need one)
 5    not found (unknown service, entry, integration)
 6    invalid data (service data or flow input did not validate)
====  =====================================================================
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG_INVALID = 3
EXIT_NOT_RUNNING = 4
EXIT_NOT_FOUND = 5
EXIT_INVALID_DATA = 6

_NOT_FOUND = {"ServiceNotFound", "UnknownEntry", "IntegrationNotFound", "UnknownFlow"}
_INVALID = {"ServiceValidationError", "ValueError", "MultipleInvalid", "Invalid", "TypeError"}

DEFAULT_CONFIG_DIR = os.environ.get("GATEHOUSE_CONFIG", "config")

#: Commands an integration provides: name -> (module, function, help). The function
#: takes the rest of the command line (``list[str]``) and returns the exit code; the
#: module is imported only when its command runs (start-up time, optional extras).
INTEGRATION_COMMANDS: dict[str, tuple[str, str, str]] = {
    "audit": ("gatehouse.integrations.audit.verify", "cli_main",
              "audit log tools: 'gatehouse audit verify [--from FILE] [--key PUBKEY] DIR|FILE'"),
}


#: Core tools with their own parser, dispatched like ``INTEGRATION_COMMANDS``.
TOOL_COMMANDS: dict[str, tuple[str, str, str]] = {
    "keys": ("gatehouse.core.crypto.cli", "cli_main",
             "tag encryption keys: 'gatehouse keys list|rotate|export|decrypt'"),
    "backup": ("gatehouse.core.backup.cli", "cli_main",
               "backups: 'gatehouse backup create [--passphrase] | restore ARCHIVE --config DIR'"),
    "install-service": ("gatehouse.core.systemd", "cli_main",
                        "write the hardened systemd unit (Type=notify, watchdog)"),
}


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c", "--config", type=Path, default=Path(DEFAULT_CONFIG_DIR), metavar="DIR",
        help="config directory (default: $GATEHOUSE_CONFIG or ./config)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gatehouse",
        description="Gatehouse: a plugin host for edge appliances.",
        epilog="Exit codes: 0 ok, 1 failed, 2 usage, 3 config invalid, 4 host not running, "
        "5 not found, 6 invalid data.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run the host until SIGINT/SIGTERM")
    _config_arg(run)
    run.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING... (default INFO)")
    run.add_argument(
        "--default-config", choices=("appliance", "demo"),
        default=os.environ.get("GATEHOUSE_DEFAULT_CONFIG", "appliance"),
        help="what to write into a config dir without configuration.yaml: 'appliance' "
        "(http, recorder, onboarding; the default) or 'demo' (demo devices and a simulated "
        "plant; scripts/run sets it)",
    )

    check = sub.add_parser("check-config", help="validate configuration.yaml and exit")
    check.add_argument("dir", nargs="?", type=Path, default=None,
                       help="config directory (same as --config)")
    _config_arg(check)

    entries = sub.add_parser("entries", help="list, add, remove or reload config entries")
    esub = entries.add_subparsers(dest="action", metavar="ACTION")
    esub.required = True
    e_list = esub.add_parser("list", help="list entries with their state")
    _config_arg(e_list)
    e_list.add_argument("--json", action="store_true", help="print JSON")
    e_add = esub.add_parser("add", help="add an entry through the integration's config flow")
    _config_arg(e_add)
    e_add.add_argument("domain")
    e_add.add_argument("--data", default="{}", help="flow input as a JSON object")
    e_rm = esub.add_parser("remove", help="remove an entry (and its entities)")
    _config_arg(e_rm)
    e_rm.add_argument("entry_id")
    e_rl = esub.add_parser("reload", help="reload an entry of the running host")
    _config_arg(e_rl)
    e_rl.add_argument("entry_id")

    services = sub.add_parser("services", help="list or call services of the running host")
    ssub = services.add_subparsers(dest="action", metavar="ACTION")
    ssub.required = True
    s_list = ssub.add_parser("list", help="list services")
    _config_arg(s_list)
    s_call = ssub.add_parser("call", help="call DOMAIN.SERVICE")
    _config_arg(s_call)
    s_call.add_argument("service", metavar="DOMAIN.SERVICE")
    s_call.add_argument("--data", default="{}", help="service data as a JSON object")

    states = sub.add_parser("states", help="print states of the running host")
    _config_arg(states)
    states.add_argument("entity_ids", nargs="*", metavar="ENTITY_ID")
    states.add_argument("--json", action="store_true", help="print JSON")

    diag = sub.add_parser("diagnostics", help="print diagnostics of the running host (JSON)")
    _config_arg(diag)

    from .pki.cli import add_certs_parser  # the CA: works on <config>/pki/, no host needed

    add_certs_parser(sub, _config_arg)

    for name, (_module, _function, text) in {**INTEGRATION_COMMANDS, **TOOL_COMMANDS}.items():
        # add_help=False: '--help' belongs to the integration's own parser.
        command = sub.add_parser(name, help=text, add_help=False)
        command.add_argument("args", nargs=argparse.REMAINDER)

    sub.add_parser("version", help="print the version")
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    try:
        if words and words[0] in {**INTEGRATION_COMMANDS, **TOOL_COMMANDS}:
            # Handed over before argparse sees them: a REMAINDER argument refuses a first
            # word that starts with '-', so 'gatehouse audit --help' failed as unrecognised.
            return _passthrough(words[0], words[1:])
        parser = build_parser()
        args = parser.parse_args(words)
        return _dispatch(parser, args)
    except KeyboardInterrupt:
        return 130


def _passthrough(command: str, rest: list[str]) -> int:
    import importlib

    module, function, _text = {**INTEGRATION_COMMANDS, **TOOL_COMMANDS}[command]
    return int(getattr(importlib.import_module(module), function)(rest))


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "version":
        from .const import __version__

        print(f"gatehouse {__version__}")
        return EXIT_OK
    if args.command == "run":
        return _run(args.config, args.log_level, args.default_config)
    if args.command == "check-config":
        return _check_config(args.dir if args.dir is not None else args.config)
    if args.command == "states":
        return _remote(args.config, {"cmd": "states", "entity_ids": args.entity_ids},
                       _print_states if not args.json else _print_json)
    if args.command == "diagnostics":
        return _remote(args.config, {"cmd": "diagnostics"}, _print_json)
    if args.command == "services":
        if args.action == "list":
            return _remote(args.config, {"cmd": "services"}, _print_services)
        domain, dot, service = args.service.partition(".")
        if not dot or not domain or not service:
            parser.error("service must be written DOMAIN.SERVICE")
        data = _json_arg(parser, args.data)
        return _remote(args.config, {"cmd": "call_service", "domain": domain,
                                     "service": service, "data": data}, _print_json)
    if args.command == "entries":
        return _entries(parser, args)
    if args.command == "certs":
        from .pki.cli import run_certs

        return run_certs(args)
    if args.command in {**INTEGRATION_COMMANDS, **TOOL_COMMANDS}:
        return _passthrough(args.command, args.args)
    parser.error(f"unknown command {args.command}")


def _json_arg(parser: argparse.ArgumentParser, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        parser.error(f"--data is not valid JSON: {err}")
    if not isinstance(data, dict):
        parser.error("--data must be a JSON object")
    return data


# -- run / check-config ------------------------------------------------------------


def _run(config_dir: Path, log_level: str, default_config: str = "appliance") -> int:
    import anyio

    from .bootstrap import ensure_config_dir
    from .exceptions import GatehouseError
    from .host import Host
    from .logging_setup import setup_logging

    setup_logging(log_level)
    if default_config == "appliance":
        from .default_config import write_appliance_config

        write_appliance_config(config_dir)
    ensure_config_dir(config_dir)
    host = Host(config_dir)
    try:
        return int(anyio.run(host.run))
    except GatehouseError as err:
        # A known reason (a port in use, a bad certificate): one line says it all.
        logging.getLogger("gatehouse").error("The host could not run: %s", err)
        return EXIT_FAILED
    except Exception:
        logging.getLogger("gatehouse").exception("The host stopped on an unexpected error")
        return EXIT_FAILED


#: Sections whose schema is lenient on purpose (one bad item must not stop the rest at
#: boot) and whose items ``check-config`` checks one by one: domain -> (module, async
#: function ``(config_dir) -> list[str]``), imported by name (the core imports no
#: integration) and only when that section validated.
ITEM_CHECKS: dict[str, tuple[str, str]] = {
    "automation": ("gatehouse.integrations.automation.loader", "check_config"),
    "script": ("gatehouse.integrations.script.loader", "check_config"),
}


def _check_config(config_dir: Path) -> int:
    from .bootstrap import load_configuration
    from .plugins import PluginManager

    result = load_configuration(config_dir, PluginManager())
    problems = [str(issue) for issue in result.issues]
    problems.extend(p for p in _item_problems(config_dir, result.config) if p not in problems)
    if not problems:
        print(f"{config_dir / 'configuration.yaml'}: valid")
        return EXIT_OK
    print(f"{len(problems)} problem(s) in {config_dir}:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return EXIT_CONFIG_INVALID


def _item_problems(config_dir: Path, config: dict[str, Any]) -> list[str]:
    """Each automation/script as its loader checks it at set-up (``ITEM_CHECKS``)."""
    import importlib

    import anyio

    problems: list[str] = []
    for domain, (module, function) in ITEM_CHECKS.items():
        if domain in config:
            check = getattr(importlib.import_module(module), function)
            problems.extend(anyio.run(check, config_dir))
    return problems


# -- commands for a running host ------------------------------------------------------


def _remote(config_dir: Path, payload: dict[str, Any], show: Any) -> int:
    from .control import ControlError, HostNotRunning, request

    try:
        reply = request(config_dir, payload)
    except HostNotRunning as err:
        print(f"error: {err} (start it with 'gatehouse run --config {config_dir}')",
              file=sys.stderr)
        return EXIT_NOT_RUNNING
    except ControlError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    if not reply.get("ok"):
        error = reply.get("error", {})
        print(f"error: {error.get('message')}", file=sys.stderr)
        kind = error.get("type", "")
        if kind in _NOT_FOUND:
            return EXIT_NOT_FOUND
        if kind in _INVALID:
            return EXIT_INVALID_DATA
        return EXIT_FAILED
    show(reply.get("result"))
    return _result_code(reply.get("result"))


def _result_code(result: Any) -> int:
    """Exit code of a successful request whose result still reports a failure."""
    if isinstance(result, dict):
        if result.get("ok") is False or result.get("type") == "abort":
            return EXIT_FAILED
        if result.get("type") == "form" and result.get("errors"):
            return EXIT_INVALID_DATA
    return EXIT_OK


def _print_json(result: Any) -> None:
    if result is None:
        return
    print(json.dumps(result, indent=2, sort_keys=True, default=str))


def _print_states(states: list[dict[str, Any]]) -> None:
    width = max((len(s["entity_id"]) for s in states), default=10)
    for s in states:
        unit = s["attributes"].get("unit_of_measurement")
        print(f"{s['entity_id']:<{width}}  {s['state']}{' ' + unit if unit else ''}")


def _print_services(services: dict[str, list[str]]) -> None:
    for domain, names in services.items():
        for name in names:
            print(f"{domain}.{name}")


def _print_entries(entries: list[dict[str, Any]]) -> None:
    if not entries:
        print("no config entries")
        return
    for e in entries:
        reason = f" ({e['reason']})" if e.get("reason") else ""
        disabled = " [disabled]" if e.get("disabled_by") else ""
        print(f"{e['entry_id']}  {e['domain']:<12} {e['state']:<18} {e['source']:<7} "
              f"{e['title']}{disabled}{reason}")


def _entries(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from .control import ControlError, HostNotRunning, request

    config_dir: Path = args.config
    show_list = _print_json if getattr(args, "json", False) else _print_entries
    payloads: dict[str, dict[str, Any]] = {
        "list": {"cmd": "entries"},
        "reload": {"cmd": "entry_reload", "entry_id": getattr(args, "entry_id", None)},
        "remove": {"cmd": "entry_remove", "entry_id": getattr(args, "entry_id", None)},
    }
    if args.action == "add":
        payload: dict[str, Any] = {"cmd": "entry_add", "domain": args.domain,
                   "data": _json_arg(parser, args.data)}
    else:
        payload = payloads[args.action]
    show = show_list if args.action == "list" else _print_json
    try:
        request(config_dir, {"cmd": "ping"}, timeout=5)
    except HostNotRunning:
        if args.action == "reload":
            print(f"error: no Gatehouse host is running for {config_dir}; nothing to reload",
                  file=sys.stderr)
            return EXIT_NOT_RUNNING
        from .offline import offline_command

        return offline_command(config_dir, payload, show)
    except ControlError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    return _remote(config_dir, payload, show)


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig()
    sys.exit(main())

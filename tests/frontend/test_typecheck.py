"""The web UI's modules type-check: ``tsc --noEmit`` over ``frontend/`` (issue 8).

The UI is plain ES modules with no build step; its types are JSDoc comments, checked by
TypeScript with ``frontend/tsconfig.json`` (``checkJs``, ``noEmit``, ``strict``).
TypeScript is a pinned dev dependency of ``tests/js_client`` (``scripts/_setup.sh``
installs it with ``npm ci``), so no ``node_modules`` lands under ``frontend/``, which the
server serves as it is.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
TSC = ROOT / "tests" / "js_client" / "node_modules" / "typescript" / "bin" / "tsc"
#: A full check takes a few seconds; this only catches a hung process.
TSC_TIMEOUT = 180


def test_the_frontend_type_checks_without_errors() -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js is missing: run scripts/test (its set-up installs it)"
    assert TSC.is_file(), (
        "TypeScript is missing: run scripts/test, or npm ci --prefix tests/js_client"
    )
    proc = subprocess.run(
        [node, str(TSC), "--project", str(FRONTEND / "tsconfig.json"), "--pretty", "false"],
        capture_output=True, text=True, timeout=TSC_TIMEOUT, check=False, cwd=FRONTEND,
    )
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, f"tsc found problems in frontend/:\n{output}"
    assert output == "", f"tsc passed but said:\n{output}"


def test_every_frontend_module_asks_for_checking() -> None:
    # tsconfig's checkJs checks them all anyway; the marker makes an editor check a module
    # too, without the project file.
    modules = sorted(FRONTEND.rglob("*.js"))
    assert len(modules) >= 10, modules
    unmarked = [
        str(path.relative_to(FRONTEND)) for path in modules
        if path.read_text(encoding="utf-8").splitlines()[:1] != ["// @ts-check"]
    ]
    assert unmarked == [], f"modules without // @ts-check on their first line: {unmarked}"


def test_no_npm_packages_under_the_served_folder() -> None:
    # The server serves frontend/ as it is: packages there would be served too.
    assert not list(FRONTEND.rglob("node_modules")), "node_modules under frontend/"
    assert not list(FRONTEND.rglob("package.json")), "package.json under frontend/"

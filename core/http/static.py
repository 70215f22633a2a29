"""The web UI's files (``frontend/``) and the plugins' panel files.

Only the login page and its assets are public: ``login.html``, ``login.js``,
``login.css``, ``favicon.ico`` and anything under ``public/``. Every other UI file needs
a session; a browser without one is redirected to ``/login.html?next=<where it was>``
(the login page follows ``next`` only if it resolves to a path of this same origin: a
single leading ``/``, no backslash, no control character; see ``frontend/login.js``).

Paths are resolved and must stay inside their folder, so ``..`` or a symlink cannot
reach other files.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Final

from aiohttp import web

from .auth import any_user, frontend
from .errors import HttpError
from .extensions import collect_panels
from .runtime import current_user, rt

_LOGGER = logging.getLogger(__name__)

routes = web.RouteTableDef()

#: No file of ours has a control character (NUL, tab, newline...) or a backslash in
#: its name; the file system calls would choke on a NUL (a 500 before this check).
_BAD_PATH: Final = re.compile(r"[\x00-\x1f\x7f\\]")

PUBLIC_FILES: Final = frozenset({"login.html", "login.js", "login.css", "favicon.ico"})
PUBLIC_DIR: Final = "public/"
#: The source tree's UI folder; an installed package names one with ``frontend_dir``.
DEFAULT_FRONTEND: Final = Path(__file__).resolve().parents[2] / "frontend"


def is_public_file(path: str) -> bool:
    rel = path.lstrip("/")
    return rel in PUBLIC_FILES or (rel.startswith(PUBLIC_DIR) and ".." not in rel)


def check_path(request: web.Request, rel: str) -> None:
    """400 (and one log line) for a path no file can have: control characters."""
    if _BAD_PATH.search(rel):
        _LOGGER.info("Refused an invalid path from %s: %r", request.remote, rel[:100])
        raise HttpError(400, "invalid path")


def safe_join(root: Path, rel: str) -> Path | None:
    """``root/rel`` if it exists as a file inside ``root`` (a folder gives index.html)."""
    if _BAD_PATH.search(rel):
        return None
    base = root.resolve()
    target = (base / rel.lstrip("/")).resolve()
    if target != base and base not in target.parents:
        return None
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() else None


def _file_response(path: Path) -> web.FileResponse:
    # The UI is small and changes with every release: revalidate rather than cache.
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


@routes.get("/panels/{name}/{path:.*}")
@any_user
async def panel_file(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    check_path(request, request.match_info["path"])
    panel = collect_panels(rt(request).host).get(name)
    if panel is None or (panel.require_admin and not current_user(request).is_admin):
        raise HttpError(404, f"no panel {name!r}")
    target = safe_join(Path(panel.static_dir), request.match_info["path"] or panel.entry)
    if target is None:
        raise HttpError(404, "file not found")
    return _file_response(target)


@routes.get("/{path:.*}")
@frontend
async def frontend_file(request: web.Request) -> web.StreamResponse:
    """A UI file; registered last, so it only sees paths no other route took."""
    rel = request.match_info["path"]
    check_path(request, rel)
    if rel in ("api", "auth") or rel.startswith(("api/", "auth/")):
        raise HttpError(404, "not found")
    root = rt(request).frontend_dir
    if root is None:
        raise HttpError(404, "the web UI is not installed")
    target = safe_join(root, rel or "index.html")
    if target is None:
        raise web.HTTPNotFound(text="not found")
    return _file_response(target)

"""Constants shared by the web server tests (importable as ``httpkit``).

Not in ``conftest.py``: several conftest modules exist in the tree, and
``from conftest import`` picks whichever pytest imported last.
"""

from __future__ import annotations

OWNER = {"username": "owner", "password": "correct horse battery", "name": "Owner"}

#: demo (entities, a flow, services) and echo (a third-party plugin with HTTP hooks).
CONFIG = """\
gatehouse:
  control_socket: false
demo:
  name: Demo
echo:
  prefix: "> "
"""

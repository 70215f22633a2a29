"""Map the source folders ``core/`` and ``integrations/`` to ``gatehouse.core`` and
``gatehouse.integrations``.

The product layout keeps the folders short at the top of the repository; setuptools'
``package-dir`` does the renaming, and this file lists every sub-package under the new
names so that a new integration folder is picked up without editing a list by hand.
"""

from pathlib import Path

from setuptools import find_packages, setup


def _mapped(folder: str, package: str) -> list[str]:
    found = find_packages(include=[folder, f"{folder}.*"])
    return [package + name[len(folder) :] for name in found]


def _data_folders(folder: str, package: str) -> list[str]:
    """A folder of data only and its sub-folders, as packages (their files are package
    data, see pyproject.toml): listed so that setuptools does not warn that they would
    be ignored."""
    root = Path(folder)
    subs = sorted(p for p in root.rglob("*") if p.is_dir() and "__pycache__" not in p.parts)
    return [package] + [package + "." + ".".join(p.relative_to(root).parts) for p in subs]


#: Folders of data only (no Python): the web UI, the shipped blueprints, the systemd
#: unit, so that an installed wheel carries them.
DATA_PACKAGES = (
    _data_folders("frontend", "gatehouse.frontend")
    + _data_folders("blueprints", "gatehouse.blueprints")
    + _data_folders("packaging", "gatehouse.packaging")
)

setup(
    packages=_mapped("core", "gatehouse.core")
    + _mapped("integrations", "gatehouse.integrations")
    + DATA_PACKAGES
)

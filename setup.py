"""Map the source folders ``core/`` and ``integrations/`` to ``gatehouse.core`` and
``gatehouse.integrations``.

The product layout keeps the folders short at the top of the repository; setuptools'
``package-dir`` does the renaming, and this file lists every sub-package under the new
names so that a new integration folder is picked up without editing a list by hand.
"""

from setuptools import find_packages, setup


def _mapped(folder: str, package: str) -> list[str]:
    found = find_packages(include=[folder, f"{folder}.*"])
    return [package + name[len(folder) :] for name in found]


setup(
    packages=_mapped("core", "gatehouse.core")
    + _mapped("integrations", "gatehouse.integrations")
)

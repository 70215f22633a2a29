"""The configuration.yaml written into a config dir that has none.

``configuration.yaml`` here is the demo one (demo devices, a simulated plant and the
industrial integrations talking to it): what ``scripts/run`` starts a developer with.
``appliance.yaml`` is what a box starts with (``gatehouse run``'s default): the web UI
with onboarding and the recorder, nothing that imports the industrial stacks, so a cold
start stays quick and small.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Final

_LOGGER = logging.getLogger(__name__)

APPLIANCE_CONFIG: Final = Path(__file__).parent / "appliance.yaml"
CONFIG_FILE: Final = "configuration.yaml"


def write_appliance_config(config_dir: Path) -> bool:
    """Write the appliance configuration if ``config_dir`` has no configuration.yaml."""
    config_dir.mkdir(parents=True, exist_ok=True)
    target = config_dir / CONFIG_FILE
    if target.exists():
        return False
    shutil.copyfile(APPLIANCE_CONFIG, target)
    _LOGGER.info("Wrote the appliance configuration %s", target)
    return True

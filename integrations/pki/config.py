"""Schemas of the pki integration: the ``pki:`` YAML section, the flow and options forms.

One entry per host (the CA is per config directory). ``pki:`` with nothing under it
watches the CA's certificates with the defaults; ``watch`` adds PEM files from other
CAs (a broker certificate, a cloud client certificate), relative paths being taken
from the config directory.
"""

from __future__ import annotations

from typing import Final

import voluptuous as vol

from gatehouse.core.helpers import OptionsLayout

from .const import (
    CONF_NAME,
    CONF_POLL_INTERVAL,
    CONF_REFRESH_INTERVAL,
    CONF_WARN_DAYS,
    CONF_WATCH,
    DEFAULT_NAME,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_REFRESH_INTERVAL,
    DEFAULT_WARN_DAYS,
)

WATCH_ITEM = vol.All(str, vol.Length(min=1, max=4096))

ENTRY_FIELDS = {
    vol.Optional(CONF_NAME, default=DEFAULT_NAME): vol.All(str, vol.Length(min=1, max=64)),
    vol.Optional(CONF_WATCH, default=list): vol.All(
        [WATCH_ITEM], vol.Length(max=256), vol.Unique("watch names the same file twice")),
    vol.Optional(CONF_WARN_DAYS, default=DEFAULT_WARN_DAYS): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=3650)),
    vol.Optional(CONF_REFRESH_INTERVAL, default=DEFAULT_REFRESH_INTERVAL): vol.All(
        vol.Coerce(float), vol.Range(min=0.01, max=7 * 86400)),
    vol.Optional(CONF_POLL_INTERVAL, default=DEFAULT_POLL_INTERVAL): vol.All(
        vol.Coerce(float), vol.Range(min=0.01, max=86400)),
}

ENTRY_SCHEMA = vol.Schema(ENTRY_FIELDS)
#: ``pki:`` in configuration.yaml (an empty section is ``{}``).
CONFIG_SCHEMA = vol.All(lambda v: {} if v is None else v, ENTRY_SCHEMA)
USER_STEP_SCHEMA = vol.Schema({vol.Optional(CONF_NAME, default=DEFAULT_NAME): str})
OPTIONS_SCHEMA = vol.Schema({
    vol.Required(CONF_WARN_DAYS, default=DEFAULT_WARN_DAYS): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=3650)),
})

#: The options flow changes settings only; ``watch`` stays in YAML (file paths).
OPTIONS_LAYOUT: Final = OptionsLayout(settings=(CONF_WARN_DAYS,))

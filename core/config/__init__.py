"""Configuration from ``configuration.yaml``: located YAML loading and validation.

The public surface is small on purpose: :func:`check_config` for the host (never raises
for a configuration problem, returns every issue at once), :func:`validate_section` for
validating one section against a voluptuous schema, :func:`load_config_file` for a
single YAML file, and the located value types the loader returns. Positions serve the
issues only: what validation returns is plain data (``dict``, ``list``, ``str``...),
since the host keeps it for as long as it runs.
"""

from .errors import ConfigInvalid, ConfigIssue, format_path
from .nodes import (
    Input,
    Location,
    NodeDict,
    NodeList,
    NodeStr,
    SecretStr,
    collect_secret_values,
    location_of,
    node_location,
)
from .section import LoadedSection, describe_location, load_section
from .validate import CORE_DOMAIN, ConfigResult, check_config, validate_section
from .yaml_loader import CONFIG_FILE, SECRETS_FILE, load_config_file

__all__ = [
    "CONFIG_FILE",
    "CORE_DOMAIN",
    "SECRETS_FILE",
    "ConfigInvalid",
    "ConfigIssue",
    "ConfigResult",
    "Input",
    "LoadedSection",
    "Location",
    "NodeDict",
    "NodeList",
    "NodeStr",
    "SecretStr",
    "check_config",
    "collect_secret_values",
    "describe_location",
    "format_path",
    "load_config_file",
    "load_section",
    "location_of",
    "node_location",
    "validate_section",
]

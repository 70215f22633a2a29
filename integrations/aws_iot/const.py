"""Constants of the AWS IoT integration: configuration keys, defaults, AWS's limits."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "aws_iot"

"""Template buttons: ``button.press`` runs the ``press`` actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.core import ButtonEntity, Host

from .const import CONF_PRESS
from .entity import TemplateEntity


class TemplateButton(TemplateEntity, ButtonEntity):
    """A button whose press is a list of service calls."""

    def __init__(self, host: Host, config: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(host, config, **kwargs)

    async def press(self) -> None:
        await self.run_actions(CONF_PRESS, {})

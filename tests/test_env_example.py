"""`.env.example` lists every setting each service reads."""

from __future__ import annotations

import re

from pydantic import BaseSettings

from actions.settings import ActionSettings
from exchange.core.config import Settings as ExchangeSettings
from scripts import stack
from tests.support.processes import ROOT
from voice.settings import VoiceSettings

LISTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]+)=", re.MULTILINE)


def env_names(settings: type[BaseSettings]) -> set[str]:
    names = set()
    for field in settings.__fields__.values():
        names.update(name.upper() for name in field.field_info.extra["env_names"])
    return names


def test_every_setting_is_in_env_example():
    listed = set(LISTED.findall((ROOT / ".env.example").read_text(encoding="utf-8")))
    wanted = set(stack.DEFAULT_PORTS) | {"RASA_TOKEN", "TRACKER_DIALECT", "TRACKER_URL", "VAR_DIR"}
    for settings in (ExchangeSettings, ActionSettings, VoiceSettings):
        wanted |= env_names(settings)
    assert sorted(wanted - listed) == []

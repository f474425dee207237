"""`.env.example` lists every setting each service reads."""

from __future__ import annotations

import re

from pydantic import BaseSettings

from actions.settings import ActionSettings
from exchange.core.config import Settings as ExchangeSettings
from rasa_addons.channels import ChannelSettings
from rasa_addons.tracker_store import TrackerStoreSettings
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
    wanted |= set(stack.PROD_DEFAULTS) | set(stack.REPLICA_PORTS)
    for settings in (ExchangeSettings, ActionSettings, VoiceSettings, TrackerStoreSettings,
                     ChannelSettings):  # fmt: skip
        wanted |= env_names(settings)
    assert sorted(wanted - listed) == []


def test_every_service_reads_env():
    """One switch for the whole stack: ENV (the exchange also reads its old name)."""
    for settings in (ExchangeSettings, ActionSettings, VoiceSettings, TrackerStoreSettings):
        assert "ENV" in env_names(settings), settings.__name__
    names = ExchangeSettings.__fields__["environment"].field_info.extra["env_names"]
    assert list(names) == ["env", "exchange_environment"]  # ENV wins when both are set

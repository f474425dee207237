"""The reference bot's one trivial custom action (bench/stock.py), plain rasa-sdk."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher


class ActionOfficeHours(Action):
    def name(self) -> str:
        return "action_office_hours"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text="工作日上午九点到下午五点开门。")
        return []

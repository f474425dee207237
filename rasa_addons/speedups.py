"""Make Rasa's check of each action-server reply cheap.

Rasa 3.6 validates each action-server reply with ``jsonschema.validate(result,
spec)``. That call first checks the *schema itself* against its meta-schema,
every time; bench/ measured it as about 63% of the Rasa process's busy time
under load (128 ms per call on a loaded 2-core machine, 7 ms with a validator
built once). Then each event in the reply is tried against all 23 event
schemas of a ``oneOf`` (about 2 ms for a reply of seven events here). Every
branch of that ``oneOf`` pins ``event`` to its own constant, so exactly one
branch can match: checking an event against the branch its ``event`` names
gives the same verdict at a twentieth of the cost.

A reply that the quick check does not accept is validated again with the full
schema, so a bad reply fails with exactly Rasa's ``ValidationError`` and message.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


def _validator(schema: dict[str, Any]) -> Any:
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@functools.cache
def _reply_validator() -> Any:
    return _validator(RemoteAction.action_response_format_spec())


@functools.cache
def _quick_check() -> Callable[[Any], bool] | None:
    """True only for replies the full schema accepts; None if the schema is not
    shaped as expected (another Rasa version): then every reply gets the full check."""
    spec = RemoteAction.action_response_format_spec()
    try:
        items = spec["properties"]["events"]["items"]
        branches = items["oneOf"]
        names = [branch["properties"]["event"]["const"] for branch in branches]
    except (KeyError, TypeError):
        return None
    if len(set(names)) != len(names):
        return None
    item = {key: value for key, value in items.items() if key != "oneOf"}
    outer = copy.deepcopy(spec)
    outer["properties"]["events"]["items"] = item
    reply_shape = _validator(outer)
    by_name = {
        name: _validator({"allOf": [item, branch]})
        for name, branch in zip(names, branches, strict=True)
    }

    def check(result: Any) -> bool:
        if not reply_shape.is_valid(result):
            return False
        for event in result.get("events") or ():
            branch = by_name.get(event["event"])
            if branch is None or not branch.is_valid(event):
                return False
        return True

    return check


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    quick = _quick_check()
    if quick is not None and quick(result):
        return True
    try:
        _reply_validator().validate(result)
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise
    return True


def install() -> None:
    """Replace the per-call schema check (idempotent). Called when Rasa creates the
    REST channel (rasa_addons/channels.py), i.e. before the first message."""
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]

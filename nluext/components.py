"""Rasa 3.6 NLU components for numbers and places (used in bot/config.yml).

* ``DigitEntityExtractor``: ``id_number``, ``phone_last4`` and
  ``application_number`` from spoken or typed digits, with normalised values,
  through ``nluext.digits`` (the same code the validation actions use).
* ``PlaceEntityExtractor``: ``province`` and ``city`` with canonical names,
  from the lookup tables and synonyms in data/nlu (see ``nluext.places``).
* ``TermEntityExtractor``: ``service`` and ``id_card_reason`` from lookup
  words (longest first) with synonym values, only for the intents where the
  entity adds information (a renew_id_card message need not say its service).
* ``RuleEntityFilter``: keeps DIET from learning the entities the rule
  extractors own. Those are annotated in the training data (so trainers and
  `rasa test` see them), but DIET would only learn a worse copy of the rules
  and then report duplicates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_CONFIDENCE,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    INTENT,
    INTENT_NAME_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nluext import digits
from nluext.places import CITY, PROVINCE, PlaceMatcher

logger = logging.getLogger(__name__)


def _entity(entity: str, value: str, start: int, end: int) -> dict[str, Any]:
    return {
        ENTITY_ATTRIBUTE_TYPE: entity,
        ENTITY_ATTRIBUTE_START: start,
        ENTITY_ATTRIBUTE_END: end,
        ENTITY_ATTRIBUTE_VALUE: value,
        ENTITY_ATTRIBUTE_CONFIDENCE: 1.0,
    }


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class DigitEntityExtractor(GraphComponent, EntityExtractorMixin):
    """ID numbers, phone last digits and application numbers, said or typed."""

    _FINDERS: ClassVar[dict[str, Callable[[str], digits.NumberSpan | None]]] = {
        "id_number": digits.find_id_number,
        "phone_last4": digits.find_phone_last4,
        "application_number": digits.find_application_number,
    }

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"entities": list(DigitEntityExtractor._FINDERS)}

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = {**self.get_default_config(), **config}
        unknown = set(self._config["entities"]) - set(self._FINDERS)
        if unknown:
            raise ValueError(f"DigitEntityExtractor cannot extract {sorted(unknown)}")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> DigitEntityExtractor:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            found = []
            for name in self._config["entities"]:
                span = self._FINDERS[name](text)
                if span is not None:
                    found.append(_entity(name, span.value, span.start, span.end))
            if found:
                found = self.add_extractor_name(found)
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages


class _TrainedLookupExtractor(GraphComponent, EntityExtractorMixin):
    """An entity extractor whose training result is one JSON file in the model.

    Subclasses set ``FILE_NAME``, build their data in ``train`` (ending with
    ``return self._store(data)``) and turn stored data back into matchers in
    ``_restore``; creating, saving and loading are the same for all of them.
    """

    FILE_NAME: ClassVar[str]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        stored: Any = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._restore(stored)

    def _restore(self, stored: Any) -> None:
        raise NotImplementedError

    def _store(self, data: Any) -> Resource:
        with self._model_storage.write_to(self._resource) as directory:
            (directory / self.FILE_NAME).write_text(
                json.dumps(data, ensure_ascii=False), encoding="utf-8"
            )
        return self._resource

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _TrainedLookupExtractor:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> _TrainedLookupExtractor:
        with model_storage.read_from(resource) as directory:
            stored = json.loads((directory / cls.FILE_NAME).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, stored)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class PlaceEntityExtractor(_TrainedLookupExtractor):
    """Provinces and cities by longest match over the lookup tables, canonical values."""

    FILE_NAME = "places.json"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"province_lookup": PROVINCE, "city_lookup": CITY}

    def _restore(self, stored: dict[str, list[str]] | None) -> None:
        # name -> (province, city); JSON keeps the pairs as lists
        names = {name: (entry[0], entry[1]) for name, entry in (stored or {}).items()}
        self._matcher = PlaceMatcher(names)

    def train(self, training_data: TrainingData) -> Resource:
        tables = {table["name"]: table["elements"] for table in training_data.lookup_tables}
        provinces = tables.get(self._config["province_lookup"], [])
        cities = tables.get(self._config["city_lookup"], [])
        if not provinces or not cities:
            raise ValueError(
                "PlaceEntityExtractor needs the lookup tables "
                f"'{self._config['province_lookup']}' and '{self._config['city_lookup']}' "
                "in the NLU data (see data/nlu/lookups/places.yml)."
            )
        self._matcher = PlaceMatcher.from_tables(provinces, cities, training_data.entity_synonyms)
        return self._store(self._matcher.names)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            tokens = message.get(TOKENS_NAMES[TEXT]) or []
            spans = [(t.start, t.end) for t in tokens] or None
            places = self._matcher.find(text, spans)
            if places:
                found = [_entity(p.entity, p.value, p.start, p.end) for p in places]
                found = self.add_extractor_name(found)
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class TermEntityExtractor(_TrainedLookupExtractor):
    """Lookup-table words -> entities with synonym values, for selected intents.

    Config ``entities`` maps an entity (= lookup table name) to the intents it
    is reported for; it must come after the intent classifier in the pipeline.
    """

    FILE_NAME = "terms.json"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"entities": {}}

    def _restore(self, stored: dict[str, dict[str, str]] | None) -> None:
        # entity -> {word: canonical value}
        self._terms = stored or {}

    def train(self, training_data: TrainingData) -> Resource:
        tables = {table["name"]: table["elements"] for table in training_data.lookup_tables}
        synonyms = training_data.entity_synonyms
        missing = [name for name in self._config["entities"] if not tables.get(name)]
        if missing:
            raise ValueError(f"TermEntityExtractor needs lookup tables for {missing} in data/nlu.")
        self._terms = {
            name: {word: synonyms.get(word, word) for word in tables[name]}
            for name in self._config["entities"]
        }
        return self._store(self._terms)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            text = message.get(TEXT) or ""
            found = []
            for name, intents in self._config["entities"].items():
                if intents and intent not in intents:
                    continue
                found += [
                    _entity(name, value, start, end)
                    for start, end, value in _longest_matches(text, self._terms.get(name, {}))
                ]
            if found:
                found = self.add_extractor_name(found)
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages


def _longest_matches(text: str, words: dict[str, str]) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, value) of ``words`` in ``text``, longest first."""
    longest = max((len(w) for w in words), default=0)
    found = []
    i = 0
    while i < len(text):
        for length in range(min(longest, len(text) - i), 0, -1):
            value = words.get(text[i : i + length])
            if value is not None:
                found.append((i, i + length, value))
                i += length
                break
        else:
            i += 1
    return found


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class RuleEntityFilter(GraphComponent):
    """Hides the annotations of rule-extracted entities from the models after it.

    Place it right before DIETClassifier. In training it hands on a copy of the
    training data without the annotations of ``entities``; messages at
    prediction time pass through unchanged.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"entities": []}

    def __init__(self, config: dict[str, Any]) -> None:
        self._skipped = set({**self.get_default_config(), **config}["entities"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RuleEntityFilter:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return _without_entities(training_data, self._skipped)

    def process(self, messages: list[Message]) -> list[Message]:
        return messages


def _without_entities(training_data: TrainingData, skipped: set[str]) -> TrainingData:
    """A copy of the training data without annotations of the ``skipped`` entity types."""
    if not skipped:
        return training_data
    examples = []
    for message in training_data.training_examples:
        entities = message.get(ENTITIES)
        if not entities or not any(e.get(ENTITY_ATTRIBUTE_TYPE) in skipped for e in entities):
            examples.append(message)
            continue
        data = dict(message.data)
        data[ENTITIES] = [e for e in entities if e.get(ENTITY_ATTRIBUTE_TYPE) not in skipped]
        examples.append(
            Message(
                data=data,
                output_properties=message.output_properties,
                time=message.time,
                features=message.features,
            )
        )
    return TrainingData(
        training_examples=examples,
        entity_synonyms=training_data.entity_synonyms,
        regex_features=training_data.regex_features,
        lookup_tables=training_data.lookup_tables,
        responses=training_data.responses,
    )

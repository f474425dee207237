"""The custom Rasa components (nluext.components) without training a whole model."""

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nluext.components import (
    DigitEntityExtractor,
    PlaceEntityExtractor,
    RuleEntityFilter,
    TermEntityExtractor,
)


@pytest.fixture
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


@pytest.fixture
def context():
    return ExecutionContext(GraphSchema({}), "test")


def entities(message):
    return [(e["entity"], e["value"], e["start"], e["end"]) for e in message.get("entities", [])]


def test_digit_extractor_emits_normalised_numbers(storage, context):
    extractor = DigitEntityExtractor.create({}, storage, Resource("digits"), context)
    text = "我身份证幺幺零幺零五 一九四九零三幺二 洞洞两幺 手机尾号幺三五七"
    [message] = extractor.process([Message(data={"text": text})])
    found = entities(message)
    spoken_id = "幺幺零幺零五 一九四九零三幺二 洞洞两幺"
    start = text.index(spoken_id)
    assert ("id_number", "110105194903120021", start, start + len(spoken_id)) in found
    assert ("phone_last4", "1357", text.index("幺三五七"), len(text)) in found
    assert all(e["extractor"] == "DigitEntityExtractor" for e in message.get("entities"))


def test_digit_extractor_leaves_messages_without_numbers_alone(storage, context):
    extractor = DigitEntityExtractor.create({}, storage, Resource("digits"), context)
    [message] = extractor.process([Message(data={"text": "我要办社保卡"})])
    assert message.get("entities") is None


def _training_data():
    return TrainingData(
        training_examples=[],
        entity_synonyms={"四川": "四川省", "川": "四川省", "广州": "广州市", "蓉城": "成都市"},
        lookup_tables=[
            {"name": "province", "elements": ["四川省", "四川"]},
            {"name": "city", "elements": ["广州市", "广州"]},
            {"name": "service", "elements": ["社保卡", "身份证"]},
        ],
    )


def test_place_extractor_trains_persists_and_loads(storage, context):
    resource = Resource("places")
    trained = PlaceEntityExtractor.create({}, storage, resource, context)
    trained.train(_training_data())
    loaded = PlaceEntityExtractor.load({}, storage, resource, context)
    text = "俺想把老保从川转到广州去 以后住蓉城"
    [message] = loaded.process([Message(data={"text": text})])
    assert [(e, v) for e, v, _, _ in entities(message)] == [
        ("province", "四川省"),
        ("city", "广州市"),
        ("city", "成都市"),
    ]


def test_place_extractor_needs_its_lookup_tables(storage, context):
    extractor = PlaceEntityExtractor.create({}, storage, Resource("places"), context)
    with pytest.raises(ValueError, match="lookup tables"):
        extractor.train(TrainingData())


def test_term_extractor_reports_only_for_its_intents(storage, context):
    resource = Resource("terms")
    config = {"entities": {"service": ["check_application_status"]}}
    data = _training_data()
    data.entity_synonyms.update({"社保卡": "social_security_card"})
    TermEntityExtractor.create(config, storage, resource, context).train(data)
    extractor = TermEntityExtractor.load(config, storage, resource, context)
    status = Message(
        data={"text": "我的社保卡办好了没", "intent": {"name": "check_application_status"}}
    )
    card = Message(data={"text": "社保卡丢了", "intent": {"name": "social_security_card"}})
    extractor.process([status, card])
    assert entities(status) == [("service", "social_security_card", 2, 5)]
    assert card.get("entities") is None


def test_rule_entity_filter_hides_rule_entities_from_training_only():
    message = Message(
        data={
            "text": "我叫张秀英 住在四川",
            "intent": "inform",
            "entities": [
                {"entity": "person_name", "value": "张秀英", "start": 2, "end": 5},
                {"entity": "province", "value": "四川", "start": 8, "end": 10},
            ],
        }
    )
    data = TrainingData(training_examples=[message])
    filtered = RuleEntityFilter({"entities": ["province"]}).process_training_data(data)
    assert [e["entity"] for e in filtered.training_examples[0].get("entities")] == ["person_name"]
    # The original is untouched (other components still see every annotation).
    assert len(message.get("entities")) == 2
    assert RuleEntityFilter({"entities": ["province"]}).process([message]) == [message]

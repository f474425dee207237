"""The NLU training data: structure, sizes, and entity annotations DIET can learn."""

import logging
from collections import Counter
from pathlib import Path

import jieba
import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data

from nluext import lookups

ROOT = Path(__file__).resolve().parents[2]
NLU = ROOT / "data" / "nlu"
SERVICES = [
    "renew_id_card", "transfer_social_insurance", "pension_certification",
    "medical_insurance_filing", "social_security_card", "query_pension_payment",
    "check_application_status", "find_service_hall", "apply_senior_card", "request_human",
]  # fmt: skip
CONVERSATION = [
    "greet", "goodbye", "thank", "affirm", "deny", "cancel", "repeat", "slow_down",
    "ask_capabilities", "bot_challenge", "out_of_scope", "inform",
]  # fmt: skip
# Entities DIET learns; the others belong to the rule extractors (bot/config.yml).
DIET_ENTITIES = {"person_name", "date"}


def _hand_written():
    return _load(sorted(NLU.glob("*.yml")))


def _load(paths):
    from rasa.shared.nlu.training_data.training_data import TrainingData

    data = TrainingData()
    for path in paths:
        data = data.merge(load_data(str(path)))
    return data


def test_one_file_per_service_holding_only_that_service():
    for intent in SERVICES:
        document = yaml.safe_load((NLU / f"{intent}.yml").read_text(encoding="utf-8"))
        assert {block["intent"] for block in document["nlu"]} == {intent}


@pytest.mark.parametrize("intent", SERVICES)
def test_at_least_40_hand_written_examples_per_service(intent):
    counts = Counter(m.get("intent") for m in _hand_written().intent_examples)
    assert counts[intent] >= 40


@pytest.mark.parametrize("intent", CONVERSATION)
def test_at_least_20_hand_written_examples_per_conversation_intent(intent):
    counts = Counter(m.get("intent") for m in _hand_written().intent_examples)
    assert counts[intent] >= 20


def test_domain_lists_exactly_the_fixed_intents_and_entities():
    domain = yaml.safe_load((ROOT / "bot" / "domain" / "nlu.yml").read_text(encoding="utf-8"))
    assert domain["intents"] == SERVICES + CONVERSATION
    assert set(domain["entities"]) == {
        "province", "city", "id_number", "application_number", "person_name",
        "phone_last4", "id_card_reason", "service", "date",
    }  # fmt: skip


def test_generated_lookup_tables_are_up_to_date():
    for path, text in lookups.outputs().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"run python -m nluext.lookups ({path.name})"
        )


def test_every_prefecture_and_province_is_in_the_lookup_tables():
    from common import regions

    document = yaml.safe_load(lookups.LOOKUP_FILE.read_text(encoding="utf-8"))
    tables = {b["lookup"]: b["examples"] for b in document["nlu"] if "lookup" in b}
    provinces = {line[2:] for line in tables["province"].splitlines()}
    cities = {line[2:] for line in tables["city"].splitlines()}
    assert set(regions.PROVINCES) <= provinces
    for province, names in regions.cities().items():
        for city in names:
            assert city in cities or city in provinces, city
    assert "老家" not in provinces | cities


def test_cities_file_has_all_prefecture_level_divisions():
    from common import regions

    table = regions.cities()
    assert set(table) == set(regions.PROVINCES)
    for city in regions.MUNICIPALITIES:
        assert table[city] == [city]
    prefectures = [
        c for p, names in table.items() if p not in regions.MUNICIPALITIES
        and p not in ("台湾省", "香港特别行政区", "澳门特别行政区") for c in names
    ]  # fmt: skip
    assert len(prefectures) == len(set(prefectures)) == 333
    assert regions.canonical_city("凉山") == "凉山彝族自治州"
    assert regions.province_of_city("广州市") == "广东省"


@pytest.fixture(scope="module")
def tokenize():
    jieba.setLogLevel(logging.ERROR)
    tokenizer = jieba.Tokenizer()
    for path in sorted((ROOT / "bot" / "jieba").glob("*")):
        tokenizer.load_userdict(str(path))
    return lambda text: [(start, end) for _, start, end in tokenizer.tokenize(text)]


def test_entities_diet_learns_align_with_jieba_tokens(tokenize):
    data = load_data(str(NLU))
    misaligned = []
    for message in data.training_examples:
        spans = tokenize(message.get("text"))
        starts, ends = {s for s, _ in spans}, {e for _, e in spans}
        for entity in message.get("entities") or []:
            if entity["entity"] in DIET_ENTITIES and (
                entity["start"] not in starts or entity["end"] not in ends
            ):
                misaligned.append((message.get("text"), entity["value"]))
    assert misaligned == []


def test_no_example_is_labelled_with_two_intents():
    data = load_data(str(NLU))
    seen = {}
    clashes = []
    for message in data.intent_examples:
        text, intent = message.get("text"), message.get("intent")
        if seen.setdefault(text, intent) != intent:
            clashes.append(text)
    assert clashes == []

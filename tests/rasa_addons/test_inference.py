"""The quicker feature joins and model calls give exactly Rasa's own results."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import tensorflow as tf
import yaml
from rasa.core.agent import Agent
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.features import Features
from rasa.utils.tensorflow.models import RasaModel

from rasa_addons import inference, policies
from scripts import nlu_report
from tests.support.processes import ROOT


def _coo(rows: int, cols: int, density: float, dtype: type, seed: int) -> scipy.sparse.coo_matrix:
    return scipy.sparse.random(rows, cols, density, format="coo", dtype=dtype, random_state=seed)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (_coo(7, 300, 0.05, np.float32, 1), _coo(7, 50, 0.2, np.float32, 2)),
        (_coo(1, 300, 0.05, np.float64, 3), _coo(1, 9, 0.5, np.float32, 4)),
        (_coo(4, 10, 0.0, np.float32, 5), _coo(4, 20, 0.3, np.float32, 6)),  # no entries
        (_coo(3, 8, 0.5, np.float32, 7).tocsr(), _coo(3, 4, 0.5, np.float32, 8)),  # scipy's path
    ],
)
def test_joins_like_scipy(left: scipy.sparse.spmatrix, right: scipy.sparse.spmatrix) -> None:
    ours, scipys = inference.hstack(left, right), scipy.sparse.hstack([left, right])
    assert type(ours) is type(scipys)
    assert ours.shape == scipys.shape and ours.dtype == scipys.dtype
    assert np.array_equal(ours.toarray(), scipys.toarray())


def test_features_of_other_lengths_are_refused_as_rasa_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Features, "_combine_sparse_features", inference._combine_sparse_features)
    one = Features(_coo(2, 5, 0.5, np.float32, 1), "sequence", "text", "a")
    other = Features(_coo(3, 5, 0.5, np.float32, 2), "sequence", "text", "b")
    with pytest.raises(ValueError, match="sequence dimensions do not match: 2 != 3"):
        one.combine_with_features(other)


SPECS = [tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None], tf.int64)]


@tf.function(input_signature=[SPECS])
def _model(batch: list[tf.Tensor]) -> dict[str, tf.Tensor]:
    return {"total": tf.reduce_sum(batch[0]) + tf.cast(tf.reduce_sum(batch[1]), tf.float32)}


def _outcome(call, *args) -> object:
    try:
        return {key: float(value) for key, value in call(*args).items()}
    except (TypeError, ValueError) as error:
        return type(error)


@pytest.mark.parametrize(
    "batch",
    [
        (np.ones((3, 2), np.float32), np.arange(3, dtype=np.int64)),
        (np.ones((0, 2), np.float32), np.arange(0, dtype=np.int64)),
        (np.ones((3, 2), np.float64), np.arange(3, dtype=np.int64)),  # other dtype: TF's path
        (np.ones((3, 5), np.float32), np.arange(3, dtype=np.int64)),  # other shape: TF's path
        (np.ones((3, 2), np.float32),),  # missing input: TF's path
    ],
)
def test_the_direct_call_answers_as_the_function_does(batch: tuple) -> None:
    direct = inference._DirectCall(_model)
    assert _outcome(direct, _model, batch) == _outcome(_model, batch)


TEXTS_PER_INTENT = 4


def _test_texts() -> list[str]:
    """Some held-out NLU examples of every intent, plus odd input."""
    texts = ["", "嗯", "1234", "！！！", "a" * 300, "张桂芳 110101195001011234 三亚"]
    for path in sorted((ROOT / "tests" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            examples = [line[2:] for line in str(item.get("examples", "")).splitlines()]
            texts += [text for text in examples if text][:TEXTS_PER_INTENT]
    return texts


def story_trackers(agent: Agent) -> list[DialogueStateTracker]:
    """The tracker before each action of every training story and conversation test."""
    from rasa.core.test import _create_data_generator

    stories = [
        *_create_data_generator(str(ROOT / "data"), agent).generate_story_trackers(),
        *_create_data_generator(
            str(ROOT / "tests" / "stories"), agent, use_conversation_test_files=True
        ).generate_story_trackers(),
    ]
    trackers = []
    for story in stories:
        events = list(story.events)
        trackers += [
            DialogueStateTracker.from_events("s", events[:index], agent.domain.slots)
            for index, event in enumerate(events)
            if isinstance(event, ActionExecuted) and index
        ]
    return trackers


@pytest.mark.slow
def test_same_parses_and_ted_predictions(
    trained_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DIET on held-out messages and TED on every story prefix, with and without."""
    agent = nlu_report.load_agent(trained_model)
    texts = _test_texts()
    assert len(texts) > 100
    ted = next(
        node._component
        for node in agent.processor.graph_runner._instantiated_nodes.values()
        if isinstance(node._component, policies.RuleAwareTEDPolicy)
    )
    trackers = story_trackers(agent)
    assert len(trackers) > 100

    def run() -> tuple[list, list]:
        parses = [asyncio.run(agent.parse_message(text)) for text in texts]
        predictions = [ted.predict_action_probabilities(t, agent.domain) for t in trackers]
        return parses, predictions

    # An earlier test in this process may have installed ours for good (the REST
    # channel does): the reference run must use Rasa's own steps.
    monkeypatch.setattr(Features, "_combine_sparse_features", inference._original_combine)
    monkeypatch.setattr(RasaModel, "_rasa_predict", inference._original_predict)
    rasas = run()
    inference.install()
    ours = run()
    assert ours[0] == rasas[0]
    assert ours[1] == rasas[1]
    assert len(ours[1]) > 100
    assert len(inference._direct_calls) == 2  # DIET's and TED's compiled functions

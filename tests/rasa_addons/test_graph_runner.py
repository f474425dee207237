"""The sequential graph runner runs the same nodes in Dask's order, with Dask's results."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rasa.core import processor
from rasa.core.agent import Agent
from rasa.engine.exceptions import GraphComponentException, GraphRunError
from rasa.engine.graph import (
    ExecutionContext,
    GraphComponent,
    GraphNodeHook,
    GraphSchema,
    SchemaNode,
)
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain

from rasa_addons import graph_runner, states
from rasa_addons.graph_runner import SequentialGraphRunner
from scripts import nlu_report
from tests.rasa_addons.test_inference import _test_texts, story_trackers


class Join(GraphComponent):
    """Joins its inputs' words with its own: the output shows what ran on what."""

    def __init__(self, word: str) -> None:
        self.word = word

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: Any,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> Join:
        return cls(config["word"])

    def run(self, **inputs: Any) -> str:
        if "boom" in inputs.values():
            raise ValueError("boom")
        return "+".join([*(str(inputs[name]) for name in sorted(inputs)), self.word])


def node(word: str, **needs: str) -> SchemaNode:
    return SchemaNode(needs, Join, "create", "run", {"word": word})


# A diamond with a side branch and a node no target needs.
SCHEMA = GraphSchema(
    {
        "a": node("a", x="__message__"),
        "b": node("b", x="a"),
        "c": node("c", x="a", y="__tracker__"),
        "d": node("d", x="b", y="c"),
        "side": node("side", x="__tracker__"),
        "unused": node("unused", x="a"),
    }
)


class Noting(GraphNodeHook):
    def __init__(self) -> None:
        self.ran: list[str] = []

    def on_before_node(self, node_name: str, **_kwargs: Any) -> dict[str, Any]:
        self.ran.append(node_name)
        return {}

    def on_after_node(self, **_kwargs: Any) -> None:
        return None


def _runner(cls: type[DaskGraphRunner], tmp_path: Path, schema: GraphSchema = SCHEMA) -> Any:
    hook = Noting()
    runner = cls.create(
        schema, LocalModelStorage(tmp_path), ExecutionContext(schema, "test"), [hook]
    )
    return runner, hook


def _outcome(runner: DaskGraphRunner, inputs: dict[str, Any], targets: list[str]) -> object:
    try:
        return runner.run(inputs, targets)
    except Exception as error:  # noqa: BLE001 - the error itself is compared
        cause = error.__cause__ if isinstance(error, GraphComponentException) else None
        return type(error), str(cause or error)


BOTH = {"__message__": "m", "__tracker__": "t"}


@pytest.mark.parametrize(
    ("inputs", "targets", "expected"),
    [
        (BOTH, ["d", "side"], {"d": "m+a+b+m+a+t+c+d", "side": "t+side"}),
        (BOTH, ["c"], {"c": "m+a+t+c"}),
        ({"__tracker__": "t", "__message__": "m"}, ["d"], {"d": "m+a+b+m+a+t+c+d"}),  # other order
        ({**BOTH, "__message__": "boom"}, ["d"], (GraphComponentException, "boom")),  # a node fails
        ({"__message__": "m"}, ["d"], GraphRunError),  # an input is missing
        ({"a": "given", "__tracker__": "t"}, ["d"], {"d": "given+b+given+t+c+d"}),  # for a node
        ({**BOTH, "__message__": "d"}, ["d"], GraphRunError),  # a value named like a node
    ],
)  # fmt: skip
def test_runs_like_dask(
    tmp_path: Path, inputs: dict[str, Any], targets: list[str], expected: object
) -> None:
    dask, dask_hook = _runner(DaskGraphRunner, tmp_path)
    ours, our_hook = _runner(SequentialGraphRunner, tmp_path)
    for _ in range(2):  # the second run goes by the kept plan
        outcome = _outcome(ours, inputs, targets)
        assert outcome == _outcome(dask, inputs, targets)
        assert outcome == expected or (isinstance(outcome, tuple) and outcome[0] is expected)
    assert our_hook.ran == dask_hook.ran


def test_the_plan_is_worked_out_once_per_kind_of_run(tmp_path: Path) -> None:
    ours, _ = _runner(SequentialGraphRunner, tmp_path)
    dask, dask_hook = _runner(DaskGraphRunner, tmp_path)
    inputs = {"__message__": "m", "__tracker__": "t"}
    assert ours.run(inputs, ["d"]) == dask.run(inputs, ["d"]) == {"d": "m+a+b+m+a+t+c+d"}
    ours.run({"__message__": "n", "__tracker__": "u"}, ["d"])
    ours.run(inputs, ["side"])
    key = (("d",), ("__message__", "__tracker__"))
    assert set(ours._plans) == {key, (("side",), ("__message__", "__tracker__"))}
    assert [name for name, _ in ours._plans[key]] == dask_hook.ran


def test_an_input_that_replaces_a_node_takes_dasks_path() -> None:
    assert graph_runner.plan(SCHEMA, ["d"], ["a", "__tracker__"]) is None
    steps = graph_runner.plan(SCHEMA, ["d"], ["__message__", "__tracker__"])
    assert steps is not None and {name for name, _ in steps} == {"a", "b", "c", "d"}


@pytest.mark.slow
def test_the_assistant_parses_and_predicts_as_with_dask(
    trained_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rasa's own graphs: the same parses and predictions on every prefix of every
    story with the sequential runner (and the shared replay) as with Dask's (and
    Rasa's replay per policy), and the rules before TED."""
    # Rasa's own runner and replay for the reference, even if an earlier test in this
    # process created the REST channel, which installs ours for good.
    monkeypatch.setattr(processor, "DaskGraphRunner", DaskGraphRunner)
    monkeypatch.setattr(Domain, "states_for_tracker_history", states._original)
    with_dask = nlu_report.load_agent(trained_model)
    graph_runner.install()
    ours = nlu_report.load_agent(trained_model)
    assert type(with_dask.processor.graph_runner) is DaskGraphRunner
    assert type(ours.processor.graph_runner) is SequentialGraphRunner
    trackers = story_trackers(ours)
    assert len(trackers) > 100

    def run(agent: Agent) -> tuple[list, list]:
        parses = [asyncio.run(agent.parse_message(text)) for text in _test_texts()]
        # On copies: a prediction clears the tracker's follow-up action.
        predictions = [agent.processor._predict_next_with_tracker(t.copy()) for t in trackers]
        return parses, [(p.policy_name, p.probabilities, p.events) for p in predictions]

    rasas = run(with_dask)
    # With the policies' shared replay too (rasa_addons/states.py), as in `rasa run`.
    states.install()
    assert run(ours) == rasas
    runner = ours.processor.graph_runner
    assert len(runner._plans) == 2  # one for parsing, one for predicting
    kinds = {
        name: node._component_class.__name__ for name, node in runner._instantiated_nodes.items()
    }
    predicting = next(
        [kinds[name] for name, _ in steps]
        for (_, inputs), steps in runner._plans.items()
        if inputs == ("__tracker__",)
    )
    assert predicting.index("DecisiveRulePolicy") < predicting.index("RuleAwareTEDPolicy")


def test_run_keeps_its_arguments_out_of_closures():
    # pyinstrument names a method by its first argument's type; an argument that a
    # generator captures becomes a cell, and the profile called this "dict.run".
    code = graph_runner.SequentialGraphRunner.run.__code__
    arguments = code.co_varnames[: code.co_argcount]
    assert not set(arguments) & set(code.co_cellvars)

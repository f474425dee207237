"""Run Rasa's prediction graphs without building a Dask graph at every call.

Rasa runs its model as a graph of components, twice or more per turn: once to
understand the message, once for every action it predicts. Its ``DaskGraphRunner``
rebuilds the task graph at each run (walking the dependencies recursively,
formatting the inputs, the tracker included, into a debug message that is then
thrown away), and Dask's synchronous scheduler then works out an execution order
and its bookkeeping for the same dozen nodes every time. Under load that was about
a tenth of the Rasa server's time, more than all NLU components but DIET.

``SequentialGraphRunner`` asks Dask for that order once per kind of run (targets
and input names) and then calls the nodes one after another in exactly that order,
each with the outputs of the nodes it needs, as Dask does. The order matters: the
rule policy must run before TED for TED to skip its network (rasa_addons/policies.py).
The nodes, their hooks and their errors are Rasa's own. An odd run (an input that
replaces a node, or a plan Dask would not run) takes Dask's path.

Training keeps Rasa's ``DaskGraphRunner``: only the predicting processor uses this
one (``install``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import dask
from rasa.core import processor
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner import dask as rasa_dask

# Rasa's runner logger, so a debug log reads as before.
logger = logging.getLogger(rasa_dask.__name__)

# One step of a plan: the node's name and the names of what it needs, in order.
Step = tuple[str, tuple[str, ...]]


def plan(schema: GraphSchema, targets: list[str], inputs: list[str]) -> list[Step] | None:
    """The nodes needed for ``targets``, in Dask's execution order; None when this run
    must take Dask's own path (an input named like a node)."""
    minimal = schema.minimal_graph_schema(targets)
    if any(name in minimal.nodes for name in inputs):
        return None
    needs = {name: tuple(node.needs.values()) for name, node in minimal.nodes.items()}
    # Dask's synchronous scheduler runs the same graph shape (a callable per node,
    # literals for the inputs) with callables that only note their turn: the order
    # depends on the shape alone, so this is the order it would run the real nodes in.
    order: list[str] = []

    def noting(name: str) -> Any:
        return lambda *_outputs: order.append(name)

    shape: dict[str, Any] = {name: (noting(name), *deps) for name, deps in needs.items()}
    shape.update({name: (name, None) for name in inputs})
    dask.get(shape, targets)
    if sorted(order) != sorted(needs):
        return None
    return [(name, needs[name]) for name in order]


def _clash(inputs: Mapping[str, Any], nodes: Mapping[str, Any]) -> bool:
    """Whether an input value names a node or an input (Dask would substitute it).

    A function of its own: a generator in ``run`` would turn ``run``'s arguments into
    closure cells, and pyinstrument would then name the method after another object
    ("dict.run") in the benchmark's profile."""
    return any(
        isinstance(value, str) and (value in nodes or value in inputs) for value in inputs.values()
    )


class SequentialGraphRunner(rasa_dask.DaskGraphRunner):
    """``DaskGraphRunner`` with the execution order worked out once per kind of run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Step] | None] = {}

    def run(
        self, inputs: Mapping[str, Any] | None = None, targets: list[str] | None = None
    ) -> dict[str, Any]:
        inputs = inputs or {}
        run_targets = targets if targets else self._graph_schema.target_names
        key = (tuple(run_targets), tuple(inputs))
        if key not in self._plans:
            self._plans[key] = plan(self._graph_schema, list(run_targets), list(inputs))
        steps = self._plans[key]
        if steps is None or _clash(inputs, self._graph_schema.nodes):
            return super().run(dict(inputs) or None, targets)  # Dask's path, Rasa's errors
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                f"Running graph with inputs: {inputs}, targets: {targets} "
                f"and {self._execution_context}."
            )
        # As Dask passes them: each output as (node name, value); a name nothing
        # provides as the bare name, which the node then reports as missing.
        outputs: dict[str, Any] = {name: (name, value) for name, value in inputs.items()}
        nodes = self._instantiated_nodes
        try:
            for name, needs in steps:
                outputs[name] = nodes[name](*(outputs.get(dep, dep) for dep in needs))
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(outputs[target] for target in run_targets)


def install() -> None:
    """The processor loads its model with this runner from now on (idempotent)."""
    processor.DaskGraphRunner = SequentialGraphRunner  # type: ignore[misc]

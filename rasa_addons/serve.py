"""``rasa`` as this assistant's servers run it: Rasa's own command line, without JAX.

    python -m rasa_addons.serve run --model ... (any ``rasa`` arguments)

TensorFlow 2.12 requires JAX and imports it whenever TensorFlow itself is imported
(``tensorflow/lite/python/util.py``, for converting JAX models to TFLite), inside
``try: ... except ImportError``. Rasa never converts a JAX model, yet that import
costs every Rasa process about 95 MiB of memory and 0.4 s of start-up (measured
here: 587 MiB RSS after ``import tensorflow`` with JAX, 492 MiB without), which
put the single-machine stack over its 2.5 GB budget. Marking JAX as absent before
anything imports TensorFlow makes that one import fail the way TensorFlow expects;
nothing else changes. Rasa imports TensorFlow on its own while it starts, before
any module of this project is loaded, so this has to happen in the command itself.

Training (``rasa train``) is left as Rasa runs it.
"""

from __future__ import annotations

import sys

# Modules the server never needs that its dependencies import when they can.
KEPT_OUT = ("jax",)


def keep_out(names: tuple[str, ...] = KEPT_OUT) -> list[str]:
    """Make ``import <name>`` raise ImportError; the names that were not loaded already."""
    kept = []
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # Python's "absent" mark
            kept.append(name)
    return kept


def main() -> None:
    keep_out()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"  # Rasa's usage and error messages name its command
    rasa_main()


if __name__ == "__main__":
    main()

"""The Procfile's Rasa (``python -m rasa_addons.serve ...``) with pyinstrument
attached on demand, for the "where the time goes" run.

    python -m bench.profiled_rasa OUT.pyisession run --model ... (any `rasa` arguments)

SIGUSR1 starts sampling the main thread (where Rasa's event loop, the NLU
pipeline, the policies and the SQL tracker store all run); SIGUSR2 stops and
saves the session to OUT. Model loading and warm-up are thus left out of the
profile. SIGINT/SIGTERM stop Rasa as usual.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from types import FrameType

from pyinstrument import Profiler

from rasa_addons import serve

# 1 ms: enough samples from a short run; the overhead slows the server somewhat,
# so only the shares of the profile are reported, not its absolute times.
INTERVAL_S = 0.001


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    profiler = Profiler(interval=INTERVAL_S, async_mode="disabled")

    def start(_signum: int, _frame: FrameType | None) -> None:
        if not profiler.is_running:
            profiler.start()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        if not profiler.is_running:
            return
        session = profiler.stop()
        partial = out.with_suffix(".partial")
        session.save(partial)
        os.replace(partial, out)  # the benchmark waits for OUT: never a half-written file

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    sys.argv = ["rasa", *sys.argv[2:]]
    serve.main()  # as the Procfile starts Rasa


if __name__ == "__main__":
    main()

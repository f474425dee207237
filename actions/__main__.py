"""Run the action server: ``python -m actions``.

rasa-sdk's own CLI binds 0.0.0.0; this one serves the same app
(``rasa_sdk.endpoint.create_app``) on ACTIONS_HOST (127.0.0.1 by default) and
ACTIONS_PORT, with log redaction installed before anything logs.
"""

from __future__ import annotations

import logging
import sys

from pydantic import ValidationError
from rasa_sdk.endpoint import create_app

from actions.settings import get_settings
from common.redact import install


def main() -> None:
    try:
        settings = get_settings()
    except ValidationError as error:
        # One sentence for the operator (e.g. a development secret in production).
        sys.exit(f"action server not started: {error.errors()[0]['msg']}")
    install(settings.log_level)
    app = create_app("actions", cors_origins=None)
    logging.getLogger(__name__).info(
        "action server on http://%s:%s", settings.actions_host, settings.actions_port
    )
    app.run(settings.actions_host, settings.actions_port, workers=1, access_log=False)


if __name__ == "__main__":
    main()

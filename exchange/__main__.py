"""Command line: `python -m exchange serve | seed FILE [--if-empty] | audit verify`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError
from pydantic.env_settings import SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from common import redact
from exchange.core.clock import system_clock
from exchange.core.config import Settings
from exchange.core.db import create_db_engine, init_db, session_factory

logger = logging.getLogger("exchange")


def serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from exchange.main import create_app

    app = create_app(settings)
    init_db(app.state.engine, settings)
    host, port = args.host or settings.host, args.port or settings.port
    logger.info("exchange listening on http://%s:%s", host, port)
    # log_config=None: uvicorn's loggers go through the root handlers, which carry the
    # redacting filter installed in main(); its own config would bypass it.
    # ws="none": the exchange has no WebSockets, and uvicorn's auto-detection breaks on
    # the old `websockets` that Rasa pins.
    uvicorn.run(
        app, host=host, port=port, log_config=None, log_level=settings.log_level.lower(),
        ws="none",
    )  # fmt: skip
    app.state.engine.dispose()
    return 0


def seed(settings: Settings, args: argparse.Namespace) -> int:
    from exchange.seed import SeedError, load
    from exchange.seed import seed as load_register

    engine = create_db_engine(settings)
    try:
        init_db(engine, settings)
        with session_factory(engine)() as session:
            report = load_register(
                session, load(Path(args.file)), now=system_clock(), if_empty=args.if_empty
            )
    except (SeedError, OSError, AttributeError, KeyError, TypeError, ValueError) as exc:
        print(f"seed failed, nothing was changed: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if report.skipped:
        print("exchange already has citizens; --if-empty: nothing to do")
    else:
        print(f"seeded {report.citizens} citizens and {report.outlets} service halls")
    return 0


def audit_verify(settings: Settings, _args: argparse.Namespace) -> int:
    from exchange.services.audit import verify_chain

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        # Connecting would create an empty database; verifying must change nothing.
        print(f"no exchange database at {url.database}", file=sys.stderr)
        return 2
    engine = create_db_engine(settings)
    try:
        with session_factory(engine)() as session:
            report = verify_chain(session)
    except DBAPIError as exc:  # e.g. no tables: verifying creates nothing, so no init_db
        print(f"cannot read the audit log ({type(exc.orig).__name__}); "
              "check EXCHANGE_DATABASE_URL", file=sys.stderr)  # fmt: skip
        return 2
    finally:
        engine.dispose()
    if report.ok:
        print(f"audit chain OK: {report.entries} entries")
        return 0
    print(f"audit chain BROKEN at entry #{report.broken_seq}: {report.reason}")
    return 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m exchange", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="start the exchange (creates tables if missing)")
    run.add_argument("--host", help="default EXCHANGE_HOST or 127.0.0.1")
    run.add_argument("--port", type=int, help="default EXCHANGE_PORT or 8100")
    run.set_defaults(handler=serve)
    load = commands.add_parser("seed", help="load demo citizens and service halls from YAML")
    load.add_argument("file")
    load.add_argument("--if-empty", action="store_true", help="do nothing if citizens exist")
    load.set_defaults(handler=seed)
    audit = commands.add_parser("audit", help="audit log tools")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="check the hash chain; exit 1 if broken")
    verify.set_defaults(handler=audit_verify)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
    except (ValidationError, SettingsError) as exc:  # names the variable, not its value
        print(f"invalid EXCHANGE_* settings:\n{exc}", file=sys.stderr)
        return 2
    redact.install(settings.log_level.upper())
    return args.handler(settings, args)


if __name__ == "__main__":
    sys.exit(main())

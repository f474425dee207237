"""Engine and session factory, built from settings when the app or CLI starts.

SQLite: every transaction starts with BEGIN IMMEDIATE, so writers (also in other
processes) queue on the database lock instead of failing half-way; WAL lets the
queue move fast. PostgreSQL: optional per-run schema via search_path.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from exchange.core.config import Settings
from exchange.models import AuditHead, Base

GENESIS_HASH = "0" * 64
SQLITE_BUSY_SECONDS = 30


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_db_engine(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            future=True,
            # FastAPI may open and close a session on different threadpool threads.
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    connect_args = {}
    if settings.db_schema:
        connect_args["options"] = f"-csearch_path={settings.db_schema}"
    return create_engine(
        url,
        future=True,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args=connect_args,
    )


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # Hand transaction control to SQLAlchemy's "begin" event (pysqlite would otherwise
    # start transactions lazily and never with IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.close()


def _sqlite_on_begin(connection) -> None:
    # Take the write lock up front: every exchange transaction appends to the audit
    # chain, and upgrading a read lock later can deadlock (SQLITE_BUSY without waiting).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, future=True, expire_on_commit=False, class_=Session)


def init_db(engine: Engine, settings: Settings) -> None:
    """Create the schema, tables and the audit chain head if missing (safe to repeat)."""
    if settings.db_schema and not is_sqlite(engine):
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{settings.db_schema}"')
        except (IntegrityError, ProgrammingError):  # another process created it just now
            pass
    Base.metadata.create_all(engine)
    with Session(engine, future=True) as session:
        if session.execute(select(AuditHead.id)).first() is None:
            session.add(AuditHead(id=1, last_seq=0, last_hash=GENESIS_HASH))
            try:
                session.commit()
            except IntegrityError:  # a concurrent init inserted it
                session.rollback()

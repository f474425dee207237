"""Database tables of the exchange (SQLAlchemy 1.4 ORM, used with 2.0-style queries)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so PostgreSQL and SQLite report the same ones.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)
Base = declarative_base(metadata=metadata)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python, naive UTC in the database (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: object
    ) -> dt.datetime | None:
        return value.replace(tzinfo=dt.timezone.utc) if value is not None else None


class Person(Base):
    __tablename__ = "persons"

    id = Column(Integer, primary_key=True)
    # Opaque random token handed to clients; never derived from the ID number.
    person_ref = Column(String(32), nullable=False, unique=True)
    id_number = Column(String(18), nullable=False, unique=True)
    name = Column(String(40), nullable=False)
    gender = Column(String(1), nullable=False)
    phone = Column(String(20), nullable=False)
    birth_date = Column(Date, nullable=False)
    insured_province = Column(String(20), nullable=False)
    insured_city = Column(String(20), nullable=False)
    insurance_status = Column(String(20), nullable=False)
    pension_status = Column(String(20), nullable=False)
    retired_on = Column(Date)
    pension_monthly_fen = Column(Integer)
    certification_last = Column(Date)
    certification_due = Column(Date)
    id_card_expiry = Column(Date)
    id_card_long_term = Column(Boolean, nullable=False, default=False)

    contributions = relationship(
        "ContributionPeriod",
        order_by="ContributionPeriod.start_month",
        cascade="all, delete-orphan",
    )
    card = relationship("SocialSecurityCard", uselist=False, cascade="all, delete-orphan")
    mailing_address = relationship("MailingAddress", uselist=False, cascade="all, delete-orphan")


class ContributionPeriod(Base):
    __tablename__ = "contribution_periods"

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("persons.id"), nullable=False, index=True)
    start_month = Column(String(7), nullable=False)  # YYYY-MM
    end_month = Column(String(7), nullable=False)
    province = Column(String(20), nullable=False)
    city = Column(String(20), nullable=False)
    months = Column(Integer, nullable=False)
    employer = Column(String(80))


class PensionPayment(Base):
    __tablename__ = "pension_payments"
    __table_args__ = (UniqueConstraint("person_id", "month"),)

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("persons.id"), nullable=False, index=True)
    month = Column(String(7), nullable=False)  # YYYY-MM
    amount_fen = Column(Integer, nullable=False)
    paid_on = Column(Date, nullable=False)


class SocialSecurityCard(Base):
    __tablename__ = "social_security_cards"

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("persons.id"), nullable=False, unique=True)
    card_no = Column(String(20), nullable=False, unique=True)
    status = Column(String(20), nullable=False)  # active | lost | replacing
    issued_on = Column(Date, nullable=False)


class MailingAddress(Base):
    """Where cards are mailed (the senior card). A table of its own, not a column of
    persons: create_all adds a missing table to an existing database, but never a column."""

    __tablename__ = "mailing_addresses"

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("persons.id"), nullable=False, unique=True)
    address = Column(String(200), nullable=False)


class Outlet(Base):
    __tablename__ = "outlets"

    outlet_id = Column(String(32), primary_key=True)
    name = Column(String(80), nullable=False)
    province = Column(String(20), nullable=False)
    city = Column(String(20), nullable=False, index=True)
    district = Column(String(20))
    address = Column(String(200), nullable=False)
    opening_hours = Column(String(200), nullable=False)
    phone = Column(String(30), nullable=False)
    services = Column(JSON, nullable=False)
    accessibility = Column(String(200), nullable=False)


class Application(Base):
    __tablename__ = "applications"

    id = Column(Integer, primary_key=True)
    application_no = Column(String(10), nullable=False, unique=True)
    service = Column(String(40), nullable=False)
    person_id = Column(Integer, ForeignKey("persons.id"), nullable=False, index=True)
    client_id = Column(String(64), nullable=False)
    status = Column(String(20), nullable=False)  # submitted | processing | done
    next_step = Column(Text, nullable=False)
    details = Column(JSON, nullable=False)
    # Set while the application must not be filed again (e.g. an open transfer on the
    # same route); the unique constraint enforces it even if two requests race.
    active_key = Column(String(200), unique=True)
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)

    person = relationship("Person")


class Handover(Base):
    """A conversation waiting for a member of staff (the agent view's queue)."""

    __tablename__ = "handovers"

    id = Column(Integer, primary_key=True)
    handover_id = Column(String(12), nullable=False, unique=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    client_id = Column(String(64), nullable=False)
    service = Column(String(40))
    channel = Column(String(20), nullable=False)
    # Already masked by the assistant; masked again on the way in (see services/handovers).
    summary = Column(JSON, nullable=False)
    status = Column(String(10), nullable=False, index=True)  # open | taken
    agent = Column(String(32))
    created_at = Column(UTCDateTime, nullable=False)
    taken_at = Column(UTCDateTime)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("client_id", "key"),)

    id = Column(Integer, primary_key=True)
    client_id = Column(String(64), nullable=False)
    key = Column(String(128), nullable=False)
    fingerprint = Column(String(64), nullable=False)
    status_code = Column(Integer, nullable=False)
    body = Column(JSON, nullable=False)
    headers = Column(JSON, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, index=True)


class SeenRequest(Base):
    """Request ids and signatures seen within the replay window (shared by all processes)."""

    __tablename__ = "seen_requests"
    __table_args__ = (
        UniqueConstraint("client_id", "request_id"),
        UniqueConstraint("client_id", "signature", name="uq_seen_requests_signature"),
    )

    id = Column(Integer, primary_key=True)
    client_id = Column(String(64), nullable=False)
    request_id = Column(String(128), nullable=False)
    signature = Column(String(64), nullable=False)
    seen_at = Column(UTCDateTime, nullable=False, index=True)


class IdentityFailure(Base):
    __tablename__ = "identity_failures"

    id = Column(Integer, primary_key=True)
    subject = Column(String(64), nullable=False, index=True)  # sha256 of the ID number
    at = Column(UTCDateTime, nullable=False)


class IdentityLock(Base):
    __tablename__ = "identity_locks"

    subject = Column(String(64), primary_key=True)
    locked_until = Column(UTCDateTime, nullable=False)


class AuditEntry(Base):
    """One link of the hash chain. `at` is text so the hashed value is exactly what is stored."""

    __tablename__ = "audit_log"

    seq = Column(Integer, primary_key=True, autoincrement=False)
    at = Column(String(40), nullable=False)
    client_id = Column(String(64), nullable=False)
    purpose = Column(String(40), nullable=False)
    request_id = Column(String(128), nullable=False)
    action = Column(String(60), nullable=False)
    resource = Column(String(200), nullable=False)
    citizen = Column(String(18))  # masked ID number: first 6 + last 4
    person_id = Column(Integer, index=True)
    outcome = Column(String(20), nullable=False)
    prev_hash = Column(String(64), nullable=False)
    hash = Column(String(64), nullable=False)


class AuditHead(Base):
    """The single row every append locks; it also pins the last hash, so truncation shows."""

    __tablename__ = "audit_head"

    id = Column(Integer, primary_key=True, autoincrement=False)
    last_seq = Column(Integer, nullable=False)
    last_hash = Column(String(64), nullable=False)

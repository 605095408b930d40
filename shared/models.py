"""ORM classes mapped onto the Core tables, for the writes that need a unit of work.

The schema itself lives in shared/tables.py; reads query those tables directly and
never import this module, so a cold start that only reads skips the ORM entirely.
"""
from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase, deferred

from shared import tables


class Base(DeclarativeBase):
    metadata = tables.metadata


class User(Base):
    __table__ = tables.users
    search = deferred(tables.users.c.search)


class Follow(Base):
    __table__ = tables.follows


class Proposal(Base):
    __table__ = tables.proposals
    search = deferred(tables.proposals.c.search)
    __mapper_args__ = {"version_id_col": tables.proposals.c.version}


class SearchWord(Base):
    __table__ = tables.search_words


class Category(Base):
    __table__ = tables.categories


class Tag(Base):
    __table__ = tables.tags


class AuditEntry(Base):
    __table__ = tables.audit_log


class OutboxEntry(Base):
    __table__ = tables.outbox


class ProcessedEvent(Base):
    __table__ = tables.processed_events


class Media(Base):
    __table__ = tables.media


class WalletChallenge(Base):
    __table__ = tables.wallet_challenges

"""The moderation table: what people reported, and what an administrator decided."""
from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, DateTime, ForeignKey, Index, String, Table, Text, text
from sqlalchemy.dialects.postgresql import UUID

from shared.tables import created, metadata, one_of, uuid_pk

TARGET_TYPES = ("proposal", "item", "media", "user")
REASONS = ("spam", "abuse", "copyright", "fraud", "explicit", "other")
REPORT_STATUSES = ("open", "actioned", "dismissed")
NOTE_MAX = 1000

reports = Table(
    "reports",
    metadata,
    uuid_pk(),
    # NULL once the reporter's account is erased: the report still counts.
    Column("reporter_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")),
    Column("target_type", String(16), nullable=False),
    Column("target_id", UUID(as_uuid=True), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("note", Text, nullable=False, server_default=text("''")),
    Column("status", String(12), nullable=False, server_default=text("'open'")),
    created("created_at"),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")),
    Column("resolution", Text),
    CheckConstraint(one_of("target_type", TARGET_TYPES), name="target_type"),
    CheckConstraint(one_of("reason", REASONS), name="reason"),
    CheckConstraint(one_of("status", REPORT_STATUSES), name="status"),
    CheckConstraint(f"char_length(note) <= {NOTE_MAX}", name="note_length"),
    # The queue, oldest first per status.
    Index("ix_reports_queue", "status", "created_at", "id"),
    # A target's open reports (an action resolves them all); a person reports a target once while open.
    Index("ix_reports_target", "target_type", "target_id", postgresql_where=text("status = 'open'")),
    Index("ix_reports_once", "reporter_id", "target_type", "target_id", unique=True,
          postgresql_where=text("status = 'open'")),
)

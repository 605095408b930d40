"""Reports: anyone signed in reports what they can see (a proposal, an item, a picture, a person)
once while it is open; administrators read the queue, oldest first, and dismiss or act."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AwareDatetime, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shared import audit
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.events import outbox
from shared.moderation.tables import NOTE_MAX, reports
from shared.moderation.targets import TARGETS, TargetType, find
from shared.paging import PageQuery, SortKey, keyset_page
from shared.types import ApiModel, HiddenBy

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from shared.identity.access import Viewer

Reason = Literal["spam", "abuse", "copyright", "fraud", "explicit", "other"]
Status = Literal["open", "actioned", "dismissed"]
Note = Annotated[str, Field(max_length=NOTE_MAX, pattern=r"^[^\x00]*$")]


class ReportIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    target_type: TargetType
    target_id: uuid.UUID
    reason: Reason
    note: Note = Field(default="", description="what the administrators should know, at most 1,000 characters")


class ReportOut(ApiModel):
    """A report as its author sees it."""

    id: uuid.UUID
    target_type: TargetType
    target_id: uuid.UUID
    reason: Reason
    note: str
    status: Status
    created_at: AwareDatetime


class TargetOut(ApiModel):
    owner_id: uuid.UUID | None
    label: str | None = Field(description="a title, a person's name, or a picture's purpose")
    hidden: HiddenBy | None = Field(description="why it is out of public sight now, if it is")
    open_reports: int = Field(description="how many reports of it are open")


class QueuedReportOut(ReportOut):
    """A report as administrators see it: who sent it, how it ended, and what it is about."""

    reporter_id: uuid.UUID | None
    resolved_at: AwareDatetime | None
    resolved_by: uuid.UUID | None
    resolution: str | None
    target: TargetOut | None = Field(description="null once the reported thing is gone")


class QueuePage(ApiModel):
    items: list[QueuedReportOut]
    next_cursor: str | None


class QueueQuery(PageQuery):
    status: Status = "open"
    target_type: TargetType | None = None


class ResolutionIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    note: Note = Field(default="", description="why: kept with the report and in the audit log")


def file(session: Session, reporter: Viewer, data: ReportIn) -> tuple[ReportOut, bool]:
    """The caller's open report of the target: made now (True), or the one they already have open
    (False). Only what the reporter can see may be reported, and never their own."""
    target = find(session, data.target_type, data.target_id)
    if not target.public:
        raise NotFound(f"no such {data.target_type}")
    if target.owner_id == reporter.id:
        raise ValidationFailed("you cannot report your own content or yourself")
    values = {"reporter_id": reporter.id, "target_type": data.target_type, "target_id": data.target_id,
              "reason": data.reason, "note": data.note}
    made = session.execute(pg_insert(reports).values(**values).on_conflict_do_nothing(
        index_elements=["reporter_id", "target_type", "target_id"], index_where=reports.c.status == "open",
    ).returning(*reports.c)).one_or_none()
    if made is None:
        existing = session.execute(select(reports).where(
            reports.c.reporter_id == reporter.id, reports.c.target_type == data.target_type,
            reports.c.target_id == data.target_id, reports.c.status == "open")).one()
        return ReportOut.model_validate(existing, from_attributes=True), False
    audit.record(session, reporter, "report.filed", data.target_type, data.target_id, report_id=str(made.id),
                 reason=data.reason)
    # The reporter stays out of the event: consumers learn that a thing was reported, not by whom.
    outbox.emit(session, "report.filed", "report", made.id, {
        "id": str(made.id), "target_type": data.target_type, "target_id": str(data.target_id), "reason": data.reason})
    return ReportOut.model_validate(made, from_attributes=True), True


def queue(conn: Connection, query: QueueQuery) -> QueuePage:
    """Reports by status (open by default), the oldest first, each with its target as it is now."""
    rows_select = select(reports).where(reports.c.status == query.status)
    if query.target_type:
        rows_select = rows_select.where(reports.c.target_type == query.target_type)
    rows, next_cursor = keyset_page(conn, rows_select, f"reports-{query.status}",
                                    SortKey(reports.c.created_at, False, datetime.fromisoformat), reports.c.id,
                                    query.cursor, query.limit)
    targets = _targets(conn, {(row.target_type, row.target_id) for row in rows})
    return QueuePage(items=[QueuedReportOut.model_validate({**row._mapping, "target": targets.get(
        (row.target_type, row.target_id))}) for row in rows], next_cursor=next_cursor)


def _targets(conn: Connection, keys: set[tuple[str, uuid.UUID]]) -> dict[tuple[str, uuid.UUID], TargetOut]:
    """The page's targets, one query per kind."""
    found = {}
    for kind, target in TARGETS.items():
        ids = [target_id for of, target_id in keys if of == kind]
        if not ids:
            continue
        table = target.table
        open_reports = (select(func.count()).where(reports.c.target_type == kind, reports.c.target_id == table.c.id,
                                                   reports.c.status == "open").scalar_subquery())
        for row in conn.execute(select(table.c.id, target.owner, target.label, target.hidden, open_reports)
                                .where(table.c.id.in_(ids))):
            found[(kind, row[0])] = TargetOut(owner_id=row[1], label=row[2], hidden=row[3], open_reports=row[4])
    return found


def resolve_all(session: Session, admin: Viewer, kind: str, target_id: uuid.UUID, note: str) -> int:
    """Close every open report of the target as acted upon; how many there were."""
    return session.execute(update(reports).where(
        reports.c.target_type == kind, reports.c.target_id == target_id, reports.c.status == "open",
    ).values(status="actioned", resolved_at=func.now(), resolved_by=admin.id, resolution=note or None)).rowcount


def dismiss(session: Session, admin: Viewer, report_id: uuid.UUID, data: ResolutionIn) -> QueuedReportOut:
    """Close an open report with no action (a repeat of a dismissal answers as the first did)."""
    row = session.execute(select(reports).where(reports.c.id == report_id).with_for_update()).one_or_none()
    if row is None:
        raise NotFound("no such report")
    if row.status == "open":
        row = session.execute(update(reports).where(reports.c.id == report_id).values(
            status="dismissed", resolved_at=func.now(), resolved_by=admin.id, resolution=data.note or None,
        ).returning(*reports.c)).one()
        audit.record(session, admin, "report.dismissed", row.target_type, row.target_id, report_id=str(report_id),
                     note=data.note)
    elif row.status != "dismissed":
        raise Conflict(f"the report is {row.status} already")
    target = _targets(session.connection(), {(row.target_type, row.target_id)})
    return QueuedReportOut.model_validate({**row._mapping, "target": target.get((row.target_type, row.target_id))})


"""moderation: reports, and what administrators do with them (hide and restore content, suspend and
reinstate people), the audit log's reading and the operator's counts (decision 0031)."""
from __future__ import annotations

import shared.startup  # noqa: F401  (first, before anything heavy: see shared/startup.py)

from shared.http.api import Api, Call, Reply
from shared.identity.auth import get_firebase
from shared.moderation import actions, oversight, reports

api = Api("moderation")
# Content an administrator hides and restores, by its path segment.
CONTENT = {"proposals": "proposal", "items": "item", "media": "media"}


@api.route("POST", "/api/reports", summary="Report a proposal, item, picture or person (once while open)",
           auth="user", body=reports.ReportIn, response=reports.ReportOut, status=201, also={200: reports.ReportOut},
           errors=(404,))
def report(call: Call) -> Reply:
    made, created = reports.file(call.session, call.caller, call.body)
    return Reply(made, status=201 if created else 200)


@api.route("GET", "/api/admin/reports", summary="The reports queue, oldest first (admins only)", auth="admin",
           query=reports.QueueQuery, response=reports.QueuePage)
def queue(call: Call) -> reports.QueuePage:
    return reports.queue(call.conn, call.query)


@api.route("POST", "/api/admin/reports/<uuid:report_id>/dismiss", summary="Close a report with no action (admins only)",
           auth="admin", body=reports.ResolutionIn, response=reports.QueuedReportOut)
def dismiss(call: Call) -> reports.QueuedReportOut:
    return reports.dismiss(call.session, call.caller, call.path["report_id"], call.body)


def _content_routes(segment: str, kind: str) -> None:
    @api.route("POST", f"/api/admin/{segment}/<uuid:target_id>/hide",
               summary=f"Take a {kind} out of public sight, closing its reports (admins only)", auth="admin",
               body=actions.ActionIn, response=actions.ModerationOut)
    def hide(call: Call) -> actions.ModerationOut:
        return actions.hide(call.session, call.caller, kind, call.path["target_id"], call.body)

    @api.route("POST", f"/api/admin/{segment}/<uuid:target_id>/restore",
               summary=f"Bring a hidden {kind} back in sight (admins only)", auth="admin",
               body=actions.ActionIn, response=actions.ModerationOut)
    def restore(call: Call) -> actions.ModerationOut:
        return actions.restore(call.session, call.caller, kind, call.path["target_id"], call.body)


for _segment, _kind in CONTENT.items():
    _content_routes(_segment, _kind)


def _sign_in(uid: str, disabled: bool) -> None:
    """The sign-in account follows the suspension: disabled with every session ended, or enabled."""
    firebase = get_firebase()
    firebase.set_disabled(uid, disabled)
    if disabled:
        firebase.revoke_sessions(uid)


@api.route("POST", "/api/admin/users/<uuid:user_id>/suspend",
           summary="Suspend a person: tokens refused, profile and content hidden (admins only)", auth="admin",
           body=actions.ActionIn, response=actions.ModerationOut, errors=(503,))
def suspend(call: Call) -> actions.ModerationOut:
    return actions.suspend(call.session, call.caller, call.path["user_id"], call.body, _sign_in)


@api.route("POST", "/api/admin/users/<uuid:user_id>/reinstate",
           summary="End a suspension: the account and its content come back (admins only)", auth="admin",
           body=actions.ActionIn, response=actions.ModerationOut, errors=(503,))
def reinstate(call: Call) -> actions.ModerationOut:
    return actions.reinstate(call.session, call.caller, call.path["user_id"], call.body, _sign_in)


@api.route("GET", "/api/admin/audit", summary="The audit log, newest first, filtered (admins only)", auth="admin",
           query=oversight.AuditQuery, response=oversight.AuditPage)
def audit_log(call: Call) -> oversight.AuditPage:
    return oversight.audit_page(call.conn, call.query)


@api.route("GET", "/api/admin/stats", summary="Counts per UTC day an operator watches (admins only)", auth="admin",
           query=oversight.StatsQuery, response=oversight.StatsOut)
def stats(call: Call) -> oversight.StatsOut:
    return oversight.stats(call.conn, call.query)


def handle(request):
    """functions-framework entry point."""
    return api(request)

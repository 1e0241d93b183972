"""Ratings, rectification tasks and complaints: every rule of the feedback side, called by the API and the
staff console alike, one job a module:

- intake: filing a ticket; resident: the resident's follow-up (list, detail, evaluation, 重办);
- queue: the staff queue and one ticket as staff see it; staff_actions: what staff do to a ticket;
- alerts: the overdue list; sweep: the periodic deadline sweep; ratings: ratings and 差评整改;
- reports: public statistics, the dashboard and the export; similar: similar tickets and 附议;
- beneath them: tickets (loading, scoping, the workflow move), assignments, ticket_json, common.

Functions take the acting resident or staff member explicitly and an optional `now` (UTC; defaults to the
clock) so deadlines can be computed for any moment. Each write function commits once and enqueues its
notifications only after that commit. State changes of a ticket go through workflow.check(): one map.
This package re-exports every name its callers use, so they import from app.feedback.service as before.
"""
from app.feedback.service.alerts import overdue_list
from app.feedback.service.common import resolve_now
from app.feedback.service.intake import submit_complaint
from app.feedback.service.queue import count_by_status, get_for_staff, list_for_staff
from app.feedback.service.ratings import answer_rectification, get_rating, list_rectifications, rate_project
from app.feedback.service.reports import export_complaints, period_asked, public_stats, staff_stats
from app.feedback.service.resident import evaluate, get_for_resident, list_for_resident, reopen
from app.feedback.service.similar import duplicates_for_office, join_complaint, similar_for_draft
from app.feedback.service.staff_actions import (
    assign,
    decide_extension,
    merge,
    refuse_return,
    reply,
    request_extension,
    request_return,
    reveal_contact,
    sign,
    urge,
)
from app.feedback.service.sweep import sweep
from app.feedback.service.tickets import staff_sees_complaint

# The old private names bench/stats_profile.py reaches for.
_now, _period = resolve_now, period_asked

__all__ = [
    "answer_rectification", "assign", "duplicates_for_office", "count_by_status", "decide_extension",
    "evaluate", "export_complaints", "get_for_resident", "get_for_staff", "get_rating", "list_for_resident",
    "join_complaint", "list_for_staff", "list_rectifications", "merge", "similar_for_draft", "overdue_list",
    "public_stats", "rate_project",
    "refuse_return", "reopen", "reply", "request_extension", "request_return", "reveal_contact", "sign",
    "staff_sees_complaint", "staff_stats", "submit_complaint", "sweep", "urge",
]

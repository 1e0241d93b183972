"""The complaint workflow (DESIGN §3) as ONE explicit map: action × state → new state, and who may act.

Every service function that changes a ticket goes through `check()`; the tests loop over `WORKFLOW` to prove
every listed transition succeeds and every other state × action pair is a 409. Urge, reveal and the overdue
mark are events that leave the state as it is; they are in the map so that the states they apply to are
written down here too.
"""
from dataclasses import dataclass, field

from app.errors import Conflict, Forbidden

STATUSES = (
    "triage",               # 待分派: no item named, or held for the office after the content check said review
    "assigned",             # 已派单
    "signed",               # 已签收
    "return_requested",     # 退单审核中
    "extension_requested",  # 延期审核中
    "replied",              # 已答复: evaluation window open
    "closed",               # 已办结
    "merged",               # 已并单
)
STATUS_LABELS = {
    "triage": "待分派",
    "assigned": "已派单",
    "signed": "已签收",
    "return_requested": "退单审核中",
    "extension_requested": "延期审核中",
    "replied": "已答复",
    "closed": "已办结",
    "merged": "已并单",
}
# The states in which a lead unit holds the ticket and its deadlines run.
UNIT_OPEN = ("assigned", "signed", "return_requested", "extension_requested")

KINDS = ("complaint", "suggestion", "consultation", "praise")
KIND_LABELS = {"complaint": "投诉", "suggestion": "建议", "consultation": "咨询", "praise": "表扬"}

# Who acts on a ticket. LEAD: staff of the ticket's current lead unit; OFFICE: role office/admin;
# RESIDENT: the ticket's own resident; SYSTEM: the periodic deadline sweep. Co-units only read.
LEAD, OFFICE, RESIDENT, SYSTEM = "lead", "office", "resident", "system"

# Returning to the state a request interrupted (a refused 退单 goes back to 已派单 or 已签收).
PREVIOUS = "previous"


@dataclass(frozen=True)
class Action:
    label: str
    actors: frozenset
    moves: dict = field(default_factory=dict)


def _same(states):
    return {s: s for s in states}


WORKFLOW = {
    "sign": Action("签收", frozenset({LEAD}), {"assigned": "signed"}),
    "reply": Action("答复", frozenset({LEAD}), {"signed": "replied", "extension_requested": "replied"}),
    "return_request": Action("申请退单", frozenset({LEAD}),
                             {"assigned": "return_requested", "signed": "return_requested"}),
    "extension_request": Action("申请延期", frozenset({LEAD}), {"signed": "extension_requested"}),
    # Assigning to another unit also approves a pending return request.
    "assign": Action("派单", frozenset({OFFICE}), {"triage": "assigned", "assigned": "assigned",
                                                  "signed": "assigned", "return_requested": "assigned"}),
    # Assigning a return-requested ticket to the unit that holds it refuses the return.
    "refuse_return": Action("驳回退单", frozenset({OFFICE}), {"return_requested": PREVIOUS}),
    "extension_decision": Action("审核延期", frozenset({OFFICE}), {"extension_requested": "signed"}),
    "urge": Action("督办", frozenset({OFFICE}), _same(UNIT_OPEN)),
    "merge": Action("并单", frozenset({OFFICE}), {s: "merged" for s in ("triage",) + UNIT_OPEN}),
    "evaluate": Action("评价", frozenset({RESIDENT}), {"replied": "closed"}),
    "reopen": Action("申请重办", frozenset({RESIDENT}), {"replied": "assigned", "closed": "assigned"}),
    "expire": Action("评价期满办结", frozenset({SYSTEM}), {"replied": "closed"}),
    "overdue": Action("超期", frozenset({SYSTEM}), _same(UNIT_OPEN)),
    "reveal_contact": Action("查看联系方式", frozenset({LEAD, OFFICE}), _same(STATUSES)),
}

# Events a resident sees on the timeline of their own ticket; the rest are the units' and the office's business.
RESIDENT_VISIBLE = frozenset({"submit", "assign", "sign", "reply", "extension_decision", "evaluate", "reopen",
                              "expire", "merge"})

# "contact_erased": not an action anyone takes, the retention job's mark (app/feedback/retention.py).
EVENT_LABELS = {"submit": "提交诉求", "contact_erased": "联系电话已按保存期限删除",
                **{name: action.label for name, action in WORKFLOW.items()}}


def check(status, action, actor):
    """The state the ticket moves to; Forbidden when `actor` never does `action`, Conflict when the state
    does not allow it. PREVIOUS is returned as it is: the caller knows which state the request interrupted."""
    spec = WORKFLOW[action]
    if actor not in spec.actors:
        raise Forbidden(f"无权{spec.label}。")
    if status not in spec.moves:
        raise Conflict(f"诉求当前状态为“{STATUS_LABELS[status]}”，不能{spec.label}。")
    return spec.moves[status]

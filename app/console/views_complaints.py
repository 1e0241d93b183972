"""The complaint queue, a ticket's page with its actions, the office's triage queue, rectification tasks and
the Excel export. Which actions a page offers comes from the workflow map (app.feedback.workflow.WORKFLOW);
whether an action is allowed is decided by app.feedback.service, which every form posts to."""
from io import BytesIO

from flask import current_app, redirect, render_template, request, send_file, url_for

from app.accounts.roles import OFFICE_ROLES, UNIT_ROLES
from app.accounts.service import list_units
from app.common.schemas import MAX_ID
from app.console import uploads
from app.console.views_auth import login_page
from app.console.web import back, back_with_error, bp, current_staff, flash_ok, is_office, login_required, page_arg
from app.errors import Invalid, NotFound
from app.feedback import service
from app.feedback.workflow import KIND_LABELS, STATUS_LABELS, WORKFLOW
from app.projects.service import plan_overview

PER_PAGE = 20


def _int(value):
    value = (value or "").strip()
    # ASCII digits only ("²" is a digit to isdigit()), and no id bigger than the database holds.
    return int(value) if value.isascii() and value.isdigit() and int(value) <= MAX_ID else None


def queue_filters(args):
    """The queue's query string → the service's filters (unknown values are ignored, as an empty filter)."""
    overdue = {"1": True, "0": False}.get(args.get("overdue", ""))
    return {
        "status": args.get("status") if args.get("status") in STATUS_LABELS else None,
        "overdue": overdue,
        "unit": _int(args.get("unit")),
        "project": _int(args.get("project")),
        "kind": args.get("kind") if args.get("kind") in KIND_LABELS else None,
        "q": (args.get("q") or "").strip()[:64] or None,
    }


def _query_args(filters):
    return {k: (("1" if v else "0") if isinstance(v, bool) else v) for k, v in filters.items() if v is not None}


def _projects():
    try:
        return [p for c in plan_overview()["categories"] for p in c["projects"]]
    except NotFound:
        return []


@bp.get("/")
def index():
    """The login form for a visitor; the complaint queue (overdue first) for logged-in staff."""
    staff = current_staff()
    if staff is None:
        return login_page()
    from app.console import DUTY_PAGES

    if staff.role in DUTY_PAGES:
        return redirect(url_for(DUTY_PAGES[staff.role][0]))
    filters = queue_filters(request.args)
    page = page_arg()
    listing = service.list_for_staff(staff, filters, page, PER_PAGE)
    counts = service.count_by_status(staff, filters)
    overdue = counts.pop("overdue")
    args = _query_args(filters)
    return render_template(
        "console/queue.html", listing=listing, filters=filters, args=args, counts=counts, overdue=overdue,
        statuses=STATUS_LABELS, kinds=KIND_LABELS, page=page, per_page=PER_PAGE,
        units=list_units() if is_office(staff) else [], projects=_projects(),
        export_url=url_for("console.export", **args),
    )


def _actions(ticket):
    """The actions the workflow map offers this staff member in the ticket's state (the service re-checks)."""
    role = ticket["my_role"]
    return {name for name, action in WORKFLOW.items() if role in action.actors and ticket["status"] in action.moves}


def _ticket_page(complaint_id, revealed=None):
    staff = current_staff()
    ticket = service.get_for_staff(complaint_id, staff)
    actions = _actions(ticket)
    duplicates = service.duplicates_for_office(complaint_id, staff)["items"] if "merge" in actions else []
    return render_template(
        "console/complaint.html", t=ticket, actions=actions, has_work=bool(actions - {"reveal_contact"}),
        revealed=revealed, units=list_units() if is_office(staff) else [], max_extension=_max_extension(),
        duplicates=duplicates,
    )


def _max_extension():
    return current_app.config["COMPLAINT_EXTENSION_MAX_WORKDAYS"]


@bp.get("/complaints/<int:complaint_id>")
@login_required()
def complaint(complaint_id):
    return _ticket_page(complaint_id)


def _act(complaint_id, done_message, call):
    """Run one service call for a form; a refused input comes back as a message on the ticket's page, a wrong
    state or a foreign ticket as the 409/404 page. `done_message` is the message, or makes it from the call's
    outcome (what the service says happened)."""
    try:
        outcome = call()
    except Invalid as error:
        return back_with_error(error, "console.complaint", complaint_id=complaint_id)
    flash_ok(done_message(outcome) if callable(done_message) else done_message)
    return back("console.complaint", complaint_id=complaint_id)


@bp.post("/complaints/<int:complaint_id>/reveal-contact")
@login_required()
def reveal_contact(complaint_id):
    try:
        result = service.reveal_contact(complaint_id, current_staff(), request.form.get("reason", ""),
                                        ip=request.remote_addr)
    except Invalid as error:
        return back_with_error(error, "console.complaint", complaint_id=complaint_id)
    # Shown on this one response only: the full number is never put in the session or a redirect.
    return _ticket_page(complaint_id, revealed=result["phone"])


@bp.post("/complaints/<int:complaint_id>/sign")
@login_required(*UNIT_ROLES)
def sign(complaint_id):
    return _act(complaint_id, "已签收，请在答复时限内答复。",
                lambda: service.sign(complaint_id, current_staff()))


@bp.post("/complaints/<int:complaint_id>/reply")
@login_required(*UNIT_ROLES)
def reply(complaint_id):
    staff = current_staff()

    def call():
        images = uploads.kept_ids() + uploads.store_files(staff, "photos")
        service.reply(complaint_id, staff, request.form.get("content", ""), images)

    return _act(complaint_id, "已答复，居民将收到通知。", call)


@bp.post("/complaints/<int:complaint_id>/return")
@login_required(*UNIT_ROLES)
def request_return(complaint_id):
    return _act(complaint_id, "退单申请已提交，等待专班办公室审核。",
                lambda: service.request_return(complaint_id, current_staff(), request.form.get("reason", "")))


@bp.post("/complaints/<int:complaint_id>/extension")
@login_required(*UNIT_ROLES)
def request_extension(complaint_id):
    # A missing or non-numeric day count goes to the service as None: it says what is allowed.
    days = _int(request.form.get("working_days"))
    return _act(complaint_id, "延期申请已提交，等待专班办公室审核。",
                lambda: service.request_extension(complaint_id, current_staff(), days, request.form.get("reason", "")))


@bp.post("/complaints/<int:complaint_id>/assign")
@login_required(*OFFICE_ROLES)
def assign(complaint_id):
    unit_id = _int(request.form.get("unit_id"))
    co_units = [i for i in (_int(v) for v in request.form.getlist("co_unit_ids")) if i is not None]

    staff = current_staff()

    def call():
        if unit_id is None:
            raise Invalid("请选择承办单位。", errors={"unit_id": ["必填。"]})
        # A quick assign from the triage list has no co-unit field: the service then leaves co-units unchanged
        # when it refuses a return, and names none for a new assignment.
        return service.assign(complaint_id, staff, unit_id, co_units if "co_units_given" in request.form else None,
                              request.form.get("note"))

    def done(outcome):
        if outcome["action"] == "refuse_return":
            return "已驳回退单申请，仍由原单位办理。"
        return "已同意退单，并改派给新的承办单位。" if outcome["return_approved"] else "已派单。"

    return _act(complaint_id, done, call)


@bp.post("/complaints/<int:complaint_id>/extension/decision")
@login_required(*OFFICE_ROLES)
def decide_extension(complaint_id):
    approve = request.form.get("approve") == "1"
    return _act(complaint_id, "已同意延期，答复时限已顺延。" if approve else "已驳回延期申请。",
                lambda: service.decide_extension(complaint_id, current_staff(), approve, request.form.get("note")))


@bp.post("/complaints/<int:complaint_id>/urge")
@login_required(*OFFICE_ROLES)
def urge(complaint_id):
    return _act(complaint_id, "已督办。",
                lambda: service.urge(complaint_id, current_staff(), request.form.get("note", "")))


@bp.post("/complaints/<int:complaint_id>/merge")
@login_required(*OFFICE_ROLES)
def merge(complaint_id):
    staff = current_staff()
    target = (request.form.get("into") or "").strip()

    def call():
        # The office types the other ticket's number (or id); the service decides whether it may be merged.
        into_id = _int(target)
        if into_id is None and target:
            found = service.list_for_staff(staff, {"q": target}, 1, 5)["items"]
            into_id = next((i["id"] for i in found if i["ticket_no"] == target), None)
        if into_id is None:
            raise Invalid(f"找不到要并入的诉求：{target or '（未填写）'}", errors={"into_id": ["诉求不存在。"]})
        service.merge(complaint_id, staff, into_id)

    return _act(complaint_id, f"已并入 {target}。", call)


@bp.get("/triage")
@login_required(*OFFICE_ROLES)
def triage():
    """The office's desk: tickets to assign, return and extension requests to decide, overdue ones to urge."""
    staff = current_staff()
    sections = [
        ("triage", "待分派", service.list_for_staff(staff, {"status": "triage"}, 1, 50)),
        ("return_requested", "退单申请", service.list_for_staff(staff, {"status": "return_requested"}, 1, 50)),
        ("extension_requested", "延期申请", service.list_for_staff(staff, {"status": "extension_requested"}, 1, 50)),
        ("overdue", "超期未办", service.list_for_staff(staff, {"overdue": True}, 1, 50)),
    ]
    return render_template("console/triage.html", sections=sections, units=list_units())


@bp.get("/complaints.xlsx")
@login_required()
def export():
    content, filename = service.export_complaints(current_staff(), queue_filters(request.args),
                                                  ip=request.remote_addr)
    return send_file(BytesIO(content), as_attachment=True, download_name=filename,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.get("/rectifications")
@login_required()
def rectifications():
    staff = current_staff()
    status = request.args.get("status", "open")
    filters = {"status": status if status in ("open", "answered") else None}
    page = page_arg()
    listing = service.list_rectifications(staff, filters, page, PER_PAGE)
    return render_template("console/rectifications.html", listing=listing, status=filters["status"], page=page,
                           per_page=PER_PAGE, can_answer=staff.role in UNIT_ROLES)


@bp.post("/rectifications/<int:task_id>/answer")
@login_required(*UNIT_ROLES)
def answer_rectification(task_id):
    try:
        service.answer_rectification(task_id, current_staff(), request.form.get("result", ""))
    except Invalid as error:
        return back_with_error(error, "console.rectifications")
    flash_ok("整改情况已答复，评价居民将收到通知。")
    return back("console.rectifications")

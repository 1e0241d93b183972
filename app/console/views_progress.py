"""Progress updates: a lead unit fills in the form (metric values per township, text, photos); the office
reviews, rejects or publishes. Every step is a call into app.progress.service."""
from flask import render_template, request

from app.accounts.roles import OFFICE_ROLES, UNIT_ROLES
from app.console import uploads
from app.console.web import back, back_with_error, bp, current_staff, flash_ok, is_office, login_required, page_arg
from app.errors import Conflict, Invalid, NotFound
from app.progress import service
from app.progress.models import STATUS_LABELS
from app.projects.service import list_projects, plan_overview, project_detail

PER_PAGE = 20


def _unit_projects(staff):
    return list_projects({"unit": str(staff.unit_id)}, 1, 100)["items"] if staff.unit_id else []


@bp.get("/updates")
@login_required()
def updates():
    staff = current_staff()
    status = request.args.get("status")
    if status not in STATUS_LABELS:
        status = "draft" if is_office(staff) else None
    page = page_arg()
    listing = service.list_updates(staff, {"status": status}, page, PER_PAGE)
    stale = service.stale_projects(staff, per_page=50)
    return render_template("console/updates.html", listing=listing, status=status, statuses=STATUS_LABELS,
                           page=page, per_page=PER_PAGE, stale=stale,
                           projects=[] if is_office(staff) else _unit_projects(staff))


def _form_values(metrics):
    """The form's metric inputs → [{metric_id, value, township}], blanks skipped (they change nothing);
    also the raw texts by field name, to show them again if the service refuses the draft."""
    values, raw, names = [], {}, []
    for metric in metrics:
        keys = [(f'v:{metric["id"]}:{t["township"]}', t["township"]) for t in metric["townships"]] \
            or [(f'v:{metric["id"]}:', None)]
        for name, township in keys:
            text = (request.form.get(name) or "").strip()
            raw[name] = text
            if text:
                values.append({"metric_id": metric["id"], "value": text, "township": township})
                names.append(name)
    return values, raw, names


def _field_errors(error, names):
    """The service's errors (metric_values by position) keyed by the form's field names."""
    errors = dict(error.errors or {})
    by_field = {}
    for index, problems in (errors.pop("metric_values", None) or {}).items():
        if str(index).isdigit() and int(index) < len(names):
            by_field[names[int(index)]] = "；".join(m for msgs in problems.values() for m in msgs)
    for field, messages in errors.items():
        by_field[field] = "；".join(messages) if isinstance(messages, list) else str(messages)
    return by_field


def _render_form(project, status=200, update=None, raw=None, errors=None, message=None, image_ids=()):
    plan = plan_overview()
    if raw is None:
        raw = {}
        for item in (update or {}).get("metric_values", []):
            raw[f'v:{item["metric_id"]}:{item["township"] or ""}'] = item["value"]
    return render_template(
        "console/update_form.html", project=project, update=update, raw=raw, errors=errors or {},
        message=message, townships=plan["townships"], image_ids=list(image_ids),
        content=request.form.get("content", (update or {}).get("content", "")),
        township=request.form.get("township", (update or {}).get("township") or ""),
    ), status


def _drafting_project(project_id):
    """The item's public detail, for a unit that leads it; any other item is a 404, as in the service."""
    staff = current_staff()
    if project_id not in {p["id"] for p in _unit_projects(staff)}:
        raise NotFound("项目不存在。")
    return project_detail(project_id)


def _submit(project, save):
    """Parse the form, store new photos, call `save(content, metric_values, image_ids, township)`;
    re-render the form with the service's messages if it refuses."""
    values, raw, names = _form_values(project["metrics"])
    image_ids = uploads.kept_ids()
    try:
        image_ids += uploads.store_files(current_staff(), "photos")
        result = save(request.form.get("content", ""), values, image_ids, request.form.get("township") or None)
    except Invalid as error:
        return None, _render_form(project, 422, raw=raw, errors=_field_errors(error, names), message=error.message,
                                  image_ids=image_ids)
    return result, None


@bp.get("/projects/<int:project_id>/updates/new")
@login_required(*UNIT_ROLES)
def update_new(project_id):
    return _render_form(_drafting_project(project_id))


@bp.post("/projects/<int:project_id>/updates")
@login_required(*UNIT_ROLES)
def update_create(project_id):
    project = _drafting_project(project_id)
    staff = current_staff()
    update, page = _submit(project, lambda content, values, images, township: service.create_draft(
        project_id, staff, content, values, images, township))
    if page:
        return page
    flash_ok("进展已提交，等待专班办公室审核发布。")
    return back("console.update_detail", update_id=update["id"])


@bp.get("/updates/<int:update_id>")
@login_required()
def update_detail(update_id):
    staff = current_staff()
    update = service.get_update(update_id, staff)
    project = project_detail(update["project"]["id"])
    return render_template("console/update_review.html", update=update, project=project,
                           can_review=is_office(staff) and update["status"] == "draft",
                           can_edit=not is_office(staff) and update["status"] in ("draft", "rejected"))


@bp.get("/updates/<int:update_id>/edit")
@login_required(*UNIT_ROLES)
def update_edit(update_id):
    update = service.get_update(update_id, current_staff())
    if update["status"] == "published":
        raise Conflict("进展已发布，不能再修改。")
    return _render_form(project_detail(update["project"]["id"]), update=update,
                        image_ids=[i["id"] for i in update["images"]])


@bp.post("/updates/<int:update_id>/edit")
@login_required(*UNIT_ROLES)
def update_save(update_id):
    staff = current_staff()
    update = service.get_update(update_id, staff)
    project = project_detail(update["project"]["id"])
    saved, page = _submit(project, lambda content, values, images, township: service.edit_draft(
        update_id, staff, {"content": content, "metric_values": values, "image_ids": images, "township": township}))
    if page:
        return page
    flash_ok("修改已保存，已重新提交审核。" if update["status"] == "rejected" else "修改已保存。")
    return back("console.update_detail", update_id=update_id)


@bp.post("/updates/<int:update_id>/publish")
@login_required(*OFFICE_ROLES)
def update_publish(update_id):
    update = service.publish(update_id, current_staff())
    flash_ok(f"已发布“{update['project']['code']} {update['project']['title']}”的进展，订阅居民将收到通知。")
    return back("console.updates")


@bp.post("/updates/<int:update_id>/reject")
@login_required(*OFFICE_ROLES)
def update_reject(update_id):
    try:
        service.reject(update_id, current_staff(), request.form.get("reason", ""))
    except Invalid as error:
        return back_with_error(error, "console.update_detail", update_id=update_id)
    flash_ok("已退回，填报单位将看到退回原因。")
    return back("console.updates")

"""What every part of the feedback service shares: the clock, text clean-up and length checks, references to
units and projects as the API shows them, the WeChat content check and commit-then-enqueue."""
import re

from app.common.text import visible_length
from app.common.timeutil import as_utc, utcnow
from app.errors import Invalid, NotFound
from app.extensions import db
from app.projects.models import Project
from app.wechat import security
from app.wechat.outbox import enqueue_notifications

MAX_IMAGES = 9
COMPLAINT_PAGE = "pages/complaint/detail?id={id}"
PROJECT_PAGE = "pages/project/detail?id={id}"


def resolve_now(now):
    """`now` as UTC, or the clock when the caller gave none."""
    return as_utc(now) if now is not None else utcnow()


def clean_text(text):
    """Stripped, runs of spaces and tabs folded to one space (line breaks kept)."""
    return re.sub(r"[ \t\r\f\v]+", " ", (text or "").strip())


def check_length(field, text, minimum, maximum, label):
    """`text` if it holds at least `minimum` letters or digits (app.common.text) and at most `maximum`
    characters; otherwise the field's 422."""
    if visible_length(text) < minimum:
        raise Invalid(f"{label}至少 {minimum} 个字。", errors={field: [f"至少 {minimum} 个字。"]})
    if len(text) > maximum:
        raise Invalid(f"{label}不能超过 {maximum} 个字。", errors={field: [f"不能超过 {maximum} 个字。"]})
    return text


def check_image_count(image_ids):
    if len(set(image_ids or [])) > MAX_IMAGES:
        raise Invalid(f"最多上传 {MAX_IMAGES} 张图片。", errors={"image_ids": [f"最多 {MAX_IMAGES} 张。"]})


def unit_ref(unit):
    return {"id": unit.id, "name": unit.name} if unit is not None else None


def project_ref(project):
    return {"id": project.id, "code": project.code, "title": project.title} if project is not None else None


def public_project_or_404(project_id):
    project = db.session.execute(
        db.select(Project).where(Project.id == project_id, Project.public.is_(True))
    ).scalar_one_or_none()
    if project is None:
        raise NotFound("项目不存在。")
    return project


def public_project_or_invalid(project_id):
    """The same lookup for a project named in a form: a field error, not a missing page."""
    try:
        return public_project_or_404(project_id)
    except NotFound:
        raise Invalid("项目不存在。", errors={"project_id": ["项目不存在。"]}) from None


def refuse_risky_text(openid, text, scene, field):
    """Runs the WeChat content check; risky text is refused with the reason, the verdict is returned."""
    verdict = security.check_text(openid, text, scene)
    if verdict == "risky":
        raise Invalid("内容含有违规信息，不予受理，请修改后重新提交。", errors={field: ["内容未通过微信内容安全检测。"]})
    return verdict


def commit_then_enqueue(notifications):
    """Commit, and only then hand the queued notifications to the sender (a rollback sends nothing)."""
    ids = [n.id for n in notifications if n is not None]
    db.session.commit()
    if ids:
        enqueue_notifications(ids)

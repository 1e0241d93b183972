"""A plan workbook uploaded in the console: checked as a dry run (the administrator sees every change), kept
until confirmed, then imported exactly as `flask plan import` would (same validation, history, idempotency).

The file waits in the instance folder under a random token that only the uploading administrator's session
knows; confirming a token imports the very bytes that were reviewed."""
import secrets
from pathlib import Path

from app import cache
from app.accounts.roles import ADMIN_ROLES
from app.accounts.service import audit
from app.errors import Forbidden, Invalid, NotFound
from app.projects.importer import PlanFileError, import_plan

MAX_BYTES = 5 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"


def _path(folder, token):
    if not (isinstance(token, str) and token.replace("-", "").replace("_", "").isalnum() and len(token) < 64):
        raise NotFound("上传的计划已失效，请重新上传。")
    return Path(folder) / f"plan-upload-{token}.xlsx"


def _require_admin(staff):
    if staff.role not in ADMIN_ROLES:
        raise Forbidden("只有管理员可以导入计划。")


def stage(content, staff, folder):
    """Checks `content` (an .xlsx) as a dry run; returns (token, report). Invalid with each bad cell named."""
    _require_admin(staff)
    if not content:
        raise Invalid("请选择计划 Excel 文件。", errors={"file": ["必填。"]})
    if len(content) > MAX_BYTES or not content.startswith(XLSX_MAGIC):
        raise Invalid("文件应为不超过 5 MB 的 Excel（.xlsx）计划模板。", errors={"file": ["不是 .xlsx 文件。"]})
    Path(folder).mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(16)
    path = _path(folder, token)
    path.write_bytes(content)
    try:
        report = import_plan(path, actor=f"staff:{staff.id}", dry_run=True)
    except PlanFileError as exc:
        path.unlink(missing_ok=True)
        raise Invalid("计划文件有误，未导入。",
                      errors={place: [reason] for place, reason in exc.problems.items()}) from None
    return token, report


def confirm(token, staff, folder):
    """Imports the staged file; returns the report. The file is removed whether the import succeeds or not."""
    _require_admin(staff)
    path = _path(folder, token)
    if not path.exists():
        raise NotFound("上传的计划已失效，请重新上传。")
    try:
        report = import_plan(path, actor=f"staff:{staff.id}")
    except PlanFileError as exc:
        raise Invalid("计划文件有误，未导入。",
                      errors={place: [reason] for place, reason in exc.problems.items()}) from None
    finally:
        path.unlink(missing_ok=True)
    if report.changed:
        audit("staff", staff.id, "plan.import", "plan", report.plan_id, {"summary": report.summary()})
        from app.extensions import db

        db.session.commit()
        cache.invalidate()
    return report


def discard(token, folder):
    try:
        _path(folder, token).unlink(missing_ok=True)
    except NotFound:
        pass

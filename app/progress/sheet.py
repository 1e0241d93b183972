"""Progress from Excel: a unit downloads a sheet of the metrics it answers for (one row per township where the
metric has a breakdown) and uploads it filled in; each item with anything filled becomes one draft, validated
cell by cell through the same rules as a draft over the API; one bad cell and nothing is created.

Sheets: 指标 (项目编号, 项目名称, 指标代码, 指标名称, 计量单位, 乡镇, 目标值, 当前公开值, 本次完成值 — the last to
fill, blank = unchanged) and 进展说明 (项目编号, 项目名称, 进展说明 — required for an item with values).
The metric id and township of each row are in hidden columns, so editing names does not move a value."""
from decimal import Decimal
from io import BytesIO
from zipfile import BadZipFile

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils.exceptions import InvalidFileException

from app.accounts.service import audit
from app.common.numbers import fmt_decimal
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.progress.models import ProgressUpdate
from app.progress.service import UNIT_ROLES, _clean_content, update_json, validate_metric_values
from app.projects.models import Project, ProjectUnit
from app.projects.service import get_plan

VALUE_HEADER = ("项目编号", "项目名称", "指标代码", "指标名称", "计量单位", "乡镇", "目标值", "当前公开值", "本次完成值",
                "metric_id", "township")
VALUE_COLUMN, ID_COLUMN, TOWNSHIP_COLUMN = 9, 10, 11
CONTENT_HEADER = ("项目编号", "项目名称", "进展说明", "project_id")
CONTENT_COLUMN, PROJECT_COLUMN = 3, 4
MAX_BYTES = 5 * 1024 * 1024
FILL = PatternFill("solid", fgColor="FFF2CC")


def _require_unit(staff):
    if staff.role not in UNIT_ROLES or not staff.unit_id:
        raise Forbidden("进度表由牵头单位下载和填报。")


def _projects(staff, plan):
    """The unit's items in the plan, with the metrics it answers for (its own, or naming no unit)."""
    projects = db.session.execute(
        db.select(Project).join(ProjectUnit).where(Project.plan_id == plan.id, ProjectUnit.unit_id == staff.unit_id)
        .order_by(Project.position)
    ).unique().scalars().all()
    result = []
    for project in projects:
        metrics = [m for m in project.metrics if m.responsible_unit_id in (None, staff.unit_id)]
        if metrics:
            result.append((project, metrics))
    return result


def _number(value):
    d = Decimal(value).normalize()
    return int(d) if d == d.to_integral_value() else float(d)


def progress_sheet(staff, plan_id=None):
    """The unit's sheet for the plan (default: the current one) as .xlsx bytes and a file name."""
    _require_unit(staff)
    plan = get_plan(plan_id)
    book = Workbook()
    values = book.active
    values.title = "指标"
    values.append(VALUE_HEADER)
    contents = book.create_sheet("进展说明")
    contents.append(CONTENT_HEADER)
    for project, metrics in _projects(staff, plan):
        contents.append([project.code, project.title, None, project.id])
        for metric in metrics:
            rows = [(t.township, t.target, t.current) for t in metric.townships] or [
                (None, metric.target, metric.current)]
            for township, target, current in rows:
                values.append([project.code, project.title, metric.key, metric.name, metric.unit,
                               township or "全县", _number(target), _number(current), None, metric.id, township])
    for sheet, editable in ((values, VALUE_COLUMN), (contents, CONTENT_COLUMN)):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in sheet.iter_rows(min_row=2, min_col=editable, max_col=editable):
            row[0].fill = FILL
        sheet.freeze_panes = "A2"
    for column in ("J", "K"):
        values.column_dimensions[column].hidden = True
    contents.column_dimensions["D"].hidden = True
    out = BytesIO()
    book.save(out)
    return out.getvalue(), f"进度填报-{plan.year}-{staff.unit.name}.xlsx"


def _read(content):
    if not content or len(content) > MAX_BYTES:
        raise Invalid("请上传不超过 5 MB 的进度表（.xlsx）。", errors={"file": ["必填，至多 5 MB。"]})
    try:
        book = load_workbook(BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError):
        raise Invalid("文件不是 Excel（.xlsx）进度表。", errors={"file": ["不是 .xlsx 文件。"]}) from None
    try:
        if "指标" not in book.sheetnames or "进展说明" not in book.sheetnames:
            raise Invalid("不是本系统下载的进度表（缺少“指标”或“进展说明”工作表）。",
                          errors={"file": ["缺少工作表。"]})
        values = list(book["指标"].iter_rows(min_row=2, values_only=True))
        contents = list(book["进展说明"].iter_rows(min_row=2, values_only=True))
    finally:
        book.close()
    return values, contents


def _cell(value):
    if value is None:
        return None
    if isinstance(value, float):
        return fmt_decimal(Decimal(repr(value)))
    text = str(value).strip()
    return text or None


def upload_progress_sheet(staff, content):
    """One draft per item with anything filled in; Invalid naming every bad cell, and nothing created."""
    _require_unit(staff)
    values, contents = _read(content)
    errors, per_project, texts = {}, {}, {}
    for number, row in enumerate(values, start=2):
        row = tuple(row) + (None,) * (TOWNSHIP_COLUMN - len(row))
        value = _cell(row[VALUE_COLUMN - 1])
        if value is None:
            continue
        try:
            metric_id = int(row[ID_COLUMN - 1])
        except (TypeError, ValueError):
            errors[f"工作表“指标”第 {number} 行"] = ["隐藏列 metric_id 被改动，请重新下载进度表。"]
            continue
        per_project.setdefault(metric_id, []).append((number, value, _cell(row[TOWNSHIP_COLUMN - 1])))
    for number, row in enumerate(contents, start=2):
        row = tuple(row) + (None,) * (PROJECT_COLUMN - len(row))
        text = _cell(row[CONTENT_COLUMN - 1])
        try:
            project_id = int(row[PROJECT_COLUMN - 1])
        except (TypeError, ValueError):
            if text:
                errors[f"工作表“进展说明”第 {number} 行"] = ["隐藏列 project_id 被改动，请重新下载进度表。"]
            continue
        texts[project_id] = (number, text)

    # Group the values by item: the metric's project, among the items this unit leads.
    from app.projects.models import Metric

    metrics = {m.id: m for m in db.session.execute(
        db.select(Metric).where(Metric.id.in_(list(per_project) or [0]))).scalars()}
    led = set(db.session.execute(db.select(ProjectUnit.project_id)
                                 .where(ProjectUnit.unit_id == staff.unit_id)).scalars())
    drafts = {}
    for metric_id, entries in per_project.items():
        metric = metrics.get(metric_id)
        for number, value, township in entries:
            if metric is None or metric.project_id not in led:
                errors[f"工作表“指标”第 {number} 行"] = ["该指标不是本单位牵头项目的指标，请重新下载进度表。"]
                continue
            drafts.setdefault(metric.project_id, []).append(
                (number, {"metric_id": metric_id, "value": value, "township": township}))
    for project_id in set(texts) - set(drafts):
        number, text = texts[project_id]
        if text and project_id in led:
            drafts.setdefault(project_id, [])
    created = []
    for project_id, entries in drafts.items():
        project = db.session.get(Project, project_id)
        number, text = texts.get(project_id, (None, None))
        try:
            clean = _clean_content(text)
        except Invalid as error:
            place = f"工作表“进展说明”第 {number} 行 C 列" if number else f"工作表“进展说明”（项目 {project.code}）"
            errors[place] = [error.message]
            clean = None
        try:
            normalised = validate_metric_values(project, [item for _, item in entries], staff.unit_id)
        except Invalid as error:
            for index, problems in error.errors["metric_values"].items():
                row = entries[int(index)][0]
                errors[f"工作表“指标”第 {row} 行 I 列"] = [m for ms in problems.values() for m in ms]
            continue
        if clean is not None:
            created.append((project, clean, normalised))
    if errors:
        raise Invalid("进度表有误，未生成任何草稿。", errors=errors)
    if not created:
        raise Invalid("进度表中没有填写任何完成值或进展说明。", errors={"file": ["未填写。"]})
    updates = []
    for project, text, normalised in created:
        update = ProgressUpdate(project=project, unit_id=staff.unit_id, author_id=staff.id, status="draft",
                                content=text, metric_values=normalised, image_ids=[], township=None)
        db.session.add(update)
        updates.append(update)
    db.session.flush()
    for update in updates:
        audit("staff", staff.id, "progress.draft", "progress_update", update.id,
              {"project_id": update.project_id, "source": "sheet"})
    db.session.commit()
    return {"items": [update_json(u) for u in updates]}

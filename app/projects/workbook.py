"""A plan as an Excel workbook, the format county offices work in (docs/plan-workbook.md describes the template).

read_workbook(path) gives the same mapping a YAML plan file holds, plus where each value came from, so the
importer validates it with the same schema and names a bad cell by sheet, row and column; write_workbook(plan)
writes that template from a stored plan, and importing what it writes changes nothing.

Sheets: 计划 (field, value), 项目 (one row an item, its category in the first two columns), 指标 (one row a
metric, by item code and key), 乡镇分解 (one row a metric's figure in one township), 单位 (the task force:
field, value; one 成员单位 row per member unit), 乡镇 (the county's townships, one a row).
"""
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from zipfile import BadZipFile

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException

from app.common.numbers import fmt_decimal

PLAN_FIELDS = (("region", "地区"), ("year", "年度"), ("title", "标题"), ("start_date", "开始日期"),
               ("end_date", "结束日期"), ("description", "说明"))
PROJECT_COLUMNS = (("category_code", "类别编号"), ("category_name", "类别名称"), ("code", "项目编号"),
                   ("title", "项目名称"), ("description", "项目内容"), ("lead_units", "牵头单位"),
                   ("planned_start", "计划开工"), ("due_date", "完成期限"), ("public", "公开"))
METRIC_COLUMNS = (("project", "项目编号"), ("key", "指标代码"), ("name", "指标名称"), ("kind", "类型"),
                  ("unit", "计量单位"), ("comparison", "比较"), ("baseline", "原标准"), ("target", "目标值"),
                  ("current", "当前值"), ("responsible_unit", "负责单位"), ("note", "说明"))
TOWNSHIP_COLUMNS = (("project", "项目编号"), ("metric", "指标代码"), ("name", "乡镇"), ("target", "目标值"),
                    ("current", "当前值"))
TASK_FORCE_FIELDS = (("name", "专班名称"), ("convener", "召集人"), ("deputy_convener_unit", "副召集单位"),
                     ("office_name", "办公室名称"), ("office_unit", "办公室所在单位"))
MEMBER = "成员单位"
KINDS = {"数量": "quantity", "提标": "standard", "节点": "milestone"}
KIND_LABELS = {v: k for k, v in KINDS.items()}
YES, NO = "是", "否"
UNIT_SEPARATOR = "、"
SHEETS = ("计划", "项目", "指标", "乡镇分解", "单位", "乡镇")


class WorkbookError(ValueError):
    """The workbook cannot be read as the template at all; `problems` maps a place to its reason."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))


# ------------------------------------------------------------------------------------------------- reading


def _text(value):
    """A cell as the YAML file would hold it: strings stripped, whole numbers without '.0', dates as dates."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same double: 48.464, not 48.46399999999999.
        return fmt_decimal(Decimal(repr(value)))
    if isinstance(value, int):
        return str(value)
    text = str(value).strip()
    return text or None


def _rows(sheet, columns):
    """The data rows of a table sheet as dicts keyed by the columns' fields; header in row 1 (by name)."""
    header = [(_text(c.value) or "") for c in next(sheet.iter_rows(min_row=1, max_row=1), ())]
    index = {}
    for field_name, label in columns:
        if label in header:
            index[field_name] = header.index(label)
    missing = [label for f, label in columns if f not in index]
    if missing:
        raise WorkbookError({f"工作表“{sheet.title}”第 1 行": f"缺少列：{'、'.join(missing)}"})
    letters = {f: sheet.cell(row=1, column=i + 1).column_letter for f, i in index.items()}
    rows = []
    for number, cells in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        values = {f: _text(cells[i]) if i < len(cells) else None for f, i in index.items()}
        if all(v is None for v in values.values()):
            continue
        rows.append((number, values))
    return rows, letters


def _field_values(sheet, fields_, places, prefix):
    """A two-column (field, value) sheet: {field: value}; unknown field names are refused."""
    by_label = {label: f for f, label in fields_}
    found, members = {}, []
    for number, cells in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
        label = _text(cells[0]) if cells else None
        value = _text(cells[1]) if len(cells) > 1 else None
        if label is None or (number == 1 and label == "字段"):
            continue
        place = f"工作表“{sheet.title}”第 {number} 行 B 列"
        if label == MEMBER:
            places[f"{prefix}.member_units[{len(members)}]"] = place
            members.append(value)
        elif label in by_label:
            found[by_label[label]] = value
            places[f"{prefix}.{by_label[label]}"] = place
        else:
            raise WorkbookError({f"工作表“{sheet.title}”第 {number} 行 A 列": f"未知字段：{label}"})
    return found, members


def _sheet(book, name):
    if name not in book.sheetnames:
        raise WorkbookError({"文件": f"缺少工作表“{name}”（应有：{'、'.join(SHEETS)}）"})
    return book[name]


def read_workbook(path):
    """(raw mapping as in a YAML plan file, {data path: "工作表“指标”第 7 行 H 列"})."""
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as exc:
        raise WorkbookError({"文件": f"无法读取 Excel 文件：{exc}"}) from None
    try:
        return _read(book)
    finally:
        book.close()


def _read(book):
    places = {}
    header, _ = _field_values(_sheet(book, "计划"), PLAN_FIELDS, places, "plan")
    if header.get("year") is not None:
        header["year"] = str(header["year"])
    task_force, members = _field_values(_sheet(book, "单位"), TASK_FORCE_FIELDS, places, "task_force")
    task_force = {k: v for k, v in task_force.items() if v is not None}
    task_force["member_units"] = members
    township_rows, _ = _rows(_sheet(book, "乡镇"), (("name", "乡镇名称"),))
    townships = []
    for number, row in township_rows:
        places[f"townships[{len(townships)}]"] = f"工作表“乡镇”第 {number} 行 A 列"
        townships.append(row["name"])

    categories, metric_slots = [], {}
    by_code = {}
    project_rows, letters = _rows(_sheet(book, "项目"), PROJECT_COLUMNS)
    for number, row in project_rows:
        code = row.pop("category_code")
        name = row.pop("category_name")
        if code not in by_code:
            by_code[code] = len(categories)
            categories.append({"code": code, "name": name, "projects": []})
            c = by_code[code]
            places[f"categories[{c}]"] = f"工作表“项目”第 {number} 行"
            places[f"categories[{c}].code"] = f"工作表“项目”第 {number} 行 A 列"
            places[f"categories[{c}].name"] = f"工作表“项目”第 {number} 行 B 列"
        c = by_code[code]
        p = len(categories[c]["projects"])
        prefix = f"categories[{c}].projects[{p}]"
        places[prefix] = f"工作表“项目”第 {number} 行"
        for f, letter in letters.items():
            places[f"{prefix}.{f}"] = f"工作表“项目”第 {number} 行 {letter} 列"
        row["lead_units"] = [u.strip() for u in (row["lead_units"] or "").split(UNIT_SEPARATOR) if u.strip()]
        row["public"] = {YES: True, NO: False, None: True}.get(row["public"], row["public"])
        item = {k: v for k, v in row.items() if v is not None}
        item["metrics"] = []
        categories[c]["projects"].append(item)
        metric_slots[row["code"]] = (prefix, item)

    metric_rows, letters = _rows(_sheet(book, "指标"), METRIC_COLUMNS)
    metrics_by_key = {}
    for number, row in metric_rows:
        owner = metric_slots.get(row.pop("project"))
        if owner is None:
            raise WorkbookError({f"工作表“指标”第 {number} 行 A 列": "项目编号不在“项目”工作表中"})
        prefix, item = owner
        m = len(item["metrics"])
        mprefix = f"{prefix}.metrics[{m}]"
        places[mprefix] = f"工作表“指标”第 {number} 行"
        for f, letter in letters.items():
            places[f"{mprefix}.{f}"] = f"工作表“指标”第 {number} 行 {letter} 列"
        row["kind"] = KINDS.get(row["kind"], row["kind"]) if row["kind"] else None
        metric = {k: v for k, v in row.items() if v is not None}
        metric["townships"] = []
        item["metrics"].append(metric)
        metrics_by_key[(item["code"], row["key"])] = (mprefix, metric)

    township_figures, letters = _rows(_sheet(book, "乡镇分解"), TOWNSHIP_COLUMNS)
    for number, row in township_figures:
        owner = metrics_by_key.get((row.pop("project"), row.pop("metric")))
        if owner is None:
            raise WorkbookError({f"工作表“乡镇分解”第 {number} 行 A 列": "项目编号与指标代码不在“指标”工作表中"})
        mprefix, metric = owner
        t = len(metric["townships"])
        for f, letter in letters.items():
            places[f"{mprefix}.townships[{t}].{f}"] = f"工作表“乡镇分解”第 {number} 行 {letter} 列"
        places[f"{mprefix}.townships[{t}]"] = f"工作表“乡镇分解”第 {number} 行"
        metric["townships"].append({k: v for k, v in row.items() if v is not None})
    raw = {"plan": {k: v for k, v in header.items() if v is not None}, "task_force": task_force,
           "townships": townships, "categories": categories}
    return raw, places


def place_of(path, places):
    """The workbook place of a validation problem's data path: the cell, else its row, else the path."""
    probe = path
    while probe:
        if probe in places:
            return places[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return path


# ------------------------------------------------------------------------------------------------- writing


def _number(value):
    """A stored Decimal as a number Excel shows (and reads back exactly), or None."""
    if value is None:
        return None
    d = Decimal(value).normalize()
    if d == d.to_integral_value():
        return int(d)
    return float(d) if len(d.as_tuple().digits) <= 15 else fmt_decimal(d)


def _table(book, title, columns, rows):
    sheet = book.create_sheet(title)
    sheet.append([label for _, label in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([row.get(f) for f, _ in columns])
    sheet.freeze_panes = "A2"
    return sheet


def write_workbook(plan):
    """The template filled in from `plan` (every item, public or not), as .xlsx bytes."""
    book = Workbook()
    book.remove(book.active)
    sheet = book.create_sheet("计划")
    sheet.append(["字段", "值"])
    for f, label in PLAN_FIELDS:
        sheet.append([label, getattr(plan, f)])
    projects, metrics, figures = [], [], []
    for category in plan.categories:
        for project in sorted(category.projects, key=lambda p: p.position):
            projects.append({
                "category_code": category.code, "category_name": category.name, "code": project.code,
                "title": project.title, "description": project.description or None,
                "lead_units": UNIT_SEPARATOR.join(u.name for u in project.lead_units),
                "planned_start": project.planned_start, "due_date": project.due_date,
                "public": YES if project.public else NO,
            })
            for metric in project.metrics:
                metrics.append({
                    "project": project.code, "key": metric.key, "name": metric.name,
                    "kind": KIND_LABELS[metric.kind], "unit": metric.unit, "comparison": metric.comparison,
                    "baseline": _number(metric.baseline), "target": _number(metric.target),
                    # A township breakdown's county figure is their sum: the import recomputes it.
                    "current": None if metric.townships else _number(metric.current),
                    "responsible_unit": metric.responsible_unit.name if metric.responsible_unit else None,
                    "note": metric.note,
                })
                figures += [{"project": project.code, "metric": metric.key, "name": t.township,
                             "target": _number(t.target), "current": _number(t.current)} for t in metric.townships]
    _table(book, "项目", PROJECT_COLUMNS, projects)
    _table(book, "指标", METRIC_COLUMNS, metrics)
    _table(book, "乡镇分解", TOWNSHIP_COLUMNS, figures)
    sheet = book.create_sheet("单位")
    sheet.append(["字段", "值"])
    task_force = plan.task_force or {}
    for f, label in TASK_FORCE_FIELDS:
        sheet.append([label, task_force.get(f)])
    for name in task_force.get("member_units", []):
        sheet.append([MEMBER, name])
    _table(book, "乡镇", (("name", "乡镇名称"),), [{"name": t} for t in plan.townships or []])
    out = BytesIO()
    book.save(out)
    return out.getvalue()

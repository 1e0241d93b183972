"""Import a year's plan from its data file (YAML or JSON), idempotently and all-or-nothing.

A second import of the same file changes nothing; a changed target is updated and recorded in the public
history; a malformed file is refused with the place and the reason before anything is written.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.accounts.models import Unit
from app.common.numbers import fmt_decimal, to_decimal
from app.common.schemas import DecimalString
from app.extensions import db
from app.projects.import_changes import FIELD_LABELS, Changes
from app.projects.models import (
    COMPARISONS,
    METRIC_KINDS,
    Category,
    Metric,
    MetricChange,
    MetricTownship,
    Plan,
    Project,
    ProjectUnit,
)
from app.projects.progress import decimal_differs, recompute_project

UNITS_OF_MEASURE = (
    "个", "户", "人", "人次", "场", "所", "套", "公里", "万方", "支", "件", "项", "%", "元/月", "元/年", "元/月·人",
)


class PlanFileError(ValueError):
    """The data file is malformed; `problems` maps a place in the file to its reason."""

    def __init__(self, problems):
        self.problems = problems
        lines = [f"{place}: {reason}" for place, reason in problems.items()]
        super().__init__("计划文件有误：\n" + "\n".join(lines))


class TownshipTarget(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=32))
    target = DecimalString(required=True)
    current = DecimalString(load_default=None)


class MetricIn(Schema):
    key = fields.String(required=True, validate=validate.Length(min=1, max=16))
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.String(load_default="quantity", validate=validate.OneOf(METRIC_KINDS))
    unit = fields.String(required=True, validate=validate.OneOf(UNITS_OF_MEASURE))
    comparison = fields.String(load_default=">=", validate=validate.OneOf(COMPARISONS))
    baseline = DecimalString(load_default=None, allow_none=True)
    target = DecimalString(required=True)
    current = DecimalString(load_default=None, allow_none=True)
    note = fields.String(load_default=None, allow_none=True)
    # The lead unit that answers for this metric where the plan says so; absent = any lead unit of the item.
    responsible_unit = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64))
    townships = fields.List(fields.Nested(TownshipTarget), load_default=list)

    @validates_schema
    def _standard_has_baseline(self, data, **kwargs):
        if data["kind"] == "standard" and data.get("baseline") is None:
            raise ValidationError("提标类指标必须写明原标准（baseline）。", "baseline")
        names = [t["name"] for t in data.get("townships", [])]
        if len(names) != len(set(names)):
            raise ValidationError("乡镇重复。", "townships")


class ProjectIn(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{1,2}\.\d{1,2}$", error="编号格式应为 6.1"))
    title = fields.String(required=True, validate=validate.Length(min=1, max=128))
    description = fields.String(load_default="")
    lead_units = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True,
                             validate=validate.Length(min=1, error="至少需要一个牵头单位。"))
    metrics = fields.List(fields.Nested(MetricIn), required=True,
                          validate=validate.Length(min=1, error="每个项目至少需要一个可核验的指标。"))
    planned_start = fields.Date(load_default=None)
    due_date = fields.Date(load_default=None)
    public = fields.Boolean(load_default=True)

    @validates_schema
    def _unique_keys(self, data, **kwargs):
        keys = [m["key"] for m in data.get("metrics", [])]
        if len(keys) != len(set(keys)):
            raise ValidationError("指标 key 重复。", "metrics")
        leads = set(data.get("lead_units", []))
        for metric in data.get("metrics", []):
            if metric.get("responsible_unit") and metric["responsible_unit"] not in leads:
                raise ValidationError(f"指标 {metric['key']} 的负责单位“{metric['responsible_unit']}”不是本项目的牵头单位。",
                                      "metrics")


class CategoryIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=8))
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    projects = fields.List(fields.Nested(ProjectIn), required=True)


class PlanHeader(Schema):
    region = fields.String(required=True, validate=validate.Length(min=1, max=32))
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    title = fields.String(required=True, validate=validate.Length(min=1, max=128))
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    description = fields.String(load_default="")

    @validates_schema
    def _dates(self, data, **kwargs):
        if data["end_date"] < data["start_date"]:
            raise ValidationError("结束日期早于开始日期。", "end_date")


class TaskForceIn(Schema):
    name = fields.String(required=True)
    convener = fields.String(load_default=None)
    deputy_convener_unit = fields.String(load_default=None)
    office_name = fields.String(load_default="专班办公室")
    office_unit = fields.String(required=True)
    member_units = fields.List(fields.String(), load_default=list)


class PlanFileIn(Schema):
    plan = fields.Nested(PlanHeader, required=True)
    task_force = fields.Nested(TaskForceIn, required=True)
    townships = fields.List(fields.String(validate=validate.Length(min=1, max=32)), load_default=list)
    categories = fields.List(fields.Nested(CategoryIn), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _cross_checks(self, data, **kwargs):
        codes = [p["code"] for c in data.get("categories", []) for p in c["projects"]]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValidationError(f"项目编号重复：{'、'.join(duplicates)}", "categories")
        known = set(data.get("townships", []))
        for c in data.get("categories", []):
            for p in c["projects"]:
                for m in p["metrics"]:
                    unknown = [t["name"] for t in m["townships"] if t["name"] not in known]
                    if unknown:
                        raise ValidationError(
                            f"项目 {p['code']} 指标 {m['key']} 的乡镇不在 townships 列表中：{'、'.join(unknown)}",
                            "categories",
                        )


def _flatten(errors, prefix=""):
    """marshmallow's nested error dict → {"categories[2].projects[0].metrics[1].target": "reason"}."""
    flat = {}
    for key, value in errors.items():
        if isinstance(key, int):
            place = f"{prefix}[{key}]"
        else:
            place = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(_flatten(value, place))
        else:
            flat[place or "file"] = "；".join(str(v) for v in (value if isinstance(value, list) else [value]))
    return flat


def load_plan_file(path):
    """The validated plan of a YAML, JSON or .xlsx file (app.projects.workbook); PlanFileError naming each
    problem's place (for a workbook: sheet, row and column) and reason."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        return _load_workbook(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError({"file": f"无法读取文件：{exc}"}) from None
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark else "file"
        raise PlanFileError({place: f"文件格式错误：{getattr(exc, 'problem', None) or exc}"}) from None
    if not isinstance(raw, dict):
        raise PlanFileError({"file": "文件顶层必须是一个映射（plan、task_force、categories）。"})
    try:
        return PlanFileIn().load(raw)
    except ValidationError as exc:
        raise PlanFileError(_flatten(exc.normalized_messages())) from None


def _load_workbook(path):
    from app.projects.workbook import WorkbookError, place_of, read_workbook

    try:
        raw, places = read_workbook(path)
    except WorkbookError as exc:
        raise PlanFileError(exc.problems) from None
    try:
        return PlanFileIn().load(raw)
    except ValidationError as exc:
        problems = {}
        for place, reason in _flatten(exc.normalized_messages()).items():
            where = place_of(place, places)
            problems[where] = f"{problems[where]}；{reason}" if where in problems else reason
        raise PlanFileError(problems) from None


@dataclass
class ImportReport:
    plan_id: int = 0
    created: dict = field(default_factory=lambda: {"units": 0, "categories": 0, "projects": 0, "metrics": 0})
    changed_objects: int = 0
    history_rows: int = 0
    changes: list = field(default_factory=list)

    @property
    def changed(self):
        return any(self.created.values()) or self.changed_objects > 0 or self.history_rows > 0

    def summary(self):
        c = self.created
        return (f"新建：单位 {c['units']}，类别 {c['categories']}，项目 {c['projects']}，指标 {c['metrics']}；"
                f"修改对象 {self.changed_objects}；历史记录 {self.history_rows}")


def _set(obj, attr, value, changes):
    old = getattr(obj, attr)
    if old != value:
        setattr(obj, attr, value)
        changes.changed(obj, attr, old, value)


class _Importer:
    def __init__(self, data, actor):
        self.data = data
        self.actor = actor
        self.report = ImportReport()
        self.units = {}
        self.touched = Changes()

    def unit(self, name):
        if name not in self.units:
            unit = db.session.execute(db.select(Unit).filter_by(name=name)).scalar_one_or_none()
            if unit is None:
                unit = Unit(name=name)
                db.session.add(unit)
                self.report.created["units"] += 1
                self.touched.note(f"新建单位 {name}")
            self.units[name] = unit
        return self.units[name]

    def run(self):
        header, task_force = self.data["plan"], self.data["task_force"]
        plan = db.session.execute(
            db.select(Plan).filter_by(region=header["region"], year=header["year"])
        ).scalar_one_or_none()
        if plan is None:
            plan = Plan(region=header["region"], year=header["year"])
            db.session.add(plan)
        for attr in ("title", "description", "start_date", "end_date"):
            _set(plan, attr, header[attr], self.touched)
        _set(plan, "townships", self.data["townships"], self.touched)
        _set(plan, "task_force", task_force, self.touched)
        office = self.unit(task_force["office_unit"])
        office.is_office_host = True
        plan.office_unit = office
        for name in task_force["member_units"]:
            self.unit(name)
        db.session.flush()
        self.report.plan_id = plan.id

        existing_categories = {c.code: c for c in plan.categories}
        for position, cat_in in enumerate(self.data["categories"], start=1):
            category = existing_categories.get(cat_in["code"])
            if category is None:
                category = Category(plan=plan, code=cat_in["code"], name=cat_in["name"], position=position)
                db.session.add(category)
                self.report.created["categories"] += 1
                self.touched.note(f"新建类别 {cat_in['code']} {cat_in['name']}")
            else:
                _set(category, "name", cat_in["name"], self.touched)
                _set(category, "position", position, self.touched)
            db.session.flush()
            for p_position, proj_in in enumerate(cat_in["projects"], start=1):
                self.project(plan, category, proj_in, position * 100 + p_position)

        # The first plan imported is what the mini-program shows; next year's plan is imported beside it and
        # waits until the administrator makes it current (`flask plan current ID`, or the console).
        if not db.session.execute(db.select(Plan.id).where(Plan.is_current.is_(True))).first():
            _set(plan, "is_current", True, self.touched)
        self.report.changed_objects = len(self.touched)
        self.report.changes = self.touched.lines
        return self.report

    def project(self, plan, category, data, position):
        project = db.session.execute(
            db.select(Project).filter_by(plan_id=plan.id, code=data["code"])
        ).scalar_one_or_none()
        if project is None:
            project = Project(plan=plan, code=data["code"], position=position, category=category,
                              title=data["title"], description=data["description"])
            db.session.add(project)
            self.report.created["projects"] += 1
            self.touched.note(f"新建项目 {data['code']} {data['title']}")
        for attr in ("title", "description", "public", "planned_start"):
            _set(project, attr, data[attr], self.touched)
        _set(project, "due_date", data["due_date"] or plan.end_date, self.touched)
        _set(project, "position", position, self.touched)
        _set(project, "category", category, self.touched)
        db.session.flush()

        wanted = [self.unit(name) for name in data["lead_units"]]
        db.session.flush()
        current = [(link.unit_id, link.position) for link in project.unit_links]
        desired = [(unit.id, i) for i, unit in enumerate(wanted)]
        if current != desired:
            if current:
                self.touched.note(f"项目 {project.code}：牵头单位 → {'、'.join(data['lead_units'])}")
            project.unit_links.clear()
            db.session.flush()
            project.unit_links.extend(ProjectUnit(unit_id=uid, position=i) for uid, i in desired)
            self.touched.add(id(project))

        metrics = {m.key: m for m in project.metrics}
        for m_position, metric_in in enumerate(data["metrics"], start=1):
            self.metric(project, metrics.get(metric_in["key"]), metric_in, m_position)
        db.session.flush()
        recompute_project(project)

    def history(self, project, metric, field_name, old, new, township=None):
        db.session.add(MetricChange(project_id=project.id, metric_id=metric.id, township=township,
                                    field=field_name, old_value=old, new_value=new, source="import",
                                    note=f"计划导入（{self.actor}）"))
        self.report.history_rows += 1
        where = f"（{township}）" if township else ""
        self.touched.note(f"项目 {project.code} 指标 {metric.key}{where}：{FIELD_LABELS[field_name]} "
                          f"{fmt_decimal(old)} → {fmt_decimal(new)}（记入公开历史）")

    def metric(self, project, metric, data, position):
        is_new = metric is None
        if is_new:
            start = data["baseline"] if data["kind"] == "standard" else 0
            metric = Metric(project=project, key=data["key"], target=data["target"], position=position,
                            current=data["current"] if data["current"] is not None else start,
                            name=data["name"], unit=data["unit"])
            db.session.add(metric)
            self.report.created["metrics"] += 1
            self.touched.note(f"新建指标 {project.code} {data['key']} {data['name']}（目标 {data['target']}）")
        for attr in ("name", "kind", "unit", "comparison", "note"):
            _set(metric, attr, data[attr], self.touched)
        _set(metric, "position", position, self.touched)
        responsible = self.unit(data["responsible_unit"]) if data["responsible_unit"] else None
        if responsible is not None and responsible.id is None:
            db.session.flush()
        _set(metric, "responsible_unit_id", responsible.id if responsible else None, self.touched)
        db.session.flush()
        for attr in ("baseline", "target") + (("current",) if data["current"] is not None else ()):
            old, new = getattr(metric, attr), data[attr]
            if is_new:
                setattr(metric, attr, new if attr != "current" else metric.current)
            elif decimal_differs(old, new):
                self.history(project, metric, attr, old, new)
                setattr(metric, attr, new)
                self.touched.add(id(metric))
        self.townships(project, metric, data["townships"])

    def townships(self, project, metric, rows):
        existing = {t.township: t for t in metric.townships}
        for position, row in enumerate(rows):
            t = existing.get(row["name"])
            if t is None:
                t = MetricTownship(township=row["name"], target=row["target"], position=position,
                                   current=row["current"] if row["current"] is not None else 0)
                metric.townships.append(t)
                self.touched.add(id(t))
                continue
            _set(t, "position", position, self.touched)
            if decimal_differs(t.target, row["target"]):
                self.history(project, metric, "target", t.target, row["target"], township=row["name"])
                t.target = row["target"]
                self.touched.add(id(t))
            if row["current"] is not None and decimal_differs(t.current, row["current"]):
                self.history(project, metric, "current", t.current, row["current"], township=row["name"])
                t.current = row["current"]
                self.touched.add(id(t))
        if metric.townships:
            total = sum((to_decimal(t.current) for t in metric.townships), to_decimal(0))
            if decimal_differs(metric.current, total):
                metric.current = total


def import_plan(path, actor="cli", dry_run=False):
    """Validate the whole file, then apply it in one transaction; returns an ImportReport."""
    data = load_plan_file(path)
    try:
        report = _Importer(data, actor).run()
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report

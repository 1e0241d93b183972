"""The shipped 2024 plan: fidelity to the source document, idempotency, updates with history, refusals."""
import shutil
from decimal import Decimal

import pytest
import yaml

from app.accounts.models import Unit
from app.extensions import db
from app.projects.importer import PlanFileError, import_plan
from app.projects.models import Category, Metric, MetricChange, Plan, Project
from tests.conftest import PLAN_FILE

# Transcribed by hand from ../shared/seed/000_7d3ec9b965cf0a42.txt: code → (lead units in order,
# [(unit of measure, target, baseline)]).
EXPECTED = {
    "1.1": (["县教育局"], [("所", "1", None)]),
    "1.2": (["县妇女联合会", "县教育局"],
            [("场", "60", None), ("人次", "2400", None), ("个", "1", None), ("人次", "150", None),
             ("人次", "15500", None)]),
    "2.1": (["县卫生健康局"], [("人", "1260", None)]),
    "2.2": (["县卫生健康局"], [("个", "400", None)]),
    "3.1": (["县民政局"], [("元/月", "700", "650"), ("元/年", "5400", "5000")]),
    "3.2": (["县民政局"], [("元/月·人", "90", "80"), ("元/月·人", "90", "80")]),
    "3.3": (["县民政局"], [("元/月", "1150", "1100"), ("元/月", "1600", "1500")]),
    "4.1": (["县妇女联合会", "县卫生健康局"], [("人", "12000", None)]),
    "4.2": (["县残疾人联合会"], [("户", "340", None)]),
    "4.3": (["县残疾人联合会"], [("人", "128", None)]),
    "5.1": (["县人力资源和社会保障局"], [("人", "4500", None), ("%", "100", None), ("项", "20", None)]),
    "6.1": (["县民政局"], [("个", "8", None)]),
    "6.2": (["县民政局"], [("户", "339", None)]),
    "6.3": (["县教育局"], [("所", "1", None)]),
    "7.1": (["县司法局"], [("件", "248", None)]),
    "7.2": (["县应急管理局"], [("支", "13", None)]),
    "7.3": (["县文化旅游广电体育局"], [("个", "1", None)]),
    "8.1": (["县行政审批服务局"],
            [("项", "1", None), ("个", "17", None), ("个", "7", None), ("%", "60", None), ("%", "90", None)]),
    "8.2": (["县人力资源和社会保障局", "县交通运输局"], [("人", "16000", None)]),
    "9.1": (["县住房保障服务中心"], [("个", "10", None)]),
    "9.2": (["县住房保障服务中心"], [("套", "264", None)]),
    "10.1": (["县交通运输局", "县公路建设养护中心"],
             [("公里", "12", None), ("公里", "48.464", None), ("公里", "6.5", None)]),
    "10.2": (["县水利局"], [("万方", "18", None)]),
    "10.3": (["市生态环境局南县分局"], [("项", "1", None)]),
}

MEMBER_UNITS = [
    "县教育局", "县民政局", "县司法局", "县财政局", "县人力资源和社会保障局", "县交通运输局", "县水利局",
    "县卫生健康局", "县应急管理局", "县文化旅游广电体育局", "县行政审批服务局", "县公路建设养护中心",
    "县住房保障服务中心", "县妇女联合会", "县残疾人联合会", "市生态环境局南县分局",
]


def _snapshot():
    rows = []
    for model in (Plan, Category, Project, Metric, Unit, MetricChange):
        for obj in db.session.execute(db.select(model)).scalars():
            rows.append((model.__tablename__, tuple(
                (c.name, str(getattr(obj, c.name))) for c in model.__table__.columns
            )))
    return sorted(rows)


def test_every_item_target_unit_and_lead_unit(plan):
    projects = {p.code: p for p in db.session.execute(db.select(Project)).scalars()}
    assert set(projects) == set(EXPECTED)
    for code, (lead_units, metrics) in EXPECTED.items():
        project = projects[code]
        assert [u.name for u in project.lead_units] == lead_units, code
        got = [(m.unit, m.target, m.baseline) for m in project.metrics]
        want = [(u, Decimal(t), Decimal(b) if b else None) for u, t, b in metrics]
        assert got == want, code


def test_categories_office_and_member_units(plan):
    plan_row = db.session.execute(db.select(Plan)).scalar_one()
    assert (plan_row.region, plan_row.year, plan_row.is_current) == ("南县", 2024, True)
    assert [c.code for c in plan_row.categories] == list("一二三四五六七八九十")
    assert plan_row.categories[5].name == "提高养老服务水平"
    assert plan_row.office_unit.name == "县人力资源和社会保障局"
    assert plan_row.task_force["office_name"] == "专班办公室"
    assert plan_row.task_force["member_units"] == MEMBER_UNITS
    names = set(db.session.execute(db.select(Unit.name)).scalars())
    assert set(MEMBER_UNITS) <= names


def test_raised_standards_keep_their_baseline_and_start_there(plan):
    metric = db.session.execute(
        db.select(Metric).join(Project).where(Project.code == "3.1", Metric.key == "m1")
    ).scalar_one()
    assert (metric.kind, metric.baseline, metric.target, metric.current) == (
        "standard", Decimal("650"), Decimal("700"), Decimal("650"))


def test_item_without_a_number_has_a_checkable_milestone(plan):
    project = db.session.execute(db.select(Project).filter_by(code="10.3")).scalar_one()
    assert [(m.kind, m.target) for m in project.metrics] == [("milestone", Decimal("1"))]


def test_second_import_changes_nothing(plan):
    before = _snapshot()
    report = import_plan(PLAN_FILE)
    assert not report.changed
    assert report.history_rows == 0
    assert _snapshot() == before


def _edited_copy(tmp_path, edit):
    data = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _item(data, code):
    return next(p for c in data["categories"] for p in c["projects"] if p["code"] == code)


def test_changed_target_is_updated_and_recorded(plan, tmp_path):
    def edit(data):
        _item(data, "6.1")["metrics"][0]["target"] = "9"

    report = import_plan(_edited_copy(tmp_path, edit))
    assert report.history_rows == 1
    change = db.session.execute(db.select(MetricChange)).scalar_one()
    assert (change.field, change.old_value, change.new_value, change.source) == (
        "target", Decimal("8"), Decimal("9"), "import")
    metric = db.session.get(Metric, change.metric_id)
    assert metric.target == Decimal("9")


def test_lead_unit_order_change_is_applied(plan, tmp_path):
    def edit(data):
        _item(data, "1.2")["lead_units"] = ["县教育局", "县妇女联合会"]

    import_plan(_edited_copy(tmp_path, edit))
    project = db.session.execute(db.select(Project).filter_by(code="1.2")).scalar_one()
    db.session.refresh(project)
    assert [u.name for u in project.lead_units] == ["县教育局", "县妇女联合会"]


def _responsible(code):
    project = db.session.execute(db.select(Project).filter_by(code=code)).scalar_one()
    db.session.refresh(project)
    return {m.key: m.responsible_unit.name if m.responsible_unit else None for m in project.metrics}


def test_metric_level_responsibility_from_the_source(plan, tmp_path):
    # 1.2: 县妇联 for the offline activities, the people served, the consultation point and its families;
    # 县教育局 for the online learners. 4.1 names no unit for its metric: any lead unit answers.
    assert _responsible("1.2") == {"m1": "县妇女联合会", "m2": "县妇女联合会", "m3": "县妇女联合会",
                                   "m4": "县妇女联合会", "m5": "县教育局"}
    assert set(_responsible("4.1").values()) == {None}

    def edit(data):
        _item(data, "1.2")["metrics"][3]["responsible_unit"] = "县教育局"
        del _item(data, "1.2")["metrics"][4]["responsible_unit"]

    assert import_plan(_edited_copy(tmp_path, edit)).changed
    assert _responsible("1.2")["m4"] == "县教育局" and _responsible("1.2")["m5"] is None
    assert not import_plan(_edited_copy(tmp_path, edit)).changed


def test_township_breakdown_sums_into_the_county_figure(plan, tmp_path):
    def edit(data):
        metric = _item(data, "6.1")["metrics"][0]
        metric["townships"] = [{"name": "南洲镇", "target": "5", "current": "2"},
                               {"name": "华阁镇", "target": "3", "current": "3"}]

    import_plan(_edited_copy(tmp_path, edit))
    project = db.session.execute(db.select(Project).filter_by(code="6.1")).scalar_one()
    metric = project.metrics[0]
    assert metric.current == Decimal("5")
    # Σ actual ÷ Σ target = 5 ÷ 8, not the mean of 40% and 100%.
    assert project.progress == Decimal("0.6250")


@pytest.mark.parametrize("edit, place, reason", [
    (lambda d: _item(d, "10.1")["metrics"][1].__setitem__("target", "四十八"),
     "categories[9].projects[0].metrics[1].target", "数字"),
    (lambda d: _item(d, "6.1")["metrics"][0].__setitem__("unit", "斤"),
     "categories[5].projects[0].metrics[0].unit", "取值应为"),
    (lambda d: _item(d, "3.1")["metrics"][0].__setitem__("baseline", None),
     "categories[2].projects[0].metrics[0].baseline", "原标准"),
    (lambda d: _item(d, "9.2").__setitem__("lead_units", []),
     "categories[8].projects[1].lead_units", "牵头单位"),
    (lambda d: d["plan"].pop("year"), "plan.year", "必填"),
    (lambda d: _item(d, "9.2").__setitem__("code", "9.1"), "categories", "重复"),
    (lambda d: _item(d, "1.2")["metrics"][4].__setitem__("responsible_unit", "县民政局"),
     "categories[0].projects[1].metrics", "不是本项目的牵头单位"),
])
def test_malformed_file_is_refused_with_place_and_reason(plan, tmp_path, edit, place, reason):
    before = _snapshot()
    with pytest.raises(PlanFileError) as excinfo:
        import_plan(_edited_copy(tmp_path, edit))
    assert place in excinfo.value.problems
    assert reason in excinfo.value.problems[place]
    assert _snapshot() == before


def test_broken_yaml_names_the_line(app, tmp_path):
    path = tmp_path / "broken.yaml"
    shutil.copy(PLAN_FILE, path)
    path.write_text(path.read_text(encoding="utf-8") + "\n  - : [unclosed\n", encoding="utf-8")
    with pytest.raises(PlanFileError) as excinfo:
        import_plan(path)
    assert any("行" in place for place in excinfo.value.problems)
    assert db.session.execute(db.select(Plan)).first() is None


def test_error_in_the_last_item_writes_nothing(app, tmp_path):
    # The whole file is validated before the first write, so an error at the very end leaves the database
    # exactly as it was: no units, no plan, no projects.
    def edit(data):
        data["categories"][-1]["projects"][-1]["metrics"][0]["target"] = "1e"

    with pytest.raises(PlanFileError) as excinfo:
        import_plan(_edited_copy(tmp_path, edit))
    assert "categories[9].projects[2].metrics[0].target" in excinfo.value.problems
    for model in (Plan, Project, Unit):
        assert db.session.execute(db.select(model)).first() is None


def test_cli_import_reports_and_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["plan", "import", str(PLAN_FILE)])
    assert first.exit_code == 0, first.output
    assert "导入完成" in first.output and "项目 24" in first.output
    second = runner.invoke(args=["plan", "import", str(PLAN_FILE)])
    assert second.exit_code == 0
    assert "无变化" in second.output


def test_cli_refuses_a_malformed_file(app, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("plan: [1, 2]\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["plan", "import", str(path)])
    assert result.exit_code != 0
    assert "plan" in result.output and "计划文件有误" in result.output

"""Plans from Excel through the real importer and CLI: export → import is an identity, a changed cell is
applied with its history, a bad cell is named by sheet, row and column with nothing written."""
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from app.extensions import db
from app.projects.importer import PlanFileError, import_plan
from app.projects.models import Metric, MetricChange, Plan, Project
from app.projects.workbook import SHEETS, write_workbook
from tests.projects.test_importer import _snapshot


def current_plan():
    return db.session.execute(db.select(Plan).filter_by(is_current=True)).scalar_one()


def export(app, tmp_path, name="plan.xlsx", *args):
    path = tmp_path / name
    result = app.test_cli_runner().invoke(args=["plan", "export", *args, str(path)])
    assert result.exit_code == 0, result.output
    return path


def sheet_values(path):
    book = load_workbook(path, read_only=True)
    values = {name: [tuple(row) for row in book[name].iter_rows(values_only=True)] for name in book.sheetnames}
    book.close()
    return values


def test_export_then_import_is_an_identity(app, plan, tmp_path):
    path = export(app, tmp_path)
    book = sheet_values(path)
    assert tuple(book) == SHEETS
    assert len(book["项目"]) == 1 + 24 and len(book["指标"]) == 1 + 39
    before = _snapshot()
    result = app.test_cli_runner().invoke(args=["plan", "import", str(path)])
    assert result.exit_code == 0 and "无变化" in result.output, result.output
    assert _snapshot() == before
    # And the workbook of the re-imported plan is the same workbook, cell for cell.
    assert sheet_values(export(app, tmp_path, "again.xlsx")) == book


def test_a_changed_cell_is_applied_and_kept_in_the_history(app, plan, tmp_path):
    path = export(app, tmp_path)
    book = load_workbook(path)
    metrics = book["指标"]
    row = next(r for r in range(2, metrics.max_row + 1)
               if (metrics.cell(r, 1).value, metrics.cell(r, 2).value) == ("1.2", "m5"))
    assert metrics.cell(row, 10).value == "县教育局"  # 负责单位
    metrics.cell(row, 8).value = 16000
    book.save(path)
    report = import_plan(path)
    assert report.changed and report.history_rows == 1
    metric = db.session.execute(db.select(Metric).join(Project).where(Project.code == "1.2", Metric.key == "m5")
                                ).scalar_one()
    assert metric.target == Decimal("16000")
    change = db.session.execute(db.select(MetricChange)).scalar_one()
    assert (change.old_value, change.new_value, change.source) == (Decimal("15500"), Decimal("16000"), "import")


@pytest.mark.parametrize("sheet, cell, value, place, reason", [
    ("指标", "H3", "四十八", "工作表“指标”第 3 行 H 列", "数字"),
    ("指标", "E2", "斤", "工作表“指标”第 2 行 E 列", "取值应为"),
    ("项目", "F2", None, "工作表“项目”第 2 行 F 列", "牵头单位"),
    ("项目", "I2", "也许", "工作表“项目”第 2 行 I 列", ""),
    ("计划", "B5", "2024-13-01", "工作表“计划”第 5 行 B 列", ""),
    ("指标", "A2", "99.9", "工作表“指标”第 2 行 A 列", "项目编号不在"),
])
def test_a_bad_cell_is_named_and_nothing_is_written(app, plan, tmp_path, sheet, cell, value, place, reason):
    path = export(app, tmp_path)
    book = load_workbook(path)
    book[sheet][cell] = value
    book.save(path)
    before = _snapshot()
    with pytest.raises(PlanFileError) as excinfo:
        import_plan(path)
    assert place in excinfo.value.problems, excinfo.value.problems
    assert reason in excinfo.value.problems[place]
    assert _snapshot() == before


def test_a_file_that_is_not_the_template_is_refused(app, plan, tmp_path):
    not_excel = tmp_path / "plan.xlsx"
    not_excel.write_bytes(b"not a workbook")
    with pytest.raises(PlanFileError) as excinfo:
        import_plan(not_excel)
    assert "无法读取 Excel 文件" in excinfo.value.problems["文件"]
    path = export(app, tmp_path, "template.xlsx")
    book = load_workbook(path)
    book["指标"]["H1"] = "目标"
    book.save(path)
    with pytest.raises(PlanFileError) as excinfo:
        import_plan(path)
    assert excinfo.value.problems == {"工作表“指标”第 1 行": "缺少列：目标值"}
    book["指标"]["H1"] = "目标值"
    del book["乡镇分解"]
    book.save(path)
    with pytest.raises(PlanFileError) as excinfo:
        import_plan(path)
    assert "缺少工作表“乡镇分解”" in excinfo.value.problems["文件"]


def test_cli_exports_any_plan_and_refuses_bad_arguments(app, plan, tmp_path):
    plan_id = current_plan().id
    path = export(app, tmp_path, "by_id.xlsx", "--plan", str(plan_id))
    assert path.read_bytes()[:2] == b"PK"
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["plan", "export", "--plan", "999999", str(tmp_path / "x.xlsx")])
    assert missing.exit_code != 0 and "计划不存在" in missing.output
    wrong = runner.invoke(args=["plan", "export", str(tmp_path / "x.csv")])
    assert wrong.exit_code != 0 and ".xlsx" in wrong.output
    assert write_workbook(current_plan())[:2] == b"PK"

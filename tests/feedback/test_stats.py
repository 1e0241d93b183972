"""The 三率 on a hand-computed example, satisfaction per item, aggregate SQL (a constant number of queries
whatever the number of tickets), the indexes, and the Excel export."""
from datetime import date, timedelta
from io import BytesIO

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.accounts.models import AuditLog
from app.errors import Invalid
from app.extensions import db
from app.feedback import service
from app.feedback.models import ComplaintAssignment
from tests.feedback.conftest import sh

OCT = (date(2024, 10, 1), date(2024, 10, 31))
LATER = sh(2024, 10, 31, 12)
MON = sh(2024, 10, 14, 9)  # sign by Tue 10/15, reply by Mon 10/21


def file(c, text, resident=None, now=MON):
    return service.submit_complaint(resident or c.resident, "complaint", text, project_id=c.project.id,
                                    now=now)[0]["id"]


def handle(c, cid, who, signed, replied, level, resolved):
    service.sign(cid, who, now=signed)
    service.reply(cid, who, "已办理完毕，请您评价", now=replied)
    service.evaluate(cid, c.resident, level, resolved, now=replied)


@pytest.fixture
def example(county, app, monkeypatch):
    """县民政局: t1 on time, resolved, 非常满意; t2 signed late, unresolved, 基本满意; t3 on time, unresolved,
    非常不满意; t4 never signed. t5 returned by 县民政局 and handled by 县交通运输局 on time, resolved, 满意.
    A September ticket lies outside the period."""
    monkeypatch.setitem(app.config, "COMPLAINT_DAILY_LIMIT", 10)
    c = county
    handle(c, file(c, "九月的诉求，不在十月统计内", now=sh(2024, 9, 20, 9)), c.lead,
           sh(2024, 9, 20, 10), sh(2024, 9, 20, 11), 1, False)
    t1, t2, t3, t4, t5 = (file(c, f"十月第{i}条诉求：助餐点问题") for i in range(1, 6))
    handle(c, t1, c.lead, sh(2024, 10, 14, 10), sh(2024, 10, 15, 9), 5, True)
    handle(c, t2, c.lead, sh(2024, 10, 16, 9), sh(2024, 10, 17, 9), 3, False)
    handle(c, t3, c.lead, sh(2024, 10, 15, 9), sh(2024, 10, 15, 10), 1, False)
    service.request_return(t5, c.lead, "属于交通部门职责", now=sh(2024, 10, 14, 10))
    service.assign(t5, c.office, c.other_unit.id, now=sh(2024, 10, 14, 11))
    handle(c, t5, c.other, sh(2024, 10, 14, 12), sh(2024, 10, 16, 9), 4, True)
    return c


def by_unit(rows):
    return {row["unit"]["name"]: row for row in rows}


def test_the_three_rates_on_a_hand_computed_example(example, client):
    body = service.staff_stats(example.office, *OCT, now=LATER)
    units = by_unit(body["units"])
    assert {k: units["县民政局"][k] for k in ("assigned", "signed_on_time", "rated", "resolved", "satisfied",
                                            "overdue", "reopened")} == {
        "assigned": 4, "signed_on_time": 2, "rated": 3, "resolved": 1, "satisfied": 2, "overdue": 2, "reopened": 0}
    assert (units["县民政局"]["response_rate"], units["县民政局"]["resolution_rate"],
            units["县民政局"]["satisfaction_rate"]) == ("0.5", "0.3333", "0.6667")
    assert units["县民政局"]["avg_handling_days"] == "1.67"  # (1 + 3 + 1) / 3
    assert (units["县交通运输局"]["assigned"], units["县交通运输局"]["response_rate"],
            units["县交通运输局"]["resolution_rate"], units["县交通运输局"]["satisfaction_rate"],
            units["县交通运输局"]["avg_handling_days"]) == (1, "1", "1", "1", "2")
    # A co-unit that led nothing: listed, nothing to divide by.
    assert (units["县财政局"]["assigned"], units["县财政局"]["response_rate"]) == (0, None)
    totals = body["totals"]
    assert (totals["assigned"], totals["response_rate"], totals["resolution_rate"], totals["satisfaction_rate"],
            totals["overdue"], totals["avg_handling_days"]) == (5, "0.6", "0.5", "0.75", 2, "1.75")

    september = by_unit(service.staff_stats(example.office, date(2024, 9, 1), date(2024, 9, 30), now=LATER)["units"])
    assert (september["县民政局"]["assigned"], september["县民政局"]["satisfaction_rate"]) == (1, "0")

    mine = service.staff_stats(example.lead, *OCT, now=LATER)
    assert [r["unit"]["name"] for r in mine["units"]] == ["县民政局"] and mine["totals"]["assigned"] == 4
    assert [t["id"] for t in mine["overdue_now"]["items"]] == [
        t["id"] for t in service.list_for_staff(example.lead, {"overdue": True}, 1, 50, now=LATER)["items"]]
    public = client.get("/api/v1/stats/public?from=2024-10-01&to=2024-10-31").get_json()
    assert public["from"] == "2024-10-01"
    assert by_unit(public["units"])["县民政局"]["response_rate"] == "0.5"
    assert {p["code"] for p in public["projects"]} == {"6.1", "8.2"}

    withdrawn = db.session.execute(
        db.select(ComplaintAssignment.withdrawn_reason).where(ComplaintAssignment.withdrawn_reason.isnot(None))
    ).scalars().all()
    assert withdrawn == ["returned"]


def test_reopens_count_per_ticket_and_unit(county):
    cid = file(county, "助餐点饭菜太咸")
    service.sign(cid, county.lead, now=MON)
    service.reply(cid, county.lead, "已要求减少用盐", now=MON)
    service.reopen(cid, county.resident, "还是太咸", now=sh(2024, 10, 15, 9))
    row = by_unit(service.staff_stats(county.office, *OCT, now=LATER)["units"])["县民政局"]
    # Two assignments (the first round and the reopen), one of them reopened.
    assert (row["assigned"], row["reopened"]) == (2, 1)


def test_an_evaluation_window_ending_unanswered_counts_as_configured(county, app, monkeypatch):
    counted = {}
    for outcome, filed in (("unrated", MON), ("satisfied", sh(2024, 10, 16, 9))):
        monkeypatch.setitem(app.config, "EVALUATION_TIMEOUT_OUTCOME", outcome)
        cid = file(county, f"助餐点饭菜太咸（{outcome}）", now=filed)
        service.sign(cid, county.lead, now=filed)
        service.reply(cid, county.lead, "已要求减少用盐", now=filed)
        service.sweep(now=filed + timedelta(days=8))
        day = filed.date()
        row = by_unit(service.staff_stats(county.office, day, day, now=LATER)["units"])["县民政局"]
        counted[outcome] = (row["assigned"], row["rated"], row["satisfied"])
    assert counted == {"unrated": (1, 0, 0), "satisfied": (1, 1, 1)}


def test_satisfaction_per_item_comes_from_the_ratings(county, factories):
    for level in (5, 4, 3, 1):
        service.rate_project(factories.resident(), county.project.id, level, None, now=MON)
    projects = {p["code"]: p for p in service.staff_stats(county.office, *OCT, now=LATER)["projects"]}
    assert projects["6.1"]["satisfaction"] == {"average": "3.25", "count": 4, "satisfaction_rate": "0.75",
                                               "bad": 1}
    assert projects["8.2"]["satisfaction"]["count"] == 0


def count_queries(run):
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return len(statements)


def test_statistics_are_aggregate_sql_whatever_the_number_of_tickets(county, app, monkeypatch):
    """Also no query per row of the overdue lists and the per-item figures beside the rates."""
    monkeypatch.setitem(app.config, "COMPLAINT_DAILY_LIMIT", 100)

    def run():
        service.staff_stats(county.office, *OCT, now=LATER)

    service.rate_project(county.resident, county.project.id, 1, "太远了", now=MON)
    file(county, "第一条诉求内容")
    service.sweep(now=LATER)
    run()  # the public project summaries are cached after the first read
    few = count_queries(run)
    for i in range(12):
        cid = file(county, f"更多的诉求内容{i}")
        if i % 2:
            service.sign(cid, county.lead, now=MON)
    service.rate_project(county.stranger, county.other_project.id, 2, "路不好走", now=MON)
    service.sweep(now=LATER)
    db.session.refresh(county.office)  # the commits above expired it; reloading it is not the statistics' doing
    body = service.staff_stats(county.office, *OCT, now=LATER)
    assert body["overdue_now"]["total"] == 13 and body["overdue_alerts"]["total"] > 13
    assert count_queries(run) == few


def test_the_indexes_the_statistics_and_queues_need_exist(app):
    indexes = {ix["name"]: ix["column_names"] for ix in sa.inspect(db.engine).get_indexes("complaint_assignments")}
    assert indexes["ix_complaint_assignments_assigned_unit"] == ["assigned_at", "unit_id"]
    assert indexes["ix_complaint_assignments_unit_current"] == ["unit_id", "is_current"]
    assert indexes["ix_complaint_assignments_unit_assigned"] == ["unit_id", "assigned_at"]
    # The open tickets and their open assignments, few among a year's, each in a partial index of its own.
    assert indexes["ix_complaint_assignments_open"] == ["complaint_id"]
    complaint_indexes = {ix["name"]: ix["column_names"] for ix in sa.inspect(db.engine).get_indexes("complaints")}
    assert {"ix_complaints_resident_created", "ix_complaints_status_created"} <= set(complaint_indexes)
    assert complaint_indexes["ix_complaints_open"] == ["id", "status"]


def workbook_rows(content):
    sheet = load_workbook(BytesIO(content)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_the_export_has_chinese_headers_masked_phones_the_lists_filters_and_is_audited(county, app, monkeypatch):
    shown = service.submit_complaint(county.resident, "complaint", "助餐点饭菜太咸", project_id=county.project.id,
                                     phone="13812345678", now=MON)[0]
    service.submit_complaint(county.resident, "complaint", "匿名反映助餐点问题", project_id=county.project.id,
                             phone="13912345678", anonymous=True, now=MON)
    service.submit_complaint(county.resident, "consultation", "助餐点几点开门", project_id=county.project.id,
                             now=MON)
    content, filename = service.export_complaints(county.office, {"kind": "complaint"}, ip="10.1.1.1", now=LATER)
    assert filename.endswith(".xlsx")
    header, *rows = workbook_rows(content)
    assert header[:4] == ["工单号", "类型", "状态", "是否超期"] and "联系电话" in header
    assert len(rows) == 2 and {r[1] for r in rows} == {"投诉"}
    phones = {r[header.index("联系电话")] for r in rows}
    assert phones == {"138****5678", "匿名"}
    assert not any("13812345678" in str(v) or "13912345678" in str(v) for r in rows for v in r)
    assert shown["ticket_no"] in {r[header.index("工单号")] for r in rows}
    log = db.session.execute(db.select(AuditLog).filter_by(action="complaints.export")).scalar_one()
    assert (log.actor_id, log.detail, log.ip) == (county.office.id, {"filters": {"kind": "complaint"}, "rows": 2},
                                                  "10.1.1.1")
    # A unit exports only what it sees.
    assert len(workbook_rows(service.export_complaints(county.other, {}, now=LATER)[0])) == 1
    monkeypatch.setitem(app.config, "EXPORT_MAX_ROWS", 2)
    with pytest.raises(Invalid, match="缩小筛选范围"):
        service.export_complaints(county.office, {}, now=LATER)



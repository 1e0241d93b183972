"""Complaints through the console (test client): the queue, a ticket's page and every action, role scoping,
the office's triage desk, rectification tasks and the Excel export — each against the same service the
staff API calls, and checked where the resident or the API sees the result."""
import re
from datetime import timedelta
from io import BytesIO

from openpyxl import load_workbook
from PIL import Image

from app.accounts.models import AuditLog
from app.common.timeutil import utcnow
from app.extensions import db
from app.feedback.models import Complaint
from tests.console.conftest import file_complaint, project_by_code
from tests.factories import auth, resident_token


def _ticket(complaint_id):
    return db.session.get(Complaint, complaint_id, populate_existing=True)


def _png():
    buffer = BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def test_unit_queue_lists_its_tickets_overdue_first_with_counts(client, people, console_as):
    first = file_complaint(client, people["resident"], "老年助餐点饭菜太咸了，希望改进。", "6.1")
    second = file_complaint(client, people["resident"], "助餐点开门时间太晚，老人等很久。", "6.1")
    file_complaint(client, people["resident"], "学校门口道路积水严重。", "1.1")
    # The first ticket's sign-by time has passed: it is overdue and must lead the queue.
    ticket = _ticket(first["id"])
    ticket.assignment.sign_due_at = utcnow() - timedelta(hours=2)
    db.session.commit()

    html = console_as(people["minzheng"]).get("/console/").get_data(as_text=True)
    tickets = re.findall(r"NX\d{8}-\d{4}", html)
    assert tickets[:2] == [first["ticket_no"], second["ticket_no"]]
    assert "学校门口" not in html
    assert "超期" in html and "已派单" in html
    counts = dict(re.findall(r'<span class="muted">([^<]+)</span><b>(\d+)</b>', html))
    assert counts["已派单"] == "2" and counts["超期"] == "1" and counts["已签收"] == "0"


def test_queue_filters_by_status_and_text(client, people, console_as):
    a = file_complaint(client, people["resident"], "助餐点饭菜太咸了，希望改进。", "6.1")
    b = file_complaint(client, people["resident"], "适老化改造施工噪音扰民。", "6.2")
    console = console_as(people["minzheng"])
    console.post(f"/console/complaints/{a['id']}/sign")
    signed = console.get("/console/?status=signed").get_data(as_text=True)
    assert a["ticket_no"] in signed and b["ticket_no"] not in signed
    found = console.get("/console/?q=噪音").get_data(as_text=True)
    assert b["ticket_no"] in found and a["ticket_no"] not in found


def test_unit_signs_and_replies_and_the_resident_sees_the_reply(client, people, console_as):
    filed = file_complaint(client, people["resident"], "助餐点饭菜太咸了，希望改进。", "6.1")
    console = console_as(people["minzheng"])
    page = console.get(f"/console/complaints/{filed['id']}").get_data(as_text=True)
    assert "签收" in page and "答复居民" not in page  # reply only once signed: the workflow map decides

    assert console.post(f"/console/complaints/{filed['id']}/sign").status_code == 303
    page = console.get(f"/console/complaints/{filed['id']}").get_data(as_text=True)
    assert "已签收" in page and "答复居民" in page

    response = console.client.post(
        f"/console/complaints/{filed['id']}/reply",
        data={"csrf_token": console.token, "content": "已要求助餐点减少用盐，并每周抽查。",
              "photos": (BytesIO(_png()), "现场.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    page = console.get(f"/console/complaints/{filed['id']}").get_data(as_text=True)
    assert "已答复，居民将收到通知" in page and "已要求助餐点减少用盐" in page
    image = re.search(r'<img src="(/console/uploads/\d+)"', page).group(1)
    served = console.get(image)
    assert served.status_code == 200 and served.mimetype == "image/png"

    mine = client.get(f"/api/v1/me/complaints/{filed['id']}", headers=auth(resident_token(people["resident"])))
    body = mine.get_json()
    assert body["status"] == "replied"
    assert body["replies"][0]["content"] == "已要求助餐点减少用盐，并每周抽查。"
    assert len(body["replies"][0]["images"]) == 1


def test_refused_actions_bad_input_on_the_page_wrong_state_as_a_409_page(client, people, console_as):
    filed = file_complaint(client, people["resident"], "助餐点饭菜太咸了，希望改进。", "6.1")
    console = console_as(people["minzheng"])
    console.post(f"/console/complaints/{filed['id']}/sign")
    response = console.post(f"/console/complaints/{filed['id']}/reply", {"content": "好"})
    assert response.status_code == 303
    page = console.get(response.headers["Location"]).get_data(as_text=True)
    assert "答复内容至少 5 个字" in page
    assert _ticket(filed["id"]).status == "signed"

    response = console.post(f"/console/complaints/{filed['id']}/sign")
    assert response.status_code == 409 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "当前状态下不能执行此操作" in html and "不能签收" in html


def test_script_in_a_complaint_is_shown_as_text(client, people, console_as):
    filed = file_complaint(client, people["resident"], "<script>alert('x')</script> 助餐点<b>太远</b>", "6.1")
    console = console_as(people["minzheng"])
    for path in ("/console/", f"/console/complaints/{filed['id']}"):
        html = console.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<b>太远</b>" not in html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_another_unit_can_neither_see_nor_act_on_the_ticket(client, people, console_as):
    filed = file_complaint(client, people["resident"], "助餐点饭菜太咸了，希望改进。", "6.1")
    other = console_as(people["jiaoyu"])
    assert filed["ticket_no"] not in other.get("/console/").get_data(as_text=True)
    response = other.get(f"/console/complaints/{filed['id']}")
    assert response.status_code == 404 and "诉求不存在" in response.get_data(as_text=True)
    assert other.post(f"/console/complaints/{filed['id']}/sign").status_code == 404
    assert other.post(f"/console/complaints/{filed['id']}/reveal-contact", {"reason": "回访"}).status_code == 404
    assert _ticket(filed["id"]).status == "assigned"
    export = load_workbook(BytesIO(other.get("/console/complaints.xlsx").data)).active
    assert export.max_row == 1  # the header only


def test_units_cannot_use_the_offices_desk(client, people, console_as):
    filed = file_complaint(client, people["resident"], "助餐点饭菜太咸了，希望改进。", "6.1")
    console = console_as(people["minzheng"])
    assert console.get("/console/triage").status_code == 403
    response = console.post(f"/console/complaints/{filed['id']}/assign", {"unit_id": people["jiaoyu"].unit_id})
    assert response.status_code == 403 and "没有权限" in response.get_data(as_text=True)
    assert console.post(f"/console/complaints/{filed['id']}/urge", {"note": "快办"}).status_code == 403
    assert _ticket(filed["id"]).assignment.unit_id == people["minzheng"].unit_id


def test_masked_phone_and_reveal_with_a_reason(client, people, console_as):
    filed = file_complaint(client, people["resident"], "助餐点饭菜太咸了，希望改进。", "6.1", phone="13812345678")
    console = console_as(people["minzheng"])
    page = console.get(f"/console/complaints/{filed['id']}").get_data(as_text=True)
    assert "138****5678" in page and "13812345678" not in page

    refused = console.post(f"/console/complaints/{filed['id']}/reveal-contact", {"reason": ""})
    assert "查看理由至少 2 个字" in console.get(refused.headers["Location"]).get_data(as_text=True)

    response = console.post(f"/console/complaints/{filed['id']}/reveal-contact", {"reason": "电话回访核实"})
    assert response.status_code == 200 and "13812345678" in response.get_data(as_text=True)
    # Shown once, on that response: the next visit is masked again, and the reveal is on record.
    assert "13812345678" not in console.get(f"/console/complaints/{filed['id']}").get_data(as_text=True)
    row = db.session.execute(db.select(AuditLog).filter_by(action="complaint.reveal_contact")).scalar_one()
    assert row.actor_id == people["minzheng"].id and row.detail["reason"] == "电话回访核实"


def test_office_triages_a_ticket_without_an_item(client, people, console_as):
    filed = file_complaint(client, people["resident"], "小区路灯坏了很久没人修。")
    office = console_as(people["office"])
    desk = office.get("/console/triage").get_data(as_text=True)
    assert filed["ticket_no"] in desk and "待分派（1）" in desk
    unit = people["minzheng"].unit_id
    response = office.post(f"/console/complaints/{filed['id']}/assign",
                           {"unit_id": unit, "next": "/console/triage"})
    assert response.status_code == 303 and response.headers["Location"] == "/console/triage"
    assert "已派单" in office.get("/console/triage").get_data(as_text=True)
    assert filed["ticket_no"] in console_as(people["minzheng"]).get("/console/").get_data(as_text=True)


def test_return_requests_approved_by_reassigning_or_refused(client, people, console_as):
    misrouted = file_complaint(client, people["resident"], "学校周边交通拥堵。", "6.1")
    ours = file_complaint(client, people["resident"], "助餐点饭菜太咸了，希望改进。", "6.1")
    unit = console_as(people["minzheng"])
    unit.post(f"/console/complaints/{ours['id']}/sign")
    for filed in (misrouted, ours):
        unit.post(f"/console/complaints/{filed['id']}/return", {"reason": "不属于民政职责"})
        assert _ticket(filed["id"]).status == "return_requested"
    office = console_as(people["office"])
    desk = office.get("/console/triage").get_data(as_text=True)
    assert "退单申请（2）" in desk and "驳回退单" in desk

    response = office.post(f"/console/complaints/{misrouted['id']}/assign", {"unit_id": people["jiaoyu"].unit_id})
    assert "已同意退单" in office.get(response.headers["Location"]).get_data(as_text=True)
    ticket = _ticket(misrouted["id"])
    assert ticket.status == "assigned" and ticket.assignment.unit_id == people["jiaoyu"].unit_id

    response = office.post(f"/console/complaints/{ours['id']}/assign",
                           {"unit_id": people["minzheng"].unit_id, "note": "属于助餐点管理"})
    assert "已驳回退单申请" in office.get(response.headers["Location"]).get_data(as_text=True)
    assert _ticket(ours["id"]).status == "signed"  # back to where the request interrupted it


def test_extension_request_and_the_offices_approval(client, people, console_as):
    filed = file_complaint(client, people["resident"], "助餐点饭菜太咸了，希望改进。", "6.1")
    unit = console_as(people["minzheng"])
    unit.post(f"/console/complaints/{filed['id']}/sign")
    before = _ticket(filed["id"]).assignment.reply_due_at
    bad = unit.post(f"/console/complaints/{filed['id']}/extension", {"working_days": "99", "reason": "需要调查"})
    assert "延期天数应为" in unit.get(bad.headers["Location"]).get_data(as_text=True)
    unit.post(f"/console/complaints/{filed['id']}/extension", {"working_days": "3", "reason": "需要现场调查"})
    assert _ticket(filed["id"]).status == "extension_requested"

    office = console_as(people["office"])
    assert "延期申请（1）" in office.get("/console/triage").get_data(as_text=True)
    office.post(f"/console/complaints/{filed['id']}/extension/decision", {"approve": "1", "note": "同意"})
    ticket = _ticket(filed["id"])
    assert ticket.status == "signed" and ticket.assignment.reply_due_at > before
    assert ticket.assignment.extended_days == 3


def test_office_urges_and_merges(client, people, factories, console_as):
    a = file_complaint(client, people["resident"], "助餐点饭菜太咸了，希望改进。", "6.1")
    b = file_complaint(client, factories.resident(), "助餐点饭菜很咸，老人吃不惯。", "6.1")
    office = console_as(people["office"])
    office.post(f"/console/complaints/{a['id']}/urge", {"note": "请尽快签收办理"})
    page = office.get(f"/console/complaints/{a['id']}").get_data(as_text=True)
    assert "督办" in page and "请尽快签收办理" in page
    assert "请尽快签收办理" in console_as(people["minzheng"]).get(f"/console/complaints/{a['id']}").get_data(
        as_text=True)

    response = office.post(f"/console/complaints/{b['id']}/merge", {"into": a["ticket_no"]})
    assert f"已并入 {a['ticket_no']}" in office.get(response.headers["Location"]).get_data(as_text=True)
    assert _ticket(b["id"]).merged_into_id == a["id"]
    missing = office.post(f"/console/complaints/{a['id']}/merge", {"into": "NX00000000-0000"})
    assert "找不到要并入的诉求" in office.get(missing.headers["Location"]).get_data(as_text=True)


def test_export_is_an_excel_file_of_the_filtered_queue(client, people, console_as):
    file_complaint(client, people["resident"], "助餐点饭菜太咸了，希望改进。", "6.1", phone="13812345678")
    file_complaint(client, people["resident"], "学校门口道路积水严重。", "1.1")
    console = console_as(people["office"])
    assert 'href="/console/complaints.xlsx' in console.get("/console/").get_data(as_text=True)
    response = console.get(f"/console/complaints.xlsx?project={project_by_code('6.1').id}")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(load_workbook(BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "工单号" and len(rows) == 2
    assert "138****5678" in rows[1] and "13812345678" not in rows[1]
    assert db.session.execute(db.select(AuditLog).filter_by(action="complaints.export")).scalar()


def test_rectification_task_answered_by_the_unit(client, people, console_as):
    resident = people["resident"]
    project = project_by_code("6.1")
    rated = client.put(f"/api/v1/projects/{project.id}/rating", json={"level": 1, "comment": "助餐点太少，走路太远"},
                       headers=auth(resident_token(resident)))
    assert rated.status_code == 200, rated.get_json()
    office_page = console_as(people["office"]).get("/console/rectifications").get_data(as_text=True)
    assert "助餐点太少，走路太远" in office_page and "待责任单位答复" in office_page

    unit = console_as(people["minzheng"])
    page = unit.get("/console/rectifications").get_data(as_text=True)
    task_id = re.search(r"/console/rectifications/(\d+)/answer", page).group(1)
    unit.post(f"/console/rectifications/{task_id}/answer", {"result": "已在南洲镇新增两处助餐点。"})
    answered = unit.get("/console/rectifications?status=answered").get_data(as_text=True)
    assert "已在南洲镇新增两处助餐点。" in answered
    mine = client.get(f"/api/v1/projects/{project.id}/rating", headers=auth(resident_token(resident))).get_json()
    assert mine["rectification"]["status"] == "answered"


def test_the_office_sees_likely_duplicates_and_merges_one_with_a_click(client, people, console_as):
    first = file_complaint(client, people["resident"], "兴盛社区助餐点的饭菜太咸了，老人吃不消。", "6.1",
                           township="南洲镇")
    second = file_complaint(client, people["resident"], "兴盛社区老年食堂的菜咸得很，盐放得多。", "6.1",
                            township="南洲镇")
    file_complaint(client, people["resident"], "学校门口道路积水严重。", "1.1", township="南洲镇")
    office = console_as(people["office"])
    page = office.get(f"/console/complaints/{second['id']}").get_data(as_text=True)
    duplicates = page[page.index('id="duplicates"'):]
    assert first["ticket_no"] in duplicates and "学校门口" not in duplicates
    response = office.post(f"/console/complaints/{second['id']}/merge", {"into": first["ticket_no"]})
    assert response.status_code == 303 and _ticket(second["id"]).merged_into_id == first["id"]
    # A unit has no 并单 and no duplicate list.
    assert 'id="duplicates"' not in console_as(people["minzheng"]).get(
        f"/console/complaints/{first['id']}").get_data(as_text=True)

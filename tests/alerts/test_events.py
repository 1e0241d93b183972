"""Each event reaches the right people on their channels, through the SDKs to the doubles: a ticket assigned,
reassigned or reopened, 督办, a deadline passed, a return or extension decided, a progress draft rejected."""
from datetime import timedelta

from app.alerts.settings import set_unit_robot
from app.common.timeutil import as_utc
from app.feedback import service
from tests.alerts.conftest import messages, run_jobs
from tests.feedback.conftest import sh

NOW = sh(2024, 10, 8, 9)  # a Tuesday, a working day, outside quiet hours


def submit(c, text="助餐点饭菜太咸，老人吃不消", now=NOW, **kw):
    kw.setdefault("project_id", c.project.id)
    return service.submit_complaint(c.resident, "complaint", text, now=now, **kw)[0]


def cards(wecom, userid=None):
    return [m for m in wecom.messages() if userid is None or m["touser"] == userid]


def test_a_new_ticket_reaches_its_units_staff_on_wecom_and_sms_with_an_absolute_link(reachable, app):
    c = reachable
    ticket = submit(c)
    run_jobs()
    lead_cards = cards(c.wecom, c.lead.username)
    assert len(lead_cards) == 1 and len(cards(c.wecom, c.lead_admin.username)) == 1
    card = lead_cards[0]["textcard"]
    assert card["title"] == f"新派单 {ticket['ticket_no']}"
    assert card["url"] == f"{app.config['PUBLIC_BASE_URL']}/console/complaints/{ticket['id']}"
    assert "县民政局" in card["description"] and "签收" in card["description"]
    # Nobody outside the lead unit hears of it; the co-unit reads it in its queue.
    assert {m["touser"] for m in cards(c.wecom)} == {c.lead.username, c.lead_admin.username}
    assert [(m["phone"], m["params"]) for m in c.sms.messages()] == [
        ("+8613800138000", ["新派单", "".join(ch for ch in ticket["ticket_no"] if ch.isdigit())])]
    rows = messages(complaint_id=ticket["id"])
    assert {(r.channel, r.status) for r in rows} == {("wecom", "sent"), ("sms", "sent")}
    assert all(r.provider_id for r in rows)


def test_a_unit_robot_gets_the_ticket_once_as_markdown(reachable):
    c = reachable
    set_unit_robot(c.lead_unit.id, "lead-robot-key-1")
    ticket = submit(c)
    run_jobs()
    robot = c.wecom.robot_messages("lead-robot-key-1")
    assert len(robot) == 1
    assert robot[0]["msgtype"] == "markdown" and ticket["ticket_no"] in robot[0]["markdown"]["content"]
    assert messages(channel="robot")[0].unit_id == c.lead_unit.id


def test_staff_without_any_channel_still_see_the_alert_in_the_console(county, wecom, sms):
    ticket = submit(county)
    run_jobs()
    rows = messages(complaint_id=ticket["id"])
    assert {(r.staff_id, r.channel, r.status) for r in rows} == {
        (county.lead.id, "console", "sent"), (county.lead_admin.id, "console", "sent")}
    assert wecom.messages() == [] and sms.messages() == []


def test_reassignment_tells_the_new_unit_and_an_approved_return_tells_the_requester(reachable):
    c = reachable
    ticket = submit(c)
    run_jobs()
    service.request_return(ticket["id"], c.lead, "不属于本单位职责", now=NOW + timedelta(hours=1))
    service.assign(ticket["id"], c.office, c.other_unit.id, now=NOW + timedelta(hours=2))
    run_jobs()
    other = cards(c.wecom, c.other.username)
    assert [m["textcard"]["title"] for m in other] == [f"改派 {ticket['ticket_no']}"]
    lead_titles = [m["textcard"]["title"] for m in cards(c.wecom, c.lead.username)]
    assert lead_titles == [f"新派单 {ticket['ticket_no']}", f"退单已同意 {ticket['ticket_no']}"]


def test_urge_is_urgent_and_goes_even_in_quiet_hours(reachable):
    c = reachable
    ticket = submit(c)
    run_jobs()
    late = sh(2024, 10, 8, 23, 30)
    service.urge(ticket["id"], c.office, "请尽快签收办理", now=late)
    run_jobs()
    urged = [m for m in cards(c.wecom, c.lead.username) if m["textcard"]["title"].startswith("督办")]
    assert len(urged) == 1 and "请尽快签收办理" in urged[0]["textcard"]["description"]
    row = messages(kind="urge", channel="wecom", staff_id=c.lead.id)[0]
    assert row.urgent and row.status == "sent"


def test_an_alert_still_waiting_when_the_ticket_leaves_the_unit_is_skipped_not_sent(reachable):
    c = reachable
    night = sh(2024, 10, 8, 23)  # quiet hours: the new-ticket card waits for 07:30
    ticket = submit(c, now=night)
    run_jobs()
    assert cards(c.wecom) == []
    waiting = messages(channel="wecom", staff_id=c.lead.id)[0]
    assert waiting.status == "pending" and as_utc(waiting.next_attempt_at) == sh(2024, 10, 9, 7, 30)
    service.assign(ticket["id"], c.office, c.other_unit.id, now=night + timedelta(minutes=20))
    from app.alerts import outbox

    assert outbox.send_one(waiting.id, now=sh(2024, 10, 9, 7, 31)) == "skipped"
    assert "不在该单位" in messages(id=waiting.id)[0].last_error
    assert cards(c.wecom, c.lead.username) == []


def test_a_refused_return_and_a_refused_extension_tell_the_requester(reachable):
    c = reachable
    ticket = submit(c)
    service.request_return(ticket["id"], c.lead, "不属于本单位职责", now=NOW + timedelta(hours=1))
    service.refuse_return(ticket["id"], c.office, "属于本单位职责，请继续办理", now=NOW + timedelta(hours=2))
    service.sign(ticket["id"], c.lead_admin, now=NOW + timedelta(hours=3))
    service.request_extension(ticket["id"], c.lead_admin, 3, "需要协调住建部门", now=NOW + timedelta(hours=4))
    service.decide_extension(ticket["id"], c.office, False, now=NOW + timedelta(hours=5))
    run_jobs()
    refused = messages(kind="return_decided", channel="wecom")
    assert [(r.staff_id, r.title) for r in refused] == [(c.lead.id, f"退单未同意 {ticket['ticket_no']}")]
    assert "属于本单位职责，请继续办理" in refused[0].text
    decided = messages(kind="extension_decided", channel="wecom")
    assert [(r.staff_id, r.title) for r in decided] == [(c.lead_admin.id, f"延期未同意 {ticket['ticket_no']}")]


def test_a_reopened_ticket_reaches_the_unit_again(reachable):
    c = reachable
    ticket = submit(c)
    run_jobs()
    service.sign(ticket["id"], c.lead, now=NOW + timedelta(hours=1))
    service.reply(ticket["id"], c.lead, "已要求助餐点减少用盐，并每周抽查。", now=NOW + timedelta(hours=2))
    service.reopen(ticket["id"], c.resident, "饭菜还是太咸，没有改善", now=NOW + timedelta(days=1))
    run_jobs()
    assert [m["textcard"]["title"] for m in cards(c.wecom, c.lead.username)] == [
        f"新派单 {ticket['ticket_no']}", f"重办派单 {ticket['ticket_no']}"]


def test_a_rejected_progress_draft_tells_its_author_only(reachable):
    c = reachable
    from app.progress import service as progress

    draft = progress.create_draft(c.project.id, c.lead, "助餐点已建成 3 个，正在试运营")
    progress.reject(draft["id"], c.office, "请补充各乡镇的完成数和照片", now=NOW)
    run_jobs()
    rows = messages(kind="update_rejected")
    assert {(r.staff_id, r.channel) for r in rows} == {(c.lead.id, "wecom"), (c.lead.id, "sms")}
    card = cards(c.wecom, c.lead.username)[0]["textcard"]
    assert card["title"] == "进度稿被退回 6.1" and "请补充各乡镇的完成数和照片" in card["description"]
    assert card["url"].endswith(f"/console/updates/{draft['id']}")
    assert cards(c.wecom, c.lead_admin.username) == []

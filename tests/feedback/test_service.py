"""Ratings with 差评整改, filing complaints (numbering, routing, content check, phones, repeats, limits),
notifications through the outbox to the WeChat double, evaluation, reopen and merge — via the services."""
from datetime import timedelta

import pytest

from app import jobs
from app.accounts.models import AuditLog
from app.errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests
from app.extensions import _RedisConnection, db, redis_store
from app.feedback import service
from app.feedback.models import Complaint, Rating, RectificationTask
from app.feedback.workflow import STATUS_LABELS
from app.wechat.models import Notification
from app.wechat.phones import protect_phone
from tests.feedback.conftest import sh

NOW = sh(2024, 10, 8, 9)


def submit(c, text="助餐点饭菜太咸，老人吃不消", resident=None, now=NOW, **kw):
    kw.setdefault("project_id", c.project.id)
    return service.submit_complaint(resident or c.resident, kw.pop("kind", "complaint"), text, now=now, **kw)


def sent(wechat, template_id):
    jobs.drain()
    return [m for m in wechat.sent_messages() if m["template_id"] == template_id]


# ---------------------------------------------------------------------------------------------- ratings


def test_a_rating_is_one_per_resident_and_item_and_replaceable(county):
    first = service.rate_project(county.resident, county.project.id, 4, "不错", now=NOW)
    assert (first["level"], first["label"], first["can_rate"]) == (4, "满意", True)
    again = service.rate_project(county.resident, county.project.id, 5, None, now=NOW + timedelta(days=1))
    assert (again["level"], again["comment"]) == (5, None)
    assert db.session.execute(db.select(db.func.count(Rating.id))).scalar_one() == 1
    assert service.get_rating(county.resident, county.project.id)["level"] == 5
    with pytest.raises(NotFound):
        service.get_rating(county.stranger, county.project.id)
    assert db.session.execute(db.select(db.func.count(RectificationTask.id))).scalar_one() == 0


def test_a_bad_rating_with_a_comment_opens_a_rectification_task_for_the_primary_unit(county, factories,
                                                                                     subtests):
    for level, comment, opens in [(1, "太远了", True), (2, "饭菜太咸", True), (2, None, False), (3, "一般", False)]:
        with subtests.test(level=level, comment=comment):
            rating = service.rate_project(factories.resident(), county.project.id, level, comment, now=NOW)
            assert (rating["rectification"] is not None) == opens
            if opens:
                task = db.session.get(RectificationTask, rating["rectification"]["id"])
                assert (task.unit_id, task.rating_level, task.rating_comment, task.status) == (
                    county.lead_unit.id, level, comment, "open")
    assert db.session.execute(db.select(db.func.count(RectificationTask.id))).scalar_one() == 2


def test_rectification_answered_by_the_unit_notifies_the_rater_who_may_rate_once_more(county):
    service.rate_project(county.resident, county.project.id, 1, "助餐点太远，走不过去", now=NOW)
    with pytest.raises(Conflict, match="整改中"):
        service.rate_project(county.resident, county.project.id, 5, None, now=NOW)
    [task] = service.list_rectifications(county.lead, {}, 1, 20, now=NOW)["items"]
    assert task["rating"] == {"level": 1, "label": "非常不满意", "comment": "助餐点太远，走不过去"}
    assert service.list_rectifications(county.office, {}, 1, 20, now=NOW)["total"] == 1
    assert service.list_rectifications(county.co, {}, 1, 20, now=NOW)["total"] == 0
    with pytest.raises(NotFound):
        service.answer_rectification(task["id"], county.other, "已经整改完毕了", now=NOW)
    with pytest.raises(Forbidden):
        service.answer_rectification(task["id"], county.office, "已经整改完毕了", now=NOW)
    with pytest.raises(Invalid):
        service.answer_rectification(task["id"], county.lead, "好", now=NOW)
    answered = service.answer_rectification(task["id"], county.lead, "已在南洲镇新增一处助餐点", now=NOW)
    assert answered["status"] == "answered" and not answered["overdue"]
    with pytest.raises(Conflict):
        service.answer_rectification(task["id"], county.lead, "再次答复的内容", now=NOW)
    [message] = sent(county.wechat, "tmpl_rectify")
    assert message["touser"] == county.resident.openid
    assert message["page"] == f"pages/project/detail?id={county.project.id}"
    assert message["data"]["thing1"]["value"] == "新建老年助餐点8个" and message["data"]["phrase2"]["value"] == "已整改"
    rating = service.get_rating(county.resident, county.project.id)
    assert rating["can_rate"] and rating["rectification"]["result"] == "已在南洲镇新增一处助餐点"
    # The one further rating is final and opens nothing new, even if it is bad again.
    final = service.rate_project(county.resident, county.project.id, 2, "还是太远", now=NOW)
    assert final["final"] and not final["can_rate"]
    assert db.session.execute(db.select(db.func.count(RectificationTask.id))).scalar_one() == 1
    with pytest.raises(Conflict, match="不再修改"):
        service.rate_project(county.resident, county.project.id, 5, None, now=NOW)


def test_ratings_refuse_risky_comments_and_unknown_items(county):
    with pytest.raises(Invalid) as raised:
        service.rate_project(county.resident, county.project.id, 1, "这是违规内容", now=NOW)
    assert raised.value.errors == {"comment": ["内容未通过微信内容安全检测。"]}
    assert db.session.execute(db.select(db.func.count(Rating.id))).scalar_one() == 0

    with pytest.raises(NotFound):
        service.rate_project(county.resident, 999, 5, None, now=NOW)


# ------------------------------------------------------------------------------------- filing a complaint


def test_ticket_numbers_are_readable_unique_and_restart_each_local_day(county):
    numbers = [submit(county, f"第{i}个问题：路灯不亮", now=NOW)[0]["ticket_no"] for i in range(3)]
    assert numbers == ["NX20241008-0001", "NX20241008-0002", "NX20241008-0003"]
    # 17:00 UTC on 10/8 is already 10/9 in Nanxian.
    late = submit(county, "另一个问题：井盖缺失", resident=county.stranger, now=sh(2024, 10, 9, 1))[0]
    assert late["ticket_no"] == "NX20241009-0001"


def test_routing_to_the_items_primary_unit_or_to_the_offices_triage_queue(county):
    ticket, created = submit(county, township="南洲镇")
    assert created and ticket["status"] == "assigned" and ticket["assigned_unit"]["name"] == "县民政局"
    assert ticket["due_at"] == "2024-10-14T23:59:59+08:00"  # 10/9 10 11 12(Sat, worked) 14
    detail = service.get_for_staff(ticket["id"], county.co, now=NOW)
    assert detail["my_role"] == "co_unit" and [u["name"] for u in detail["co_units"]] == ["县财政局"]
    assert detail["township"] == "南洲镇"

    ticket, _ = submit(county, "路灯不亮了，不知道找哪个部门", project_id=None)
    assert (ticket["status"], ticket["assigned_unit"], ticket["due_at"]) == ("triage", None, None)
    queue = service.list_for_staff(county.office, {"status": "triage"}, 1, 20, now=NOW)
    assert [t["id"] for t in queue["items"]] == [ticket["id"]]
    assert service.list_for_staff(county.lead, {"status": "triage"}, 1, 20, now=NOW)["total"] == 0
    service.assign(ticket["id"], county.office, county.other_unit.id, [county.co_unit.id], now=NOW)
    assigned = service.get_for_staff(ticket["id"], county.office, NOW)
    assert assigned["unit"]["name"] == "县交通运输局" and assigned["co_units"][0]["name"] == "县财政局"


def test_the_content_check_refuses_risky_text_and_holds_review_for_the_office(county):
    """Risky: 422 with the reason, nothing stored. Review, or WeChat not answering: accepted, held in triage."""
    with pytest.raises(Invalid) as raised:
        submit(county, "这里有违规内容")
    assert "违规" in raised.value.message and raised.value.errors == {"content": ["内容未通过微信内容安全检测。"]}
    assert db.session.execute(db.select(db.func.count(Complaint.id))).scalar_one() == 0
    [call] = county.wechat.calls("wxa/msg_sec_check")
    assert call["json"]["openid"] == county.resident.openid and call["json"]["version"] == 2

    ticket, created = submit(county, "这条内容待审，请核实")
    assert created and ticket["status"] == "triage" and ticket["assigned_unit"] is None
    [item] = service.list_for_staff(county.office, {}, 1, 20, now=NOW)["items"]
    assert item["held_for_review"] is True
    assert service.list_for_staff(county.lead, {}, 1, 20, now=NOW)["total"] == 0
    service.assign(ticket["id"], county.office, county.lead_unit.id, now=NOW)
    released = service.get_for_staff(ticket["id"], county.office, NOW)
    assert released["held_for_review"] is False and released["status"] == "assigned"

    county.wechat.force("wxa/msg_sec_check", http_status=500, times=3)
    ticket, created = submit(county)
    assert created and ticket["status"] == "triage"


def test_length_and_field_limits(county, app):
    with pytest.raises(Invalid) as raised:
        submit(county, "太短")
    assert "content" in raised.value.errors
    with pytest.raises(Invalid):
        submit(county, "长" * (app.config["COMPLAINT_MAX_LENGTH"] + 1))
    with pytest.raises(Invalid) as raised:
        submit(county, phone="12345")
    assert "phone" in raised.value.errors
    with pytest.raises(Invalid) as raised:
        submit(county, township="不存在镇")
    assert "township" in raised.value.errors
    with pytest.raises(Invalid) as raised:
        submit(county, project_id=999)
    assert "project_id" in raised.value.errors
    with pytest.raises(Invalid) as raised:
        submit(county, image_ids=[12345])
    assert "image_ids" in raised.value.errors
    assert db.session.execute(db.select(db.func.count(Complaint.id))).scalar_one() == 0


def test_the_phone_is_stored_encrypted_shown_masked_and_revealed_with_a_reason(county):
    ticket, _ = submit(county, phone="138 1234 5678")
    row = db.session.get(Complaint, ticket["id"])
    assert "13812345678" not in row.phone_encrypted and row.phone_masked == "138****5678"
    assert service.get_for_staff(ticket["id"], county.lead, now=NOW)["phone_masked"] == "138****5678"
    revealed = service.reveal_contact(ticket["id"], county.lead, "电话回访核实", ip="10.0.0.8", now=NOW)
    assert revealed["phone"] == "13812345678"
    log = db.session.execute(db.select(AuditLog).filter_by(action="complaint.reveal_contact")).scalar_one()
    assert (log.actor_id, log.target_id, log.detail["reason"], log.ip) == (
        county.lead.id, ticket["id"], "电话回访核实", "10.0.0.8")
    with pytest.raises(Forbidden):
        service.reveal_contact(ticket["id"], county.co, "想看看", now=NOW)

    # Without a phone in the complaint, the number the resident bound in the mini-program is the contact.
    county.resident.phone_encrypted, county.resident.phone_masked = protect_phone("13900001111")
    db.session.commit()
    ticket, _ = submit(county, "另一个问题：助餐点排队太久")
    assert service.reveal_contact(ticket["id"], county.office, "回访", now=NOW)["phone"] == "13900001111"


def test_anonymous_hides_the_resident_from_staff_not_from_the_system(county):
    ticket, _ = submit(county, phone="13812345678", anonymous=True)
    detail = service.get_for_staff(ticket["id"], county.office, now=NOW)
    assert (detail["anonymous"], detail["resident_id"], detail["phone_masked"]) == (True, None, None)
    with pytest.raises(Forbidden, match="匿名"):
        service.reveal_contact(ticket["id"], county.office, "回访", now=NOW)
    assert db.session.get(Complaint, ticket["id"]).resident_id == county.resident.id
    assert service.list_for_resident(county.resident, 1, 20)["items"][0]["id"] == ticket["id"]


def test_repeats_return_the_first_ticket(county):
    """The same Idempotency-Key (the resident's own), or the same text within minutes."""
    first, created = submit(county, idempotency_key="k-1")
    assert created
    again, created = submit(county, "网络重发时内容可能不同", idempotency_key="k-1", now=NOW + timedelta(hours=3))
    assert not created and again["id"] == first["id"]
    # Keys are the resident's own: another resident's identical key is another ticket.
    other, created = submit(county, resident=county.stranger, idempotency_key="k-1")
    assert created and other["id"] != first["id"]

    first, _ = submit(county, "路灯  不亮了，请修理")
    again, created = submit(county, "路灯不亮了，请修理 ", now=NOW + timedelta(minutes=9))
    assert not created and again["id"] == first["id"]
    later, created = submit(county, "路灯不亮了，请修理", now=NOW + timedelta(minutes=11))
    assert created and later["id"] != first["id"]


def test_daily_limits_are_429_with_retry_after_until_local_midnight(county, app, monkeypatch):
    monkeypatch.setitem(app.config, "COMPLAINT_DAILY_LIMIT", 2)
    submit(county, "第一条诉求内容")
    with pytest.raises(Invalid):
        submit(county, "违规的第二条")  # refused content gives its slot back
    submit(county, "第二条诉求内容")
    with pytest.raises(TooManyRequests) as raised:
        submit(county, "第三条诉求内容", now=sh(2024, 10, 8, 22))
    assert raised.value.retry_after == 2 * 3600 and raised.value.headers["Retry-After"] == "7200"
    # A repeat is an answer, not a new use.
    assert submit(county, "第一条诉求内容", now=sh(2024, 10, 8, 9, 5))[1] is False
    assert submit(county, "第三条诉求内容", now=sh(2024, 10, 9, 0, 1))[1] is True
    assert submit(county, "别人的诉求内容", resident=county.stranger)[1] is True

    monkeypatch.setitem(app.config, "RATING_DAILY_LIMIT", 2)
    service.rate_project(county.resident, county.project.id, 4, None, now=NOW)
    service.rate_project(county.resident, county.project.id, 5, None, now=NOW)
    with pytest.raises(TooManyRequests):
        service.rate_project(county.resident, county.other_project.id, 5, None, now=NOW)


def test_without_redis_the_daily_limit_is_counted_in_the_database(county, app, monkeypatch):
    monkeypatch.setitem(app.config, "COMPLAINT_DAILY_LIMIT", 2)
    # Nothing listens on port 1: every Redis call fails at once, as with Redis down.
    monkeypatch.setitem(app.extensions, "redis", _RedisConnection("redis://127.0.0.1:1/0", redis_store.prefix))
    submit(county, "第一条诉求内容")
    submit(county, "第二条诉求内容")
    with pytest.raises(TooManyRequests):
        submit(county, "第三条诉求内容")
    assert db.session.execute(db.select(db.func.count(Complaint.id))).scalar_one() == 2


# ----------------------------------------------------------------------------- reply, evaluation, reopen


def handled(c, text="助餐点饭菜太咸，老人吃不消", now=NOW):
    cid = submit(c, text, now=now)[0]["id"]
    service.sign(cid, c.lead, now=now)
    service.reply(cid, c.lead, "已要求助餐点减少用盐，欢迎监督", now=now)
    return cid


def test_a_reply_tells_the_resident_and_invites_the_evaluation(county):
    cid = handled(county)
    [replied] = sent(county.wechat, "tmpl_reply")
    [invite] = sent(county.wechat, "tmpl_evaluate")
    ticket_no = db.session.get(Complaint, cid).ticket_no
    assert replied["touser"] == invite["touser"] == county.resident.openid
    assert replied["data"]["character_string1"]["value"] == ticket_no
    assert replied["data"]["thing3"]["value"] == "已要求助餐点减少用盐，欢迎监督"
    assert invite["page"] == f"pages/complaint/detail?id={cid}"
    statuses = db.session.execute(db.select(Notification.status)).scalars().all()
    assert statuses == ["sent", "sent"]
    ticket = service.get_for_resident(cid, county.resident, now=NOW)
    assert ticket["replies"][0]["content"] == "已要求助餐点减少用盐，欢迎监督"
    assert [e["action"] for e in ticket["events"]] == ["submit", "sign", "reply"]

    # A resident who accepted no template still gets the reply, just no message.
    cid = submit(county, resident=county.stranger)[0]["id"]
    service.sign(cid, county.lead, now=NOW)
    assert service.reply(cid, county.lead, "已处理完毕，欢迎监督", now=NOW)["status"] == "replied"
    assert [m["touser"] for m in sent(county.wechat, "tmpl_reply")] == [county.resident.openid]


def test_evaluation_closes_the_ticket_and_only_unresolved_ones_reopen_up_to_the_limit(county, app, monkeypatch):
    cid = handled(county)
    ticket = service.evaluate(cid, county.resident, 2, False, "还是咸", now=NOW + timedelta(days=1))
    assert ticket["status"] == "closed" and ticket["evaluation"]["label"] == "不满意" and ticket["can_reopen"]
    ticket = service.reopen(cid, county.resident, "饭菜还是很咸", now=NOW + timedelta(days=1))
    assert ticket["status"] == "assigned" and ticket["reopen_count"] == 1
    assert ticket["assigned_unit"]["name"] == "县民政局"

    cid = handled(county)
    service.evaluate(cid, county.resident, 5, True, now=NOW)
    with pytest.raises(Conflict, match="已解决"):
        service.reopen(cid, county.resident, "想再看看", now=NOW)
    monkeypatch.setitem(app.config, "COMPLAINT_MAX_REOPENS", 1)
    cid = handled(county, "另一家助餐点卫生差")
    service.reopen(cid, county.resident, "没有改善", now=NOW)
    service.sign(cid, county.lead, now=NOW)
    service.reply(cid, county.lead, "已再次督促整改卫生", now=NOW)
    with pytest.raises(Conflict, match="上限"):
        service.reopen(cid, county.resident, "还是没有改善", now=NOW)


def test_a_merged_ticket_follows_the_one_it_joined(county):
    main = submit(county, "助餐点饭菜太咸")[0]["id"]
    duplicate = submit(county, "助餐点的饭菜太咸了，希望改进", resident=county.stranger)[0]["id"]
    with pytest.raises(Invalid):
        service.merge(duplicate, county.office, duplicate, now=NOW)
    service.merge(duplicate, county.office, main, now=NOW)
    merged = service.get_for_staff(duplicate, county.office, NOW)
    assert merged["status"] == "merged" and merged["merged_into"]["id"] == main
    assert service.get_for_staff(main, county.office, now=NOW)["merged_tickets"] == [
        {"id": duplicate, "ticket_no": merged["ticket_no"]}]
    with pytest.raises(Conflict):
        service.merge(main, county.office, duplicate, now=NOW)
    service.sign(main, county.lead, now=NOW)
    service.reply(main, county.lead, "已要求助餐点减少用盐", now=NOW)
    seen = service.get_for_resident(duplicate, county.stranger, now=NOW)
    assert seen["merged_into"]["status"] == "replied"
    assert [r["content"] for r in seen["replies"]] == ["已要求助餐点减少用盐"]


def test_the_staff_queue_puts_overdue_first_then_the_nearest_deadline(county):
    old = submit(county, "九月的诉求，已超期", now=sh(2024, 9, 27, 9))[0]["id"]
    signed = submit(county, "今天的诉求，已签收")[0]["id"]
    service.sign(signed, county.lead, now=NOW)
    fresh = submit(county, "今天的诉求，未签收")[0]["id"]
    triage = submit(county, "没有选择项目的诉求", project_id=None)[0]["id"]
    queue = service.list_for_staff(county.office, {}, 1, 20, now=sh(2024, 10, 8, 12))
    assert [t["id"] for t in queue["items"]] == [old, fresh, signed, triage]
    assert [t["overdue"] for t in queue["items"]] == [True, False, False, False]
    # Pages cut across the open tickets and the rest without losing or repeating one.
    at = sh(2024, 10, 8, 12)
    assert [service.list_for_staff(county.office, {}, page, 1, now=at)["items"][0]["id"]
            for page in range(1, 5)] == [old, fresh, signed, triage]
    assert [t["id"] for t in service.list_for_staff(county.office, {}, 2, 3, now=at)["items"]] == [triage]
    assert service.list_for_staff(county.office, {}, 3, 3, now=at) == {"items": [], "total": 4, "page": 3,
                                                                       "per_page": 3}
    filtered = service.list_for_staff(county.office, {"overdue": False, "kind": "complaint",
                                                      "project": county.project.id}, 1, 2, now=NOW)
    assert filtered["total"] == 2 and len(filtered["items"]) == 2
    assert service.list_for_staff(county.office, {"unit": county.other_unit.id}, 1, 20, now=NOW)["total"] == 0
    by_number = service.list_for_staff(county.office, {"q": queue["items"][1]["ticket_no"]}, 1, 20, now=NOW)
    assert [t["id"] for t in by_number["items"]] == [fresh]


def test_count_by_status_matches_the_queue_for_every_scope(county):
    first, _ = submit(county)
    submit(county, "另一个助餐点的饭菜也太咸了")
    service.sign(first["id"], county.lead, now=NOW)
    submit(county, "没有项目的诉求请专班分派处理", project_id=None)
    later = NOW + timedelta(days=30)  # the unsigned one is overdue by then
    for staff in (county.lead, county.co, county.other, county.office):
        for filters in ({}, {"kind": "complaint"}, {"project": county.project.id}, {"q": "另一个"}):
            counts = service.count_by_status(staff, filters, now=later)
            expected = {status: service.list_for_staff(staff, {**filters, "status": status}, 1, 1, now=later)["total"]
                        for status in STATUS_LABELS}
            expected["overdue"] = service.list_for_staff(staff, {**filters, "overdue": True}, 1, 1, now=later)["total"]
            assert counts == expected, (staff.username, filters)
    assert service.count_by_status(county.office, {}, now=later) == {
        **dict.fromkeys(STATUS_LABELS, 0), "assigned": 1, "signed": 1, "triage": 1, "overdue": 2}
    assert service.count_by_status(county.other, {}, now=later)["assigned"] == 0


def test_without_redis_the_daily_limit_counts_the_local_day_when_utc_is_still_on_the_day_before(
        county, app, monkeypatch):
    """00:00–08:00 in Beijing is still the day before in UTC: the recount must start at local midnight (found by
    CI running at 00:09 Beijing time: SQLite compared the +08:00 bound as if it were UTC)."""
    monkeypatch.setitem(app.config, "COMPLAINT_DAILY_LIMIT", 2)
    monkeypatch.setitem(app.extensions, "redis", _RedisConnection("redis://127.0.0.1:1/0", redis_store.prefix))
    submit(county, "前一天晚上的诉求", now=sh(2024, 10, 8, 23, 30))  # yesterday: not counted today
    submit(county, "凌晨第一条诉求", now=sh(2024, 10, 9, 0, 30))
    submit(county, "早上第二条诉求", now=sh(2024, 10, 9, 7, 0))
    with pytest.raises(TooManyRequests):
        submit(county, "早上第三条诉求", now=sh(2024, 10, 9, 7, 30))
    assert db.session.execute(db.select(db.func.count(Complaint.id))).scalar_one() == 3

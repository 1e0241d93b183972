"""Similar tickets and 附议 over HTTP: a resident drafting finds another's ticket about the same problem (never
its text, photos or contact), joins it instead of filing, follows it under 我的诉求 and is told of its reply;
并单 carries joiners along."""
import pytest

from app import jobs
from app.extensions import db
from app.feedback.models import Complaint, ComplaintJoin
from tests import factories
from tests.feedback.conftest import give_quota

SALTY = "兴盛社区助餐点的菜太咸太油了，我们有高血压的老人吃不消，希望做清淡一点。"


@pytest.fixture
def api(county):
    return {"resident": factories.auth(factories.resident_token(county.resident)),
            "stranger": factories.auth(factories.resident_token(county.stranger)),
            "lead": factories.auth(factories.staff_token(county.lead)),
            "office": factories.auth(factories.staff_token(county.office))}


def _file(client, api, county, content=SALTY, who="resident", **body):
    body = {"kind": "complaint", "content": content, "project_id": county.project.id, "township": "南洲镇",
            "phone": "13812345678", "image_ids": [], **body}
    response = client.post("/api/v1/complaints", json=body, headers=api[who])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _similar(client, api, who="stranger", **draft):
    response = client.post("/api/v1/complaints/similar", json=draft, headers=api[who])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_a_draft_finds_the_same_problem_in_other_words_without_its_text(client, api, county):
    salty = _file(client, api, county)
    _file(client, api, county, content="南洲镇农村公路急弯没有护栏，晚上开车很危险。",
          project_id=county.other_project.id)
    found = _similar(client, api, content="社区老年食堂饭菜口味重，盐放得多，老年人吃了口干",
                     project_id=county.project.id, township="南洲镇")
    assert [item["ticket_no"] for item in found] == [salty["ticket_no"]]
    item = found[0]
    assert set(item) == {"id", "ticket_no", "kind", "kind_label", "project", "township", "status", "status_label",
                         "created_at", "joined_count", "reply"}
    assert (item["joined_count"], item["reply"], item["township"]) == (0, None, "南洲镇")
    # Another township, or one's own ticket, is never offered.
    assert _similar(client, api, content="老年食堂饭菜口味重，盐放得多", township="茅草街镇") == []
    assert _similar(client, api, who="resident", content="老年食堂饭菜口味重，盐放得多") == []


def test_bad_drafts_are_refused_clearly(client, api, county):
    for body, field in [({"content": ""}, "content"), ({"content": "菜太咸了", "project_id": 999999}, "project_id"),
                        ({}, "content")]:
        response = client.post("/api/v1/complaints/similar", json=body, headers=api["stranger"])
        assert response.status_code == 422 and field in response.get_json()["errors"]
    assert client.post("/api/v1/complaints/similar", json={"content": "菜太咸了"}).status_code == 401


def test_joining_follows_the_ticket_and_hears_its_reply(client, api, county, wechat):
    give_quota(wechat, county.stranger)
    salty = _file(client, api, county)
    joined = client.post(f"/api/v1/complaints/{salty['id']}/join", headers=api["stranger"])
    assert joined.status_code == 200
    view = joined.get_json()
    assert (view["joined"], view["content"], view["images"], view["phone_masked"]) == (True, None, [], None)
    assert (view["can_evaluate"], view["can_reopen"]) == (False, False)
    # Idempotent: a second join changes nothing.
    assert client.post(f"/api/v1/complaints/{salty['id']}/join", headers=api["stranger"]).status_code == 200
    assert db.session.execute(db.select(db.func.count(ComplaintJoin.id))).scalar_one() == 1
    assert _similar(client, api, content=SALTY)[0]["joined_count"] == 1
    assert client.post(f"/api/v1/complaints/{salty['id']}/join", headers=api["resident"]).status_code == 409
    listed = client.get("/api/v1/me/complaints", headers=api["stranger"]).get_json()["items"]
    assert [(i["ticket_no"], i["joined"], i["content"]) for i in listed] == [(salty["ticket_no"], True, None)]
    # The unit and the office see how many joined; the 三率 still count one ticket.
    staff_view = client.get(f"/api/v1/staff/complaints/{salty['id']}", headers=api["office"]).get_json()
    assert staff_view["joined_count"] == 1
    assert db.session.execute(db.select(db.func.count(Complaint.id))).scalar_one() == 1

    base = f"/api/v1/staff/complaints/{salty['id']}"
    assert client.post(f"{base}/sign", headers=api["lead"]).status_code == 200
    assert client.post(f"{base}/reply", json={"content": "已要求助餐点少盐少油，每周公示菜谱"},
                       headers=api["lead"]).status_code == 200
    jobs.drain()
    to_joiner = [m for m in wechat.sent_messages() if m["touser"] == county.stranger.openid]
    assert len(to_joiner) == 1 and to_joiner[0]["page"] == f"pages/complaint/detail?id={salty['id']}"
    assert "高血压" not in str(to_joiner[0]["data"])
    detail = client.get(f"/api/v1/me/complaints/{salty['id']}", headers=api["stranger"]).get_json()
    assert detail["replies"][0]["content"] == "已要求助餐点少盐少油，每周公示菜谱"
    found = _similar(client, api, content=SALTY)[0]
    assert found["reply"]["content"] == "已要求助餐点少盐少油，每周公示菜谱"
    # A joiner evaluates the reply for themself, once; the ticket stays open for the reporter's evaluation.
    assert detail["can_evaluate"] is True and detail["can_reopen"] is False
    mine = f"/api/v1/me/complaints/{salty['id']}/evaluation"
    evaluated = client.post(mine, json={"level": 2, "resolved": False, "comment": "我家附近的还是咸"},
                            headers=api["stranger"])
    assert evaluated.status_code == 200
    body = evaluated.get_json()
    assert (body["status"], body["evaluation"]["level"], body["can_evaluate"]) == ("replied", 2, False)
    assert client.post(mine, json={"level": 5, "resolved": True}, headers=api["stranger"]).status_code == 409
    assert client.post(f"/api/v1/me/complaints/{salty['id']}/reopen", json={"reason": "还是咸"},
                       headers=api["stranger"]).status_code == 404
    reporter = client.post(mine, json={"level": 4, "resolved": True}, headers=api["resident"]).get_json()
    assert (reporter["status"], reporter["evaluation"]["level"]) == ("closed", 4)
    assert db.session.get(Complaint, salty["id"]).assignment.eval_level == 4


def test_merging_carries_the_joiners_along(client, api, county):
    third = factories.resident()
    db.session.commit()
    api["third"] = factories.auth(factories.resident_token(third))
    first = _file(client, api, county)
    second = _file(client, api, county, content="兴盛社区助餐点的饭菜咸得很，老人吃不惯", who="stranger")
    assert client.post(f"/api/v1/complaints/{second['id']}/join", headers=api["third"]).status_code == 200
    merged = client.post(f"/api/v1/staff/complaints/{second['id']}/merge", json={"into_id": first["id"]},
                         headers=api["office"])
    assert merged.status_code == 200
    listed = client.get("/api/v1/me/complaints", headers=api["third"]).get_json()["items"]
    assert {i["ticket_no"] for i in listed} == {first["ticket_no"], second["ticket_no"]}


def test_only_open_or_recently_answered_tickets_can_be_joined(client, api, county):
    salty = _file(client, api, county)
    assert client.post("/api/v1/complaints/999999/join", headers=api["stranger"]).status_code == 404
    ticket = db.session.get(Complaint, salty["id"])
    ticket.status = "merged"
    db.session.commit()
    refused = client.post(f"/api/v1/complaints/{salty['id']}/join", headers=api["stranger"])
    assert refused.status_code == 409 and refused.get_json()["message"] == "该诉求已办结或已并单，不能附议。"


def test_the_office_gets_likely_duplicates_with_a_score(client, api, county):
    first = _file(client, api, county)
    second = _file(client, api, county, content="兴盛社区老年食堂的菜咸得很，盐放得多，老人吃不惯", who="stranger")
    _file(client, api, county, content="助餐点离家太远，希望能送餐上门给行动不便的老人。", who="stranger")
    response = client.get(f"/api/v1/staff/complaints/{second['id']}/similar", headers=api["office"])
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert items[0]["ticket_no"] == first["ticket_no"] and items[0]["content"] == SALTY
    assert all(a["score"] >= b["score"] for a, b in zip(items, items[1:]))
    assert client.get(f"/api/v1/staff/complaints/{second['id']}/similar", headers=api["lead"]).status_code == 403

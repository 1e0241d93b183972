"""The staff progress-update API over HTTP: drafting, permissions, review, publishing, staleness."""
from app.accounts.models import AuditLog
from app.extensions import db
from app.progress.models import ProgressUpdate
from app.projects.models import MetricChange
from tests.progress.conftest import ITEM, OTHER_ITEM, add_townships, draft, metric, project, values


def public(client, code=ITEM, suffix=""):
    response = client.get(f"/api/v1/projects/{project(code).id}{suffix}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def current(body, key):
    return next(m["current"] for m in body["metrics"] if m["key"] == key)


def test_unit_drafts_an_update_that_stays_private(client, people):
    response = draft(client, people.h["women"], metric_values=values(m1="6", m2="240.5"), township="南洲镇")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["status"], body["status_label"], body["unit"]["name"]) == ("draft", "待审核", "县妇女联合会")
    assert [(v["metric_name"], v["value"], v["current"]) for v in body["metric_values"]] == [
        ("线下家庭教育指导服务和实践活动", "6", "0"), ("线下家庭教育指导服务人次", "240.5", "0")]
    assert body["created_at"].endswith("+08:00")
    # Nothing public moves before the office publishes.
    assert public(client, suffix="/updates")["total"] == 0
    assert current(public(client), "m1") == "0"


def test_co_unit_may_draft_too(client, people):
    assert draft(client, people.h["education"], metric_values=values(m5="1200")).status_code == 201


def test_a_unit_drafts_only_the_metrics_it_answers_for(client, people):
    # 1.2: 县妇女联合会 answers for m1–m4, 县教育局 for m5 (the online learners).
    refused = draft(client, people.h["education"], metric_values=values(m5="1200", m1="6"))
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["metric_values"]["1"]["metric_id"] == [
        "指标“线下家庭教育指导服务和实践活动”由县妇女联合会负责填报。"]
    refused = draft(client, people.h["women"], metric_values=values(m5="1200"))
    assert refused.status_code == 422 and "由县教育局负责填报" in str(refused.get_json()["errors"])
    assert db.session.execute(db.select(db.func.count(ProgressUpdate.id))).scalar_one() == 0
    # The office editing the women's draft cannot slip the education bureau's metric into it.
    update_id = draft(client, people.h["women"], metric_values=values(m1="6")).get_json()["id"]
    edited = client.patch(f"/api/v1/staff/updates/{update_id}", json={"metric_values": values(m5="1")},
                          headers=people.h["office"])
    assert edited.status_code == 422
    # A metric naming no unit (4.1's) may be drafted by any lead unit of its item.
    assert draft(client, people.h["women"], code="4.1", metric_values=values("4.1", m1="100")).status_code == 201


def test_the_item_page_shows_who_answers_for_what(client, plan):
    body = public(client)
    assert {m["key"]: (m["responsible_unit"] or {}).get("name") for m in body["metrics"]} == {
        "m1": "县妇女联合会", "m2": "县妇女联合会", "m3": "县妇女联合会", "m4": "县妇女联合会", "m5": "县教育局"}
    assert all(m["responsible_unit"] is None for m in public(client, code="4.1")["metrics"])


def test_another_units_item_is_404_and_nothing_is_written(client, people):
    response = draft(client, people.h["civil"], metric_values=values(m1="6"))
    assert response.status_code == 404
    assert response.get_json()["message"] == "项目不存在。"
    assert draft(client, people.h["women"], code=OTHER_ITEM).status_code == 404
    assert client.post("/api/v1/staff/projects/99999/updates", json={"content": "x"},
                       headers=people.h["women"]).status_code == 404
    assert db.session.execute(db.select(db.func.count(ProgressUpdate.id))).scalar_one() == 0


def test_another_units_update_is_404_to_read_edit_or_list(client, people):
    update_id = draft(client, people.h["women"]).get_json()["id"]
    civil = people.h["civil"]
    assert client.get(f"/api/v1/staff/updates/{update_id}", headers=civil).status_code == 404
    assert client.patch(f"/api/v1/staff/updates/{update_id}", json={"content": "改"},
                        headers=civil).status_code == 404
    assert client.get("/api/v1/staff/updates", headers=civil).get_json()["total"] == 0
    # The co-unit drafts its own updates; it does not see the primary unit's.
    assert client.get(f"/api/v1/staff/updates/{update_id}", headers=people.h["education"]).status_code == 404


def test_only_units_draft_and_only_the_office_reviews(client, people):
    assert draft(client, people.h["office"]).status_code == 403
    update_id = draft(client, people.h["women"]).get_json()["id"]
    for path in ("publish", "reject"):
        response = client.post(f"/api/v1/staff/updates/{update_id}/{path}", json={"reason": "x"},
                               headers=people.h["women"])
        assert response.status_code == 403
    assert client.post(f"/api/v1/staff/updates/{update_id}/publish").status_code == 401


def test_bad_values_are_422_with_field_errors(client, people):
    foreign = metric(OTHER_ITEM, "m1").id
    response = draft(client, people.h["women"], metric_values=[
        {"metric_id": metric(ITEM, "m1").id, "value": "-1"},
        {"metric_id": foreign, "value": "1"},
        {"metric_id": metric(ITEM, "m2").id, "value": "1.23456"},
        {"metric_id": metric(ITEM, "m3").id, "value": "1", "township": "南洲镇"},
    ])
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"]
    errors = body["errors"]["metric_values"]
    assert errors["0"] == {"value": ["数值不能为负数。"]}
    assert errors["1"] == {"metric_id": ["该指标不属于此项目。"]}
    assert errors["2"]["value"] == ["数值最多 14 位整数、4 位小数。"]
    assert "乡镇分解" in errors["3"]["township"][0]
    # Decimals travel as strings: a JSON float is refused by the schema, before any service check.
    floats = draft(client, people.h["women"], metric_values=[{"metric_id": metric(ITEM, "m4").id, "value": 12.5}])
    assert floats.get_json()["errors"]["metric_values"]["0"]["value"] == ["不是有效的数字。"]
    assert db.session.execute(db.select(db.func.count(ProgressUpdate.id))).scalar_one() == 0


def test_missing_content_and_bad_township_are_422(client, people):
    response = client.post(f"/api/v1/staff/projects/{project(ITEM).id}/updates", json={},
                           headers=people.h["women"])
    assert response.status_code == 422
    assert "content" in response.get_json()["errors"]
    assert draft(client, people.h["women"], content="   ").status_code == 422
    response = draft(client, people.h["women"], township="不存在镇")
    assert (response.status_code, list(response.get_json()["errors"])) == (422, ["township"])


def test_township_metric_needs_a_known_township(client, people):
    add_townships(ITEM, "m1", {"南洲镇": "30", "厂窖镇": "30"})
    m1 = metric(ITEM, "m1").id
    missing = draft(client, people.h["women"], metric_values=[{"metric_id": m1, "value": "3"}])
    assert missing.status_code == 422
    assert "请填写乡镇" in missing.get_json()["errors"]["metric_values"]["0"]["township"][0]
    unknown = draft(client, people.h["women"], metric_values=[{"metric_id": m1, "value": "3", "township": "华阁镇"}])
    assert unknown.status_code == 422
    twice = draft(client, people.h["women"], metric_values=[{"metric_id": m1, "value": "3", "township": "南洲镇"},
                                                            {"metric_id": m1, "value": "4", "township": "南洲镇"}])
    assert twice.get_json()["errors"]["metric_values"]["1"]["metric_id"] == ["同一指标（同一乡镇）重复填写。"]


def test_publish_changes_values_history_timeline_status_and_cache(client, people):
    before = public(client)  # cached now: the publish must invalidate it
    assert (before["status"], current(before, "m1"), before["last_published_at"]) == ("not_started", "0", None)
    update_id = draft(client, people.h["women"], metric_values=values(m1="30", m2="2400")).get_json()["id"]

    response = client.post(f"/api/v1/staff/updates/{update_id}/publish", headers=people.h["office"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "published" and body["published_at"].endswith("+08:00")
    assert body["published_by"]["id"] == people.office.id

    after = public(client)
    assert (current(after, "m1"), current(after, "m2")) == ("30", "2400")
    # (30/60 + 2400/2400 + 0 + 0 + 0) / 5 = 0.3
    assert (after["progress"], after["status"]) == ("0.3", "in_progress")
    assert after["last_published_at"] == body["published_at"]
    timeline = public(client, suffix="/updates")
    assert timeline["total"] == 1 and after["recent_updates"][0]["id"] == update_id
    entry = timeline["items"][0]
    assert entry["content"].startswith("本月在南洲镇")
    assert [(c["metric_name"], c["old_value"], c["new_value"]) for c in entry["metric_changes"]] == [
        ("线下家庭教育指导服务和实践活动", "0", "30"), ("线下家庭教育指导服务人次", "0", "2400")]
    history = public(client, suffix="/history")["items"]
    assert {(h["field"], h["old_value"], h["new_value"], h["source"], h["unit"]["name"], h["update_id"])
            for h in history} == {("current", "0", "30", "update", "县妇女联合会", update_id),
                                  ("current", "0", "2400", "update", "县妇女联合会", update_id)}
    rows = db.session.execute(db.select(MetricChange).filter_by(update_id=update_id)).scalars().all()
    assert {r.staff_id for r in rows} == {people.women.id}
    assert db.session.execute(db.select(AuditLog).filter_by(action="progress.publish")).scalar_one().actor_id \
        == people.office.id


def test_second_publish_is_409_and_changes_nothing(client, people):
    update_id = draft(client, people.h["women"], metric_values=values(m1="10")).get_json()["id"]
    assert client.post(f"/api/v1/staff/updates/{update_id}/publish", headers=people.h["office"]).status_code == 200
    again = client.post(f"/api/v1/staff/updates/{update_id}/publish", headers=people.h["office"])
    assert again.status_code == 409
    assert again.get_json()["message"] == "该进展已发布，不能重复发布或退回。"
    assert client.post(f"/api/v1/staff/updates/{update_id}/reject", json={"reason": "晚了"},
                       headers=people.h["office"]).status_code == 409
    assert client.patch(f"/api/v1/staff/updates/{update_id}", json={"content": "改"},
                        headers=people.h["women"]).status_code == 409
    assert db.session.execute(db.select(db.func.count(MetricChange.id))).scalar_one() == 1
    assert client.post("/api/v1/staff/updates/99999/publish", headers=people.h["office"]).status_code == 404


def test_rejected_update_never_shows_and_goes_back_to_its_unit(client, people):
    update_id = draft(client, people.h["women"], metric_values=values(m1="10")).get_json()["id"]
    response = client.post(f"/api/v1/staff/updates/{update_id}/reject", json={"reason": "请补充活动照片"},
                           headers=people.h["office"])
    assert response.status_code == 200
    assert client.post(f"/api/v1/staff/updates/{update_id}/publish", headers=people.h["office"]).status_code == 409
    assert public(client, suffix="/updates")["total"] == 0 and current(public(client), "m1") == "0"

    mine = client.get("/api/v1/staff/updates?status=rejected", headers=people.h["women"]).get_json()
    assert [(u["id"], u["reject_reason"], u["status_label"]) for u in mine["items"]] == [
        (update_id, "请补充活动照片", "已退回")]
    # The office cannot edit it back; the unit's edit resubmits it.
    assert client.patch(f"/api/v1/staff/updates/{update_id}", json={"content": "补充"},
                        headers=people.h["office"]).status_code == 409
    edited = client.patch(f"/api/v1/staff/updates/{update_id}", json={"content": "补充了照片说明"},
                          headers=people.h["women"]).get_json()
    assert (edited["status"], edited["reject_reason"], edited["content"]) == ("draft", None, "补充了照片说明")
    assert client.post(f"/api/v1/staff/updates/{update_id}/publish", headers=people.h["office"]).status_code == 200
    assert current(public(client), "m1") == "10"


def test_reject_needs_a_reason(client, people):
    update_id = draft(client, people.h["women"]).get_json()["id"]
    for body in ({}, {"reason": "   "}):
        response = client.post(f"/api/v1/staff/updates/{update_id}/reject", json=body, headers=people.h["office"])
        assert response.status_code == 422
        assert "reason" in response.get_json()["errors"]
    assert db.session.get(ProgressUpdate, update_id).status == "draft"


def test_office_edits_a_draft_before_publishing(client, people):
    update_id = draft(client, people.h["women"], metric_values=values(m1="10")).get_json()["id"]
    response = client.patch(f"/api/v1/staff/updates/{update_id}", headers=people.h["office"],
                            json={"metric_values": values(m1="12"), "content": "订正后的说明"})
    assert response.status_code == 200
    assert [v["value"] for v in response.get_json()["metric_values"]] == ["12"]
    assert response.get_json()["edited_by"]["id"] == people.office.id
    assert client.patch(f"/api/v1/staff/updates/{update_id}", json={}, headers=people.h["office"]).status_code == 422
    bad = client.patch(f"/api/v1/staff/updates/{update_id}", json={"metric_values": values(m1="-2")},
                       headers=people.h["office"])
    assert bad.status_code == 422
    client.post(f"/api/v1/staff/updates/{update_id}/publish", headers=people.h["office"])
    assert current(public(client), "m1") == "12"


def test_lists_are_scoped_filtered_and_paged(client, people):
    a = draft(client, people.h["women"]).get_json()["id"]
    b = draft(client, people.h["education"]).get_json()["id"]
    c = draft(client, people.h["civil"], code=OTHER_ITEM).get_json()["id"]
    client.post(f"/api/v1/staff/updates/{a}/publish", headers=people.h["office"])

    def ids(headers, query=""):
        response = client.get(f"/api/v1/staff/updates{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [u["id"] for u in response.get_json()["items"]]

    office = people.h["office"]
    assert ids(office) == [c, b, a]
    assert ids(office, "?status=draft") == [c, b]
    assert ids(office, f"?project={project(OTHER_ITEM).id}") == [c]
    assert ids(office, f"?unit={people.civil.unit_id}") == [c]
    assert ids(people.h["women"]) == [a]
    # A unit's filter by another unit cannot widen its view.
    assert ids(people.h["women"], f"?unit={people.civil.unit_id}") == [a]
    page = client.get("/api/v1/staff/updates?per_page=2&page=2", headers=office).get_json()
    assert (page["total"], page["page"], [u["id"] for u in page["items"]]) == (3, 2, [a])
    assert client.get("/api/v1/staff/updates?status=bogus", headers=office).status_code == 422


def test_stale_projects_office_sees_all_units_their_own(client, people):
    office = client.get("/api/v1/staff/stale-projects?per_page=100", headers=people.h["office"]).get_json()
    # The 2024 plan started long ago and nothing was ever published: every item is stale.
    assert office["total"] == 24 and office["days"] == 30
    assert office["items"][0]["days_without_update"] > 30
    update_id = draft(client, people.h["women"]).get_json()["id"]
    client.post(f"/api/v1/staff/updates/{update_id}/publish", headers=people.h["office"])
    office = client.get("/api/v1/staff/stale-projects?per_page=100", headers=people.h["office"]).get_json()
    assert office["total"] == 23 and ITEM not in [p["code"] for p in office["items"]]
    civil = client.get("/api/v1/staff/stale-projects", headers=people.h["civil"]).get_json()
    assert [p["code"] for p in civil["items"]] == ["3.1", "3.2", "3.3", "6.1", "6.2"]
    assert client.get("/api/v1/staff/stale-projects?days=0", headers=people.h["civil"]).status_code == 422
    assert client.get("/api/v1/staff/stale-projects").status_code == 401


def test_endpoints_are_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, method in [("/api/v1/staff/projects/{project_id}/updates", "post"),
                         ("/api/v1/staff/updates", "get"), ("/api/v1/staff/updates/{update_id}", "patch"),
                         ("/api/v1/staff/updates/{update_id}/reject", "post"),
                         ("/api/v1/staff/updates/{update_id}/publish", "post"),
                         ("/api/v1/staff/stale-projects", "get")]:
        operation = spec["paths"][path][method]
        assert operation["summary"] and operation["security"] == [{"bearerAuth": []}]


def upload(client, headers, colour="red"):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, "PNG")
    response = client.post("/api/v1/uploads", headers=headers,
                           data={"file": (io.BytesIO(buffer.getvalue()), "site.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_photos_must_be_the_authors_own_and_show_once_published(client, people, factories):
    mine = [upload(client, people.h["women"]), upload(client, people.h["women"], "blue")]
    theirs = upload(client, people.h["civil"])
    resident_photo = upload(client, factories.auth(factories.resident_token(factories.resident())))
    for foreign in (theirs, resident_photo, 99999):
        response = draft(client, people.h["women"], image_ids=[mine[0], foreign])
        assert response.status_code == 422 and "image_ids" in response.get_json()["errors"]

    update_id = draft(client, people.h["women"], image_ids=mine).get_json()["id"]
    # The office may drop a photo, and add its own, but not somebody else's.
    own = upload(client, people.h["office"])
    assert client.patch(f"/api/v1/staff/updates/{update_id}", json={"image_ids": [mine[1], theirs]},
                        headers=people.h["office"]).status_code == 422
    edited = client.patch(f"/api/v1/staff/updates/{update_id}", json={"image_ids": [mine[1], own]},
                          headers=people.h["office"])
    assert [i["id"] for i in edited.get_json()["images"]] == [mine[1], own]
    client.post(f"/api/v1/staff/updates/{update_id}/publish", headers=people.h["office"])
    entry = public(client, suffix="/updates")["items"][0]
    assert [i["id"] for i in entry["images"]] == [mine[1], own]
    # Staff photos on the public timeline open for anyone.
    assert client.get(entry["images"][0]["url"]).status_code == 200

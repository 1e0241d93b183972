"""The same Idempotency-Key sent several times at once (a phone retrying a slow request; issue 21.2): one
ticket, every answer that ticket, no 429 and no daily slot spent by the repeats."""
import threading
from concurrent.futures import ThreadPoolExecutor

from app.auth import issue_token
from app.extensions import db
from app.feedback.models import Complaint

CHECK = "wxa/msg_sec_check"


def test_concurrent_repeats_of_the_days_last_complaint_are_its_ticket_not_429(app, county, monkeypatch):
    monkeypatch.setitem(app.config, "COMPLAINT_DAILY_LIMIT", 5)
    headers = {"Authorization": f"Bearer {issue_token('resident', county.resident.id, 1)}"}
    client = app.test_client()
    for i in range(4):
        response = client.post("/api/v1/complaints", headers=headers,
                               json={"kind": "complaint", "content": f"第{i + 1}条：助餐点的饭菜太咸了"})
        assert response.status_code == 201
    county.wechat.force(CHECK, delay=0.5)  # the first request is slow: the repeats arrive while it runs
    barrier = threading.Barrier(4)
    body = {"kind": "complaint", "content": "第五条：助餐点周末不开门", "project_id": county.project.id}

    def post():
        own = app.test_client()
        barrier.wait()
        return own.post("/api/v1/complaints", headers={**headers, "Idempotency-Key": "retry-5"}, json=body)

    with ThreadPoolExecutor(4) as pool:
        answers = [f.result() for f in [pool.submit(post) for _ in range(4)]]
    assert [a.status_code for a in answers] == [201] * 4, [a.get_json() for a in answers]
    assert len({a.get_json()["id"] for a in answers}) == 1
    assert sorted(a.headers.get("Idempotent-Replayed", "false") for a in answers) == ["false"] + ["true"] * 3
    db.session.rollback()
    assert db.session.execute(db.select(db.func.count(Complaint.id))).scalar_one() == 5
    # The repeats took no slot: the fifth was the last, and a different sixth is refused.
    sixth = client.post("/api/v1/complaints", headers=headers, json={"kind": "complaint", "content": "第六条：路灯坏了"})
    assert sixth.status_code == 429
    # And a later repeat of the key still answers the ticket, limit or not.
    again = client.post("/api/v1/complaints", headers={**headers, "Idempotency-Key": "retry-5"}, json=body)
    assert again.status_code == 201 and again.get_json()["id"] == answers[0].get_json()["id"]

"""Two office users merging A into B and B into A at the same moment (issue 21.3): one got a 500 (deadlock
detected). Both rows are locked lowest id first, so one merge waits for the other and then finds its target
merged: 200 and 409, never a 500, and exactly one ticket merged."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.auth import issue_token
from app.extensions import db
from app.feedback import service
from app.feedback.models import Complaint

ROUNDS = 6
# Row locks: SQLite has none (SELECT … FOR UPDATE is ignored there), so the embedded default cannot order them.
pytestmark = pytest.mark.real_services_only


def test_crossed_merges_at_once_are_200_and_409(app, county, monkeypatch):
    monkeypatch.setitem(app.config, "COMPLAINT_DAILY_LIMIT", 100)
    office = {"Authorization": f"Bearer {issue_token('staff', county.office.id, county.office.token_version)}"}
    pairs = []
    with app.test_request_context():
        for i in range(ROUNDS):
            a, _ = service.submit_complaint(county.resident, "complaint", f"第{i}组甲：助餐点的饭菜太咸了", now=None,
                                            project_id=county.project.id)
            b, _ = service.submit_complaint(county.stranger, "complaint", f"第{i}组乙：助餐点饭菜偏咸", now=None,
                                            project_id=county.project.id)
            pairs.append((a["id"], b["id"]))

    def merge(source, target, barrier):
        client = app.test_client()
        barrier.wait()
        return client.post(f"/api/v1/staff/complaints/{source}/merge", json={"into_id": target}, headers=office)

    for a, b in pairs:
        barrier = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            answers = [f.result() for f in (pool.submit(merge, a, b, barrier), pool.submit(merge, b, a, barrier))]
        assert sorted(r.status_code for r in answers) == [200, 409], [r.get_json() for r in answers]
        loser = next(r for r in answers if r.status_code == 409).get_json()
        assert loser["code"] == 409 and "已并入" in loser["message"]
        db.session.rollback()
        statuses = db.session.execute(db.select(Complaint.status).where(Complaint.id.in_((a, b)))).scalars().all()
        assert sorted(statuses) == ["assigned", "merged"]

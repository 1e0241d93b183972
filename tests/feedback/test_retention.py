"""Retention (issue 15.6): the daily job erases the contact phone of tickets closed more than
CONTACT_RETENTION_DAYS ago and marks it on the timeline; the text and the statistics stay."""
from datetime import timedelta

from app import jobs
from app.common.timeutil import utcnow
from app.extensions import db
from app.feedback.models import Complaint, ComplaintEvent
from tests.factories import auth, resident_token, staff_token


def _ticket(client, who, phone, closed_days_ago, project_id):
    filed = client.post("/api/v1/complaints", json={"kind": "complaint", "content": f"路灯坏了很久了，请尽快修好。{phone}",
                                                    "project_id": project_id, "phone": phone},
                        headers=auth(resident_token(who)))
    assert filed.status_code == 201, filed.json
    ticket = db.session.get(Complaint, filed.json["id"])
    if closed_days_ago is not None:
        # As if the workflow had closed it that long ago (closing is tested in tests/feedback/test_workflow.py).
        ticket.status, ticket.closed_at = "closed", utcnow() - timedelta(days=closed_days_ago)
    db.session.commit()
    return ticket.id


def test_the_daily_job_erases_old_contact_phones_and_marks_the_timeline(app, client, county):
    days = app.config["CONTACT_RETENTION_DAYS"]
    assert days == 365
    who, project_id = county.resident, county.project.id
    old = _ticket(client, who, "13900000001", days + 1, project_id)
    recent = _ticket(client, who, "13900000002", days - 1, project_id)
    open_ = _ticket(client, who, "13900000003", None, project_id)
    assert jobs.run_job(app, "app.feedback.jobs.erase_expired_contacts") == 1
    db.session.expire_all()
    erased = db.session.get(Complaint, old)
    assert erased.phone_encrypted is None and erased.phone_masked is None
    assert "13900000001" in erased.content  # the text stays as written
    for kept in (recent, open_):
        assert db.session.get(Complaint, kept).phone_masked
    [event] = db.session.execute(db.select(ComplaintEvent).filter_by(complaint_id=old, action="contact_erased")
                                 ).scalars().all()
    assert event.actor_type == "system" and event.data == {"days": days}
    # The office sees the mark on the timeline, and no phone.
    detail = client.get(f"/api/v1/staff/complaints/{old}", headers=auth(staff_token(county.office))).json
    assert detail["events"][-1]["label"] == "联系电话已按保存期限删除"
    assert detail.get("phone_masked") is None
    # Run again: nothing left to do, no second mark.
    assert jobs.run_job(app, "app.feedback.jobs.erase_expired_contacts") == 0
    assert db.session.execute(db.select(db.func.count()).select_from(ComplaintEvent)
                              .filter_by(action="contact_erased")).scalar_one() == 1

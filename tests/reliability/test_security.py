"""Logins, lockout, dead tokens, console headers and the audit log, through the real HTTP paths."""
import io

import pytest

from app.accounts import service as accounts
from app.accounts.models import AuditLog
from app.auth import issue_token
from app.extensions import db
from app.feedback import service as feedback
from app.progress import service as progress
from tests.factories import PASSWORD


def login(client, username, password=PASSWORD):
    return client.post("/api/v1/staff/auth/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": "10.1.2.3"})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_logins_reveals_exports_assignments_and_publications_are_audited(app, client, county):
    c = county
    db.session.commit()
    assert login(client, c.office.username, "wrong-password").status_code == 401
    office = bearer(login(client, c.office.username).json["token"])
    lead = bearer(login(client, c.lead.username).json["token"])
    with app.test_request_context():
        ticket, _ = feedback.submit_complaint(c.resident, "complaint", "助餐点饭菜太咸了，希望改进。",
                                              project_id=c.project.id, phone="13800001111")
        draft = progress.create_draft(c.project.id, c.lead, "助餐点已开工")
    assert client.post(f"/api/v1/staff/complaints/{ticket['id']}/reveal-contact", headers=lead,
                       json={"reason": "需电话核实"}).status_code == 200
    assert client.get("/api/v1/staff/exports/complaints.xlsx", headers=office).status_code == 200
    assert client.post(f"/api/v1/staff/complaints/{ticket['id']}/assign", headers=office,
                       json={"unit_id": c.other_unit.id, "co_unit_ids": [c.co_unit.id]}).status_code == 200
    assert client.post(f"/api/v1/staff/updates/{draft['id']}/publish", headers=office).status_code == 200

    rows = db.session.execute(db.select(AuditLog).order_by(AuditLog.id)).scalars().all()
    by_action = {}
    for row in rows:
        by_action.setdefault(row.action, []).append(row)
    expected = {
        "staff.login_failed": (c.office.id, "staff", c.office.id),
        "staff.login": None,  # two: the office's and the lead's
        "complaint.reveal_contact": (c.lead.id, "complaint", ticket["id"]),
        "complaints.export": (c.office.id, "complaint", None),
        "complaint.assign": (c.office.id, "complaint", ticket["id"]),
        "progress.publish": (c.office.id, "progress_update", draft["id"]),
    }
    for action, who in expected.items():
        assert action in by_action, action
        if who is not None:
            (row,) = by_action[action]
            assert (row.actor_id, row.target_type, row.target_id) == who, action
            assert row.actor_type == "staff"
    assert {r.actor_id for r in by_action["staff.login"]} == {c.office.id, c.lead.id}
    assert {r.ip for r in by_action["staff.login"] + by_action["staff.login_failed"]} == {"10.1.2.3"}
    assign = by_action["complaint.assign"][0].detail
    assert assign["unit_id"] == c.other_unit.id and assign["co_unit_ids"] == [c.co_unit.id]


def test_five_api_failures_lock_the_console_too_and_the_right_password_waits(app, client, county):
    """From the address that failed; another address is not locked (tests/accounts/test_throttle.py)."""
    from tests.console.conftest import Console

    db.session.commit()
    for _ in range(5):
        assert login(client, county.lead.username, "wrong-password").status_code == 401
    locked = login(client, county.lead.username)  # the right password, during the lock
    assert locked.status_code == 429 and locked.json["code"] == 429
    assert 800 < int(locked.headers["Retry-After"]) <= 900
    console = Console(app.test_client())
    console.client.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    console.get("/console/")
    page = console.post("/console/login", {"username": county.lead.username, "password": PASSWORD})
    assert page.status_code == 429 and "锁定" in page.get_data(as_text=True)
    # An unknown name answers exactly like a wrong password: no way to find out which accounts exist.
    unknown = login(client, "no-such-user", "wrong-password")
    wrong = login(client, county.office.username, "wrong-password")
    without_id = lambda response: {k: v for k, v in response.json.items() if k != "request_id"}  # noqa: E731
    assert (unknown.status_code, without_id(unknown)) == (wrong.status_code, without_id(wrong))


@pytest.mark.parametrize("change", ["disable", "reset_password"])
def test_tokens_die_with_a_disabled_account_or_a_new_password(client, county, change):
    db.session.commit()
    token = login(client, county.lead.username).json["token"]
    assert client.get("/api/v1/staff/complaints", headers=bearer(token)).status_code == 200
    if change == "disable":
        accounts.set_active(county.lead.id, False, county.admin)
    else:
        accounts.reset_password(county.lead.id, "another-horse-7", county.admin)
    refused = client.get("/api/v1/staff/complaints", headers=bearer(token))
    assert refused.status_code == 401 and refused.json["code"] == 401
    again = login(client, county.lead.username, "another-horse-7" if change == "reset_password" else PASSWORD)
    assert again.status_code == (200 if change == "reset_password" else 401)


def test_forged_and_expired_tokens_are_401(app, client, county):
    db.session.commit()
    genuine = issue_token("staff", county.office.id, county.office.token_version)
    payload, _, signature = genuine.rpartition(".")
    tampered = f"{payload}.{'A' * len(signature)}"
    with app.test_request_context():
        saved = app.config["SECRET_KEY"]
        app.config["SECRET_KEY"] = "someone-elses-secret"
        try:
            other_key = issue_token("staff", county.office.id, county.office.token_version)
        finally:
            app.config["SECRET_KEY"] = saved
    resident_as_staff = issue_token("resident", county.office.id)
    for token in (tampered, other_key, resident_as_staff, "", "null", genuine + "x"):
        response = client.get("/api/v1/staff/complaints", headers=bearer(token))
        assert response.status_code == 401 and response.json["code"] == 401, token
    app.config["STAFF_TOKEN_TTL_SECONDS"], saved_ttl = -1, app.config["STAFF_TOKEN_TTL_SECONDS"]
    try:
        expired = client.get("/api/v1/staff/complaints", headers=bearer(genuine))
    finally:
        app.config["STAFF_TOKEN_TTL_SECONDS"] = saved_ttl
    assert expired.status_code == 401 and "过期" in expired.json["message"]


def test_console_pages_and_images_carry_the_security_headers(app, client, county):
    from tests.console.conftest import Console

    db.session.commit()
    photo = client.post("/api/v1/uploads", headers=bearer(issue_token("staff", county.lead.id,
                                                                       county.lead.token_version)),
                        data={"file": (io.BytesIO(_png()), "a.png")},
                        content_type="multipart/form-data").json["id"]
    console = Console(app.test_client())
    anonymous = console.get("/console/")
    console.login(county.lead.username)
    for response in (anonymous, console.get("/console/"), console.get(f"/console/uploads/{photo}"),
                     console.get("/console/uploads/999999"), console.get("/console/complaints/999999")):
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] in ("no-store", "private, max-age=3600")


def _png():
    from tests.media.images import image_bytes

    return image_bytes("PNG")

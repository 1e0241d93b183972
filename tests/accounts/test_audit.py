"""Separation of duties and the tamper-evident audit log (issue 15.4): the chain, the trigger, `audit verify`,
the auditor's API, Excel export and console page, and the security administrator's unlock and role change."""
import threading
from io import BytesIO

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.accounts import throttle
from app.accounts.audit import GENESIS, row_hash
from app.accounts.models import AuditLog
from app.accounts.service import audit, set_active
from app.extensions import db
from tests.factories import PASSWORD, auth, staff, staff_token

AUDIT = "/api/v1/staff/audit"


def _rows():
    return db.session.execute(db.select(AuditLog).order_by(AuditLog.seq)).scalars().all()


def _some_history(n=4):
    admin = staff("security_admin", username="sec1")
    for i in range(n):
        audit("staff", admin.id, "test.action", "thing", i, {"n": i, "text": "中文"})
        db.session.commit()
    return admin


def _tamper(sql, **params):
    """Change the table behind the application's back, as a database superuser could."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text(sql), params)
    db.session.expire_all()


def verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_rows_are_chained_by_hash_in_commit_order(app):
    _some_history()
    rows = _rows()
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == GENESIS
    for before, row in zip(rows, rows[1:]):
        assert row.prev_hash == before.hash and row.hash == row_hash(row)
    result = verify(app)
    assert result.exit_code == 0 and f"{len(rows)} 条记录" in result.output


def test_a_rolled_back_action_leaves_no_audit_row(app):
    admin = _some_history(1)
    count = len(_rows())
    audit("staff", admin.id, "test.never", "thing", 1)
    db.session.rollback()
    db.session.commit()
    assert len(_rows()) == count


@pytest.mark.parametrize("tampering, kind", [
    ("UPDATE audit_logs SET detail = '{\"n\": 99}' WHERE seq = 3", "changed"),
    ("UPDATE audit_logs SET ip = '6.6.6.6' WHERE seq = 2", "changed"),
    ("DELETE FROM audit_logs WHERE seq = 3", "removed"),
])
def test_verify_names_the_first_changed_or_removed_row(app, tampering, kind):
    _some_history()
    target = db.session.execute(db.select(AuditLog.id).where(AuditLog.seq == (2 if "seq = 2" in tampering else 3))
                                ).scalar_one()
    following = db.session.execute(db.select(AuditLog.id).where(AuditLog.seq == 4)).scalar_one()
    _tamper(tampering)
    result = verify(app)
    assert result.exit_code != 0 and "已被篡改" in result.output and kind in result.output
    named = target if kind == "changed" else following
    assert f"第 {named} 条" in result.output


def test_verify_names_an_inserted_row(app):
    _some_history()
    _tamper("UPDATE audit_logs SET seq = seq * 10")  # room between rows, as a forger would make (not a change)
    second = db.session.execute(db.select(AuditLog).where(AuditLog.seq == 20)).scalar_one()
    # A forged row slipped in after the second, even one hashed correctly onto it.
    forged = AuditLog(created_at=second.created_at, actor_type="staff", actor_id=1, action="staff.login",
                      seq=25, prev_hash=second.hash)
    forged.hash = row_hash(forged)
    db.session.add(forged)
    db.session.commit()
    result = verify(app)
    assert result.exit_code != 0 and "inserted" in result.output and f"第 {forged.id} 条" in result.output


@pytest.mark.real_services_only
@pytest.mark.parametrize("statement", ["UPDATE audit_logs SET action = 'x'", "DELETE FROM audit_logs",
                                       "TRUNCATE audit_logs"])
def test_postgresql_refuses_to_change_or_remove_audit_rows(app, statement):
    _some_history(1)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert len(_rows()) == 2


@pytest.mark.real_services_only
def test_concurrent_appends_never_fork_the_chain(app):
    admin_id = staff("security_admin", username="sec1").id
    errors = []

    def work(n):
        try:
            with app.app_context():
                for i in range(10):
                    audit("staff", admin_id, "test.concurrent", "thing", n * 100 + i)
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(_rows()) == 41
    assert verify(app).exit_code == 0


@pytest.mark.parametrize("role", ["admin", "security_admin", "office", "unit_staff"])
def test_only_the_auditor_reads_the_audit_log(app, client, role):
    other = staff(role)
    for path in (AUDIT, AUDIT + ".xlsx"):
        assert client.get(path, headers=auth(staff_token(other))).status_code == 403
    assert client.get(AUDIT).status_code == 401


def test_the_auditor_filters_by_actor_action_target_and_period(app, client):
    security = _some_history()
    auditor = staff("auditor", username="aud1")
    set_active(auditor.id, True, security)  # no change, no row
    headers = auth(staff_token(auditor))
    everything = client.get(AUDIT, headers=headers).json
    # sec1's creation, its 4 actions, the auditor's creation; newest first.
    assert everything["total"] == 6 and everything["items"][0]["seq"] == 6
    assert everything["items"][0]["action"] == "staff.create"
    by_actor = client.get(AUDIT, query_string={"actor": "sec1"}, headers=headers).json
    assert by_actor["total"] == 4 and {i["actor"] for i in by_actor["items"]} == {"sec1"}
    assert client.get(AUDIT, query_string={"action": "staff.create"}, headers=headers).json["total"] == 2
    assert client.get(AUDIT, query_string={"action": "test"}, headers=headers).json["total"] == 4
    target = client.get(AUDIT, query_string={"target": "thing:2"}, headers=headers).json
    assert target["total"] == 1 and target["items"][0]["detail"] == {"n": 2, "text": "中文"}
    assert client.get(AUDIT, query_string={"from": "2000-01-01", "to": "2000-12-31"},
                      headers=headers).json["total"] == 0
    assert client.get(AUDIT, query_string={"from": "not-a-date"}, headers=headers).status_code == 422


def test_the_auditor_exports_to_excel_and_the_export_is_audited(app, client):
    _some_history()
    auditor = staff("auditor", username="aud1")
    response = client.get(AUDIT + ".xlsx", query_string={"action": "test"}, headers=auth(staff_token(auditor)))
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "编号" and len(rows) == 5
    assert {r[4] for r in rows[1:]} == {"test.action"} and {r[3] for r in rows[1:]} == {"sec1"}
    exported = db.session.execute(db.select(AuditLog).filter_by(action="audit.export")).scalar_one()
    assert exported.actor_id == auditor.id and exported.detail == {"action": "test"}


def test_the_auditors_console_page(app):
    from tests.console.conftest import Console

    _some_history()
    staff("auditor", username="aud1")
    console = Console(app.test_client())
    console.login("aud1")
    page = console.get("/console/audit?action=test")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "共 4 条" in html and "test.action" in html and "sec1" in html
    assert "审计日志" in html and "诉求队列" not in html  # its own page, not the casework
    assert console.get("/console/").headers["Location"].endswith("/console/audit")
    assert console.get("/console/audit.xlsx").mimetype.endswith("spreadsheetml.sheet")
    office = Console(app.test_client())
    staff("office", username="office1")
    office.login("office1")
    assert office.get("/console/audit").status_code == 403


def test_the_security_admin_unlocks_and_changes_roles(app, client):
    from tests.console.conftest import Console

    staff("security_admin", username="sec1")
    user = staff("office", username="office1")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        client.post("/api/v1/staff/auth/login", json={"username": "office1", "password": "wrong"},
                    environ_base={"REMOTE_ADDR": "203.0.113.4"})
    console = Console(app.test_client())
    console.login("sec1")
    page = console.get("/console/accounts").get_data(as_text=True)
    assert "锁定 1 个地址" in page
    assert console.post(f"/console/accounts/{user.id}/unlock").status_code == 303
    assert throttle.locked_addresses("office1") == []
    token = staff_token(user)
    assert console.post(f"/console/accounts/{user.id}/role", {"role": "auditor"}).status_code == 303
    db.session.refresh(user)
    assert user.role == "auditor"
    assert client.get(AUDIT, headers=auth(token)).status_code == 401  # the old role's token died
    bad = console.post(f"/console/accounts/{user.id}/role", {"role": "unit_staff"})
    assert bad.status_code == 422 and "所属单位" in bad.get_data(as_text=True)
    actions = [r.action for r in _rows()]
    assert "staff.unlock" in actions and "staff.set_role" in actions
    login = client.post("/api/v1/staff/auth/login", json={"username": "office1", "password": PASSWORD},
                        environ_base={"REMOTE_ADDR": "203.0.113.4"})
    assert login.status_code == 200 and login.json["staff"]["role"] == "auditor"


def test_a_rolled_back_savepoint_takes_only_its_own_audit_rows(app):
    admin = _some_history(1)
    count = len(_rows())
    audit("staff", admin.id, "test.outer", "thing", 1)
    try:
        with db.session.begin_nested():
            audit("staff", admin.id, "test.inner", "thing", 2)
            raise RuntimeError("the savepoint fails")
    except RuntimeError:
        pass
    db.session.commit()
    actions = [r.action for r in _rows()]
    assert len(actions) == count + 1 and actions[-1] == "test.outer" and "test.inner" not in actions


@pytest.mark.parametrize("role", ["security_admin", "auditor"])
def test_the_security_admin_and_the_auditor_do_no_casework(app, client, role):
    from tests.console.conftest import Console

    person = staff(role, username="duty1")
    headers = auth(staff_token(person))
    for path in ("/api/v1/staff/complaints", "/api/v1/staff/updates", "/api/v1/staff/stats"):
        refused = client.get(path, headers=headers)
        assert refused.status_code == 403 and "三员分立" in refused.json["message"], path
    console = Console(app.test_client())
    console.login("duty1")
    assert console.get("/console/dashboard").status_code == 403
    assert console.get("/console/password").status_code == 200
    token = client.post("/api/v1/staff/auth/login", json={"username": "duty1", "password": PASSWORD}).json["token"]
    assert client.post("/api/v1/staff/me/password", json={"current_password": PASSWORD,
                                                         "new_password": "Duty-pass-2026"},
                       headers=auth(token)).status_code == 204

"""Backup and restore on a PostgreSQL database of the test's own: the restore drill, and serving during a backup.

The drill: a migrated database with the 2024 plan, staff, a complaint and uploaded images; `flask backup create`;
the database dropped and the uploads deleted; `flask backup restore`; then every table's rows (read by this test,
row by row, not by the code's checksums) and every image's bytes are what they were.
"""
import datetime
import hashlib
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import make_url

from app.extensions import db
from app.ops.backup import create_backup
from tests import factories
from tests.conftest import PLAN_FILE, app_variant, temporary_database
from tests.media.images import image_bytes, upload

SERVER = os.environ.get("TEST_DATABASE_URL")
needs_postgresql = pytest.mark.skipif(not (SERVER and SERVER.startswith("postgresql")) or not shutil.which("pg_dump"),
                                reason="needs PostgreSQL (TEST_DATABASE_URL) and pg_dump/pg_restore")


@pytest.fixture
def county_db(app_config, tmp_path):
    """A migrated database of its own with a county's data in it; yields (app, url, upload dir, facts)."""
    with temporary_database(SERVER, "msss_backup") as url:
        uploads = tmp_path / "uploads"
        app = app_variant(app_config, SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS={},
                          UPLOAD_DIR=str(uploads))
        with app.app_context():
            upgrade()
            from app.projects.importer import import_plan

            import_plan(PLAN_FILE)
            office = factories.staff("office")
            facts = {"office": office.username, "office_token": factories.auth(factories.staff_token(office))}
            client = app.test_client()
            facts["images"] = {}
            for colour in ("red", "blue", "green"):
                data = image_bytes("PNG", color=colour, noise=True)
                answer = upload(client, facts["office_token"], data, name=f"{colour}.png")
                assert answer.status_code == 201, answer.get_json()
                facts["images"][answer.get_json()["id"]] = answer.get_json()
            resident = factories.resident()
            project_id = db.session.execute(sa.text("SELECT min(id) FROM projects")).scalar_one()
            filed = client.post("/api/v1/complaints", json={"kind": "complaint", "project_id": project_id,
                                                            "content": "助餐点饭菜太咸，老人吃不消"},
                                headers=factories.auth(factories.resident_token(resident)))
            assert filed.status_code == 201, filed.get_json()
            db.session.remove()
            db.engine.dispose()
        yield app, url, uploads, facts
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _rows(url):
    """Every table's rows as this test reads them: {table: sorted list of row texts}."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SET TimeZone = 'UTC'"))
            tables = conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
            return {t: sorted(conn.execute(sa.text(f'SELECT t::text FROM public."{t}" t')).scalars())
                    for t in list(tables)}
    finally:
        engine.dispose()


def _images(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in Path(root).rglob("*") if p.is_file()}


def _recreate(url):
    """Drop the database, every object and row in it, and create it again empty."""
    name = make_url(url).database
    admin = sa.create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


@needs_postgresql
def test_restore_drill_gives_back_every_row_and_every_image(county_db, tmp_path):
    app, url, uploads, facts = county_db
    before, images = _rows(url), _images(uploads)
    assert len(images) >= 3 and before["uploads"] and before["complaints"] and before["metrics"]
    backup = tmp_path / "backup-2026-12-04"
    runner = app.test_cli_runner()
    created = runner.invoke(args=["backup", "create", str(backup)])
    assert created.exit_code == 0, created.output
    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    assert {t: m["rows"] for t, m in manifest["tables"].items()} == {t: len(r) for t, r in before.items()}
    assert {n[len("uploads/"):]: f["sha256"] for n, f in manifest["files"].items() if n.startswith("uploads/")} \
        == images

    _recreate(url)
    shutil.rmtree(uploads)
    assert _rows(url) == {}

    restored = runner.invoke(args=["backup", "restore", str(backup)])
    assert restored.exit_code == 0, restored.output
    assert "恢复完成并已核对" in restored.output
    assert _rows(url) == before
    assert _images(uploads) == images
    # And the app serves it: ready (migrations at head), the images' bytes through the API.
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    for upload_id in facts["images"]:
        answer = client.get(f"/api/v1/uploads/{upload_id}", headers=facts["office_token"])
        assert answer.status_code == 200
        assert hashlib.sha256(answer.data).hexdigest() in images.values()


@needs_postgresql
def test_the_service_keeps_serving_while_a_backup_runs(county_db, tmp_path):
    app, url, uploads, facts = county_db
    rows_before = {t: len(r) for t, r in _rows(url).items()}
    # Hold the backup mid-way: a lock on one table the request below does not use makes pg_dump and the
    # checksums wait there, while they already hold their (shared) locks on the others.
    holder = sa.create_engine(url, poolclass=sa.pool.NullPool)
    hold = holder.connect()
    hold.begin()
    hold.execute(sa.text("LOCK TABLE work_calendar_years IN ACCESS EXCLUSIVE MODE"))
    result = {}

    def run():
        with app.app_context():
            try:
                result["manifest"] = create_backup(url, str(uploads), tmp_path / "backup",
                                                   now=datetime.datetime.now(datetime.UTC))
            except Exception as exc:  # reported below
                result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        # Autocommit: within one transaction pg_stat_activity would keep showing its first snapshot.
        with holder.connect().execution_options(isolation_level="AUTOCOMMIT") as watch:
            deadline = time.monotonic() + 30
            while not watch.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'pg_dump' AND wait_event_type = 'Lock'")).scalar_one():
                assert time.monotonic() < deadline, (result, watch.execute(sa.text(
                    "SELECT application_name, state, wait_event_type, left(query, 80) FROM pg_stat_activity "
                    "WHERE datname = current_database()")).all())
                time.sleep(0.05)
        # The backup is running: a staff login (writes its audit row) and a public read are served.
        client = app.test_client()
        login = client.post("/api/v1/staff/auth/login", json={"username": facts["office"],
                                                                "password": factories.PASSWORD})
        assert login.status_code == 200, login.get_json()
        assert client.get("/api/v1/projects").status_code == 200
        assert thread.is_alive()
    finally:
        hold.rollback()
        hold.close()
        thread.join(60)
        holder.dispose()
    assert "error" not in result, result.get("error")
    # The backup is the database as it was when the backup began: the login's audit row is not in it.
    manifest = result["manifest"]
    assert {t: m["rows"] for t, m in manifest["tables"].items()} == rows_before
    assert {t: len(r) for t, r in _rows(url).items()}["audit_logs"] == rows_before["audit_logs"] + 1


@needs_postgresql
def test_restore_refuses_a_damaged_backup_and_a_database_in_use(county_db, tmp_path):
    app, url, uploads, facts = county_db
    runner = app.test_cli_runner()
    backup = tmp_path / "backup"
    assert runner.invoke(args=["backup", "create", str(backup)]).exit_code == 0
    again = runner.invoke(args=["backup", "create", str(backup)])
    assert again.exit_code != 0 and "已存在且不为空" in again.output
    # A backup that fails (here: no such database) leaves nothing behind.
    broken = tmp_path / "broken"
    with pytest.raises(Exception, match="msss_no_such_database"):
        create_backup(make_url(url).set(database="msss_no_such_database").render_as_string(hide_password=False),
                      str(uploads), broken, now=datetime.datetime.now(datetime.UTC))
    assert not broken.exists()
    before = _rows(url)
    # The database still has its tables: restoring over it needs --clean.
    refused = runner.invoke(args=["backup", "restore", str(backup)])
    assert refused.exit_code != 0 and "--clean" in refused.output
    # --clean over the live database gives the backup back exactly.
    with app.app_context():
        # A change after the backup (audit rows can only be added: the table refuses DELETE, app/accounts/audit.py).
        from app.accounts.audit import audit

        audit("cli", None, "test.after_backup")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    cleaned = runner.invoke(args=["backup", "restore", "--clean", str(backup)])
    assert cleaned.exit_code == 0, cleaned.output
    assert _rows(url) == before
    # One flipped byte in an image: refused before anything is touched.
    image = next(p for p in (backup / "uploads").rglob("*") if p.is_file())
    image.write_bytes(image.read_bytes()[:-1] + b"\x00")
    damaged = runner.invoke(args=["backup", "restore", "--clean", str(backup)])
    assert damaged.exit_code != 0 and "校验和不符" in damaged.output


def test_sqlite_is_refused_with_what_to_do_instead(app_config, tmp_path):
    app = app_variant(app_config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}",
                      SQLALCHEMY_ENGINE_OPTIONS={})
    result = app.test_cli_runner().invoke(args=["backup", "create", str(tmp_path / "b")])
    assert result.exit_code != 0
    assert "SQLite" in result.output and "x.db" in result.output

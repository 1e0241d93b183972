"""The migrations build exactly the schema the models describe, and tear it all down again."""
import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import db
from tests.conftest import app_variant, temporary_database


@pytest.fixture
def empty_database(app_config, tmp_path):
    """A database of its own, created empty for this test and dropped after it."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    with temporary_database(server, "msss_mig") as url:
        yield url


def _tables(engine):
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_empty_to_head_matches_models_and_back_to_base(app_config, empty_database):
    app = app_variant(app_config, SQLALCHEMY_DATABASE_URI=empty_database, SQLALCHEMY_ENGINE_OPTIONS={})
    with app.app_context():
        assert _tables(db.engine) == set()
        upgrade()
        assert _tables(db.engine) == set(db.metadata.tables)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        assert _tables(db.engine) == set()
        upgrade()
        assert _tables(db.engine) == set(db.metadata.tables)
        db.engine.dispose()


def test_upload_links_are_filled_from_the_json_lists(app_config, empty_database):
    """0012 links every image the three JSON lists named to its owner, as far as the old rules honoured it: a
    complaint's photos when its resident uploaded them, a staff reply's when its author did, an update's staff
    photos; unknown ids and other people's uploads are not linked. Downgrading drops the table."""
    from app.accounts.models import Resident
    from app.feedback.models import Complaint, ComplaintEvent
    from app.media.models import Upload
    from app.progress.models import ProgressUpdate
    from app.projects.importer import import_plan
    from app.projects.models import Project
    from tests import factories
    from tests.conftest import PLAN_FILE

    app = app_variant(app_config, SQLALCHEMY_DATABASE_URI=empty_database, SQLALCHEMY_ENGINE_OPTIONS={})
    with app.app_context():
        upgrade(revision="0011")
        assert "upload_links" not in _tables(db.engine)
        import_plan(PLAN_FILE)
        project = db.session.execute(db.select(Project).order_by(Project.id)).scalars().first()
        author = factories.staff("unit_staff")
        resident, other = Resident(openid="o_mig"), Resident(openid="o_other")
        db.session.add_all([resident, other])
        db.session.flush()

        def uploaded(owner_type, owner_id):
            upload = Upload(owner_type=owner_type, owner_id=owner_id, storage_key=f"k{owner_type}{owner_id}"
                            f"{db.session.query(Upload).count()}", content_type="image/png", size=1, sha256="0" * 64,
                            check_status="passed")
            db.session.add(upload)
            db.session.flush()
            return upload.id

        photo, others_photo = uploaded("resident", resident.id), uploaded("resident", other.id)
        reply_photo, update_photo = uploaded("staff", author.id), uploaded("staff", author.id)
        complaint = Complaint(ticket_no="TS-MIG-1", resident_id=resident.id, kind="complaint", content="路灯不亮",
                              content_hash="h", image_ids=[photo, others_photo, 999999], status="replied")
        db.session.add(complaint)
        db.session.flush()
        reply = ComplaintEvent(complaint_id=complaint.id, action="reply", actor_type="staff", actor_id=author.id,
                               data={"image_ids": [reply_photo, photo]})
        note = ComplaintEvent(complaint_id=complaint.id, action="urge", actor_type="staff", actor_id=author.id,
                              data={"image_ids": [reply_photo]})
        update = ProgressUpdate(project_id=project.id, unit_id=author.unit_id, author_id=author.id,
                                status="published", content="已完工", image_ids=[update_photo, photo])
        db.session.add_all([reply, note, update])
        db.session.commit()
        ids = {"complaint": complaint.id, "reply": reply.id, "update": update.id}
        db.session.remove()

        upgrade()
        with db.engine.connect() as conn:
            links = set(conn.execute(sa.text("SELECT upload_id, owner_kind, owner_id FROM upload_links")).all())
        assert links == {(photo, "complaint", ids["complaint"]), (reply_photo, "event", ids["reply"]),
                         (update_photo, "update", ids["update"])}
        downgrade(revision="0011")
        assert "upload_links" not in _tables(db.engine)
        downgrade(revision="base")
        db.engine.dispose()

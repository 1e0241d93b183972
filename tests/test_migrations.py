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

"""INSERT ... ON CONFLICT on the databases the app runs on: PostgreSQL's or SQLite's own insert(), which both
take on_conflict_do_update() and on_conflict_do_nothing() with the same arguments."""
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def conflict_insert(table, bind=None):
    """insert(table) for the dialect of `bind` (a connection or an engine; by default the session's), ready
    for .on_conflict_do_update() / .on_conflict_do_nothing()."""
    bind = bind if bind is not None else db.session.get_bind()
    return _INSERTS[bind.dialect.name](table)

"""upload links: each upload attached to its owners (complaint, reply event, progress update) in a table

Filled from the three JSON id lists that held the attachments until now: complaints.image_ids (the resident's
own photos), complaint_events.data.image_ids of staff replies (the replying staff member's photos) and
progress_updates.image_ids (staff photos). Only pairs the old visibility rules honoured are linked: an id of an
upload that exists, by the uploader the list's owner names (or, for updates, by any staff member).

Revision ID: 0012
Revises: 0011
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def _ids(value):
    if isinstance(value, str):
        value = json.loads(value or "null")
    if isinstance(value, dict):
        value = value.get("image_ids")
    return [i for i in (value or []) if isinstance(i, int) and not isinstance(i, bool)]


def _fill(conn):
    uploads = {row.id: (row.owner_type, row.owner_id) for row in conn.execute(sa.text(
        "SELECT id, owner_type, owner_id FROM uploads"))}
    links = set()
    for row in conn.execute(sa.text("SELECT id, resident_id, image_ids FROM complaints")):
        links.update((i, "complaint", row.id) for i in _ids(row.image_ids)
                     if uploads.get(i) == ("resident", row.resident_id))
    for row in conn.execute(sa.text("SELECT id, actor_id, data FROM complaint_events "
                                    "WHERE action = 'reply' AND actor_type = 'staff'")):
        links.update((i, "event", row.id) for i in _ids(row.data) if uploads.get(i) == ("staff", row.actor_id))
    for row in conn.execute(sa.text("SELECT id, image_ids FROM progress_updates")):
        links.update((i, "update", row.id) for i in _ids(row.image_ids) if (uploads.get(i) or ("",))[0] == "staff")
    if links:
        conn.execute(sa.text("INSERT INTO upload_links (upload_id, owner_kind, owner_id) VALUES (:u, :k, :o)"),
                     [{"u": u, "k": k, "o": o} for u, k, o in sorted(links)])


def upgrade():
    op.create_table('upload_links',
    sa.Column('upload_id', sa.Integer(), nullable=False),
    sa.Column('owner_kind', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("owner_kind IN ('complaint', 'event', 'update')", name=op.f('ck_upload_links_owner_kind')),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_upload_links_upload_id_uploads'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('upload_id', 'owner_kind', 'owner_id', name=op.f('pk_upload_links'))
    )
    with op.batch_alter_table('upload_links', schema=None) as batch_op:
        batch_op.create_index('ix_upload_links_owner', ['owner_kind', 'owner_id'], unique=False)
    _fill(op.get_bind())


def downgrade():
    with op.batch_alter_table('upload_links', schema=None) as batch_op:
        batch_op.drop_index('ix_upload_links_owner')
    op.drop_table('upload_links')

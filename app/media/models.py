"""Uploaded images (complaint photos, progress photos), checked by WeChat before anyone else sees them."""
from app.common.models import TimestampMixin
from app.extensions import db

CHECK_STATUSES = ("pending", "passed", "review", "blocked")


class Upload(TimestampMixin, db.Model):
    __tablename__ = "uploads"

    id = db.Column(db.Integer, primary_key=True)
    owner_type = db.Column(db.String(16), nullable=False)  # resident | staff
    owner_id = db.Column(db.Integer, nullable=False)
    storage_key = db.Column(db.String(128), nullable=False, unique=True)
    # Shown to the office, and the last segment of the URL WeChat fetches the image from for its check.
    original_name = db.Column(db.String(128))
    content_type = db.Column(db.String(32), nullable=False)
    size = db.Column(db.Integer, nullable=False)
    width = db.Column(db.Integer)
    height = db.Column(db.Integer)
    sha256 = db.Column(db.String(64), nullable=False)
    check_status = db.Column(db.String(16), nullable=False, default="pending", server_default="pending")
    check_trace_id = db.Column(db.String(64), index=True)

    __table_args__ = (
        db.Index("ix_uploads_owner", "owner_type", "owner_id", "sha256"),
        db.CheckConstraint(f"check_status IN {CHECK_STATUSES!r}", name="check_status"),
    )


OWNER_KINDS = ("complaint", "event", "update")


class UploadLink(db.Model):
    """What an upload is attached to: a complaint (the resident's photos), a complaint event (a staff reply's
    photos) or a progress update. Who may see an image is answered from these owners (app.media.owners); the
    owners' own JSON id lists keep the order they are shown in."""

    __tablename__ = "upload_links"

    upload_id = db.Column(db.Integer, db.ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True)
    owner_kind = db.Column(db.String(16), primary_key=True)
    owner_id = db.Column(db.Integer, primary_key=True)

    __table_args__ = (
        db.Index("ix_upload_links_owner", "owner_kind", "owner_id"),
        db.CheckConstraint(f"owner_kind IN {OWNER_KINDS!r}", name="owner_kind"),
    )

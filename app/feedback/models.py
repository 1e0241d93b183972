"""Residents' satisfaction ratings (满意度评价) of a project."""
from app.common.models import TimestampMixin
from app.extensions import db

RATING_LABELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


class Rating(TimestampMixin, db.Model):
    __tablename__ = "ratings"

    id = db.Column(db.Integer, primary_key=True)
    resident_id = db.Column(db.Integer, db.ForeignKey("residents.id", ondelete="CASCADE"), nullable=False)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    level = db.Column(db.SmallInteger, nullable=False)
    comment = db.Column(db.Text)

    __table_args__ = (
        db.UniqueConstraint("resident_id", "project_id"),
        db.CheckConstraint("level BETWEEN 1 AND 5", name="level"),
    )

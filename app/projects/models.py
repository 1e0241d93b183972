"""The plan catalogue: plan → categories → projects (实事项目) → metrics (指标) with township figures."""
from app.common.models import ExactDecimal, TimestampMixin
from app.common.timeutil import utcnow
from app.extensions import db

# Exact decimals: 18 digits with 4 after the point hold 48.464 公里 and 5400 元/年 alike.
Quantity = ExactDecimal(18, 4)

PROJECT_STATUSES = ("not_started", "in_progress", "completed")
STATUS_LABELS = {"not_started": "未开工", "in_progress": "推进中", "completed": "已完成"}
METRIC_KINDS = ("quantity", "standard", "milestone")
COMPARISONS = (">=", "<=", "=")


class Plan(TimestampMixin, db.Model):
    __tablename__ = "plans"

    id = db.Column(db.Integer, primary_key=True)
    region = db.Column(db.String(32), nullable=False)
    year = db.Column(db.Integer, nullable=False)
    title = db.Column(db.String(128), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")
    start_date = db.Column(db.Date, nullable=False)
    end_date = db.Column(db.Date, nullable=False)
    is_current = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    office_unit_id = db.Column(db.Integer, db.ForeignKey("units.id"))
    task_force = db.Column(db.JSON, nullable=False, default=dict)
    townships = db.Column(db.JSON, nullable=False, default=list)

    office_unit = db.relationship("Unit")
    categories = db.relationship(
        "Category", back_populates="plan", order_by="Category.position", cascade="all, delete-orphan"
    )

    __table_args__ = (db.UniqueConstraint("region", "year"),)


class Category(db.Model):
    __tablename__ = "categories"

    id = db.Column(db.Integer, primary_key=True)
    plan_id = db.Column(db.Integer, db.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False)
    code = db.Column(db.String(8), nullable=False)
    name = db.Column(db.String(64), nullable=False)
    position = db.Column(db.Integer, nullable=False)

    plan = db.relationship(Plan, back_populates="categories")
    projects = db.relationship("Project", back_populates="category", order_by="Project.position")

    __table_args__ = (db.UniqueConstraint("plan_id", "code"),)


class ProjectUnit(db.Model):
    """A lead unit of a project; position 0 is the primary unit (主牵头), the rest are co-units."""

    __tablename__ = "project_units"

    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    unit_id = db.Column(db.Integer, db.ForeignKey("units.id"), primary_key=True, index=True)
    position = db.Column(db.Integer, nullable=False)

    unit = db.relationship("Unit", lazy="joined")


class Project(TimestampMixin, db.Model):
    __tablename__ = "projects"

    id = db.Column(db.Integer, primary_key=True)
    plan_id = db.Column(db.Integer, db.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True)
    category_id = db.Column(db.Integer, db.ForeignKey("categories.id"), nullable=False, index=True)
    code = db.Column(db.String(16), nullable=False)
    title = db.Column(db.String(128), nullable=False)
    description = db.Column(db.Text, nullable=False, default="")
    position = db.Column(db.Integer, nullable=False)
    public = db.Column(db.Boolean, nullable=False, default=True, server_default=db.true())
    planned_start = db.Column(db.Date)
    due_date = db.Column(db.Date)
    # Derived from the metrics and the calendar, stored so lists can filter and sort in SQL.
    # 滞后 (behind schedule) is not stored: it moves with the calendar, not with writes.
    status = db.Column(db.String(16), nullable=False, default="not_started", server_default="not_started")
    progress = db.Column(db.Numeric(7, 4), nullable=False, default=0, server_default="0")
    last_published_at = db.Column(db.DateTime(timezone=True))

    plan = db.relationship(Plan)
    category = db.relationship(Category, back_populates="projects")
    unit_links = db.relationship(
        ProjectUnit, order_by=ProjectUnit.position, cascade="all, delete-orphan", lazy="selectin"
    )
    metrics = db.relationship(
        "Metric", back_populates="project", order_by="Metric.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        db.UniqueConstraint("plan_id", "code"),
        db.CheckConstraint(f"status IN {PROJECT_STATUSES!r}", name="status"),
    )

    @property
    def lead_units(self):
        return [link.unit for link in self.unit_links]

    @property
    def primary_unit(self):
        return self.unit_links[0].unit if self.unit_links else None


class Metric(db.Model):
    __tablename__ = "metrics"

    id = db.Column(db.Integer, primary_key=True)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    key = db.Column(db.String(16), nullable=False)
    name = db.Column(db.String(64), nullable=False)
    kind = db.Column(db.String(16), nullable=False, default="quantity")
    unit = db.Column(db.String(16), nullable=False)
    comparison = db.Column(db.String(2), nullable=False, default=">=")
    baseline = db.Column(Quantity)
    target = db.Column(Quantity, nullable=False)
    # For a raised standard the current value starts at the baseline; otherwise at zero.
    current = db.Column(Quantity, nullable=False, default=0)
    position = db.Column(db.Integer, nullable=False)
    note = db.Column(db.Text)
    # Where the plan gives part of an item to one of its lead units (1.2: the offline activities to 县妇女联合会,
    # the online learners to 县教育局), the unit that answers for this metric; None = any lead unit of the item.
    responsible_unit_id = db.Column(db.Integer, db.ForeignKey("units.id"), index=True)

    project = db.relationship(Project, back_populates="metrics")
    responsible_unit = db.relationship("Unit", lazy="joined")
    townships = db.relationship(
        "MetricTownship", order_by="MetricTownship.position", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (
        db.UniqueConstraint("project_id", "key"),
        db.CheckConstraint(f"kind IN {METRIC_KINDS!r}", name="kind"),
        db.CheckConstraint("comparison IN ('>=', '<=', '=')", name="comparison"),
    )


class MetricTownship(db.Model):
    """A metric's figure in one township (乡镇); the county figure is Σ current ÷ Σ target."""

    __tablename__ = "metric_townships"

    id = db.Column(db.Integer, primary_key=True)
    metric_id = db.Column(db.Integer, db.ForeignKey("metrics.id", ondelete="CASCADE"), nullable=False, index=True)
    township = db.Column(db.String(32), nullable=False)
    target = db.Column(Quantity, nullable=False)
    current = db.Column(Quantity, nullable=False, default=0)
    position = db.Column(db.Integer, nullable=False, default=0)

    __table_args__ = (db.UniqueConstraint("metric_id", "township"),)


class MetricChange(db.Model):
    """Every change of a target or a value, public: who (unit), when, old → new."""

    __tablename__ = "metric_changes"

    id = db.Column(db.Integer, primary_key=True)
    created_at = db.Column(db.DateTime(timezone=True), nullable=False, default=utcnow)
    project_id = db.Column(db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    metric_id = db.Column(db.Integer, db.ForeignKey("metrics.id", ondelete="CASCADE"), nullable=False, index=True)
    township = db.Column(db.String(32))
    field = db.Column(db.String(16), nullable=False)  # target | current | baseline
    old_value = db.Column(Quantity)
    new_value = db.Column(Quantity)
    source = db.Column(db.String(16), nullable=False)  # import | update
    unit_id = db.Column(db.Integer, db.ForeignKey("units.id"))
    staff_id = db.Column(db.Integer, db.ForeignKey("staff_users.id"))
    update_id = db.Column(db.Integer)
    note = db.Column(db.Text)

    metric = db.relationship(Metric)
    unit = db.relationship("Unit")

    __table_args__ = (db.Index("ix_metric_changes_project_created", "project_id", "created_at"),)


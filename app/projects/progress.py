"""Progress arithmetic (DESIGN §2), pure functions over exact decimals.

metric progress  = current ÷ target, capped at 1 (a township breakdown: Σ current ÷ Σ target, never a mean of
                   percentages); a raised standard or a milestone is reached (1) or not (0)
project progress = mean of its metrics' progress
滞后             = not completed and progress trails the elapsed share of the plan period by more than a margin

recompute_project stores them on a project after any write of its metrics (the plan import, a published
progress update).
"""
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from app.common.numbers import ONE, ZERO, to_decimal

PLACES = Decimal("0.0001")


def _q(value):
    return value.quantize(PLACES, rounding=ROUND_HALF_UP)


def reached(current, target, comparison):
    current, target = to_decimal(current), to_decimal(target)
    if comparison == "<=":
        return current <= target
    if comparison == "=":
        return current == target
    return current >= target


def metric_progress(kind, comparison, target, current, baseline=None, townships=()):
    """Share of a metric done, 0–1, as a Decimal with four places."""
    target, current = to_decimal(target), to_decimal(current or 0)
    if townships:
        target = sum((to_decimal(t.target) for t in townships), ZERO)
        current = sum((to_decimal(t.current) for t in townships), ZERO)
    if kind in ("standard", "milestone") or comparison != ">=":
        return ONE if reached(current, target, comparison) else ZERO
    if target <= 0:
        return ONE if current >= target else ZERO
    return _q(min(max(current, ZERO) / target, ONE))


def project_progress(metric_progresses):
    values = list(metric_progresses)
    if not values:
        return ZERO
    return _q(min(sum(values, ZERO) / len(values), ONE))


def project_status(progress, has_activity):
    if progress >= ONE:
        return "completed"
    if progress > ZERO or has_activity:
        return "in_progress"
    return "not_started"


def elapsed_share(start: date, end: date, today: date):
    """Share of the plan period (序时进度) gone by the end of `today`."""
    total = (end - start).days + 1
    if total <= 0:
        return ONE
    done = (today - start).days + 1
    return _q(min(max(Decimal(done) / Decimal(total), ZERO), ONE))


def is_behind(progress, status, start, end, today, margin):
    if status == "completed":
        return False
    return to_decimal(progress) < elapsed_share(start, end, today) - to_decimal(margin)


def decimal_differs(old, new):
    """Whether two stored quantities differ as numbers (None differs from any number, not from None)."""
    if old is None or new is None:
        return old is not new
    return to_decimal(old) != to_decimal(new)


def recompute_project(project):
    """Store a project's progress and status from its metrics (called after any metric write)."""
    progresses = [
        metric_progress(m.kind, m.comparison, m.target, m.current, m.baseline, m.townships) for m in project.metrics
    ]
    progress = project_progress(progresses)
    if decimal_differs(project.progress, progress):
        project.progress = progress
    status = project_status(progress, project.last_published_at is not None)
    if project.status != status:
        project.status = status

"""The 三率 and satisfaction the dashboard and the public statistics show (dashboard), and the Excel export
(export). The counts they add up, with the 三率's definitions, are kept in app.feedback.kept_counts; the names
below are re-exported so that callers import from app.feedback.stats as before."""
from app.feedback.kept_counts import COUNTS, SATISFIED_LEVEL, late_clause, pending, rebuild_unit_day_rates
from app.feedback.stats.dashboard import local_bounds, project_satisfaction, rates_json, unit_rates
from app.feedback.stats.export import EXPORT_COLUMNS, complaints_workbook

__all__ = [
    "COUNTS", "EXPORT_COLUMNS", "SATISFIED_LEVEL", "complaints_workbook", "late_clause", "local_bounds", "pending",
    "project_satisfaction", "rates_json", "rebuild_unit_day_rates", "unit_rates",
]

"""The county of tests/feedback (an item led by 县民政局 with 县财政局 as co-unit, an unrelated 县交通运输局, the
office, an administrator, a resident and a stranger), shared by the reliability tests."""
from tests.feedback.conftest import county  # noqa: F401  (a fixture)

"""The feedback tests' small county, for the ops tests that need tickets (audit rows, gauges)."""
from tests.feedback.conftest import county  # noqa: F401  (a fixture)

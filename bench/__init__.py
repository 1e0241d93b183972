"""Load benchmarks, run by hand against PostgreSQL and Redis (never part of the test suite)."""

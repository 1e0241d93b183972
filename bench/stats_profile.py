"""Where GET /api/v1/staff/stats spends its time, on the bench's county-scale data, with the read cache cold.

    python -m bench.stats_profile load       # create the database (BENCH_STATS_DB, default msss_stats_bench)
                                             # and fill it with bench.run.load_data (~1 min)
    python -m bench.stats_profile parts      # each part of service.staff_stats in this process, cache cold
    python -m bench.stats_profile http       # gunicorn (config/gunicorn.conf.py) + measure_stats' method:
                                             # N sequential requests, the cache generation bumped before each
    python -m bench.stats_profile drop       # drop the database

--samples N (default 20) per figure; p95 and median printed. The database stays between runs (loading takes
a minute); Redis keys live under their own prefix in db 0.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import requests
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.procs import PY, Proc, free_port, percentile, wait_http

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DATABASE = os.environ.get("BENCH_STATS_DB", "msss_stats_bench")
PREFIX = f"{DATABASE}:"


def env():
    return dict(os.environ, APP_ENV="production", SECRET_KEY="s" * 40, PHONE_ENCRYPTION_KEY="p" * 40,
                DATABASE_URL=make_url(SERVER).set(database=DATABASE).render_as_string(hide_password=False),
                REDIS_URL="redis://127.0.0.1:6379/0", REDIS_KEY_PREFIX=PREFIX, RQ_QUEUE=PREFIX + "jobs",
                WECHAT_APPID="wxbench", WECHAT_SECRET="benchsecret", WECHAT_DOUBLE="0",
                WECHAT_API_BASE="http://127.0.0.1:9/", JOBS_PERIODIC="0", PYTHONUNBUFFERED="1",
                # Cold means cold: every process re-reads the cache generation on every read.
                CACHE_LOCAL_SECONDS="0")


def make_app():
    saved = dict(os.environ)
    os.environ.update(env())
    try:
        from app import create_app

        app = create_app()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return app


def admin():
    return sa.create_engine(make_url(SERVER).set(database="postgres"), isolation_level="AUTOCOMMIT")


def load():
    from bench.run import load_data, parse_args

    engine = admin()
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{DATABASE}"'))
    engine.dispose()
    app = make_app()
    with app.app_context():
        timings, counts = load_data(app, parse_args([]))
    print(timings, counts)


def drop():
    engine = admin()
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    engine.dispose()


def p95(durations):
    return f"p95 {percentile(durations, 95):7.1f} ms  p50 {statistics.median(durations):7.1f} ms"


def parts(samples):
    from app import cache
    from app.accounts.models import StaffUser
    from app.extensions import db
    from app.feedback import service, stats
    from app.projects.service import plan_overview, rating_counts

    app = make_app()
    with app.app_context():
        office = db.session.execute(db.select(StaffUser).filter_by(username="bench-office")).scalar_one()
        now = service._now(None)
        date_from, date_to = service._period(None, None, now)
        steps = {
            "unit_rates": lambda: stats.unit_rates(date_from, date_to, now),
            "rating_counts": rating_counts,
            "plan_overview": plan_overview,
            "project_satisfaction": lambda: stats.project_satisfaction(date_from, date_to),
            "overdue_now": lambda: service.list_for_staff(office, {"overdue": True}, 1, 50, now),
            "overdue_alerts": lambda: service.overdue_list(office, {"handled": False}, 1, 50),
            "staff_stats": lambda: service.staff_stats(office),
        }
        for name, step in steps.items():
            durations = []
            for _ in range(samples):
                cache.invalidate()
                started = time.perf_counter()
                step()
                durations.append((time.perf_counter() - started) * 1000)
                db.session.rollback()
            print(f"{name:22} {p95(durations)}", flush=True)


def http(samples):
    from app import cache
    from app.accounts.models import StaffUser
    from app.auth import issue_token
    from app.extensions import db

    app = make_app()
    with app.app_context():
        office = db.session.execute(db.select(StaffUser).filter_by(username="bench-office")).scalar_one()
        token = issue_token("staff", office.id, office.token_version)
    port = free_port()
    gunicorn = Proc([str(Path(PY).parent / "gunicorn"), "-c", "config/gunicorn.conf.py", "wsgi:app"],
                    dict(env(), SECRET_KEY=app.config["SECRET_KEY"], GUNICORN_BIND=f"127.0.0.1:{port}",
                         GUNICORN_ACCESS_LOG="/dev/null"), "stats-profile-gunicorn")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        url = f"http://127.0.0.1:{port}/api/v1/staff/stats"
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(10):  # every worker connects and imports lazily: warm them up, as a running server is
            requests.get(url, headers=headers, timeout=60)
        for mode, invalidate in (("uncached", True), ("cached", False)):
            durations = []
            for _ in range(samples):
                if invalidate:
                    with app.app_context():
                        cache.invalidate()
                started = time.perf_counter()
                response = requests.get(url, headers=headers, timeout=60)
                durations.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            print(f"staff_stats {mode:9} {p95(durations)}", flush=True)
    finally:
        gunicorn.stop()
        Path(gunicorn.log.name).unlink(missing_ok=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("load", "parts", "http", "drop"))
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args(argv)
    if args.command == "load":
        load()
    elif args.command == "drop":
        drop()
    elif args.command == "parts":
        parts(args.samples)
    else:
        http(args.samples)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: publish one progress update to N subscribers of one item and wait until every message is sent.

    python -m bench.publish_fanout --subscribers 100000 --workers 2

Runs the production shape on this machine: PostgreSQL (a database of its own, dropped afterwards), Redis (a
key prefix and an RQ queue of its own), N real `flask --app wsgi worker` processes, and the WeChat API double
in a process of its own answering every subscribe send `--latency` seconds late (WeChat's round trip). The
office publishes through the real HTTP route; the script then watches the outbox until every row is settled.

Reports, as JSON in bench/results/ (and on stdout):
- enqueue_seconds: the publish request (one transaction + ONE fan-out job enqueued), what the office waits for;
- fanout_seconds: until the fan-out job has written every subscriber's outbox row;
- all_sent_seconds: until every row is sent (or failed/skipped), from the publish request;
- worker_peak_rss_mb: each worker process's peak resident memory (VmHWM; the workers do not fork per job);
- duplicates: messages the double received more than once per resident (must be 0), and outbox duplicates.
"""
import argparse
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

import requests
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
ITEM = "1.2"
APPID, SECRET = "wxdouble", "doublesecret"
INSERT_CHUNK = 10000


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100000)
    parser.add_argument("--workers", type=int, default=2, help="RQ worker processes")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the double takes per send")
    parser.add_argument("--notify-concurrency", type=int, default=None,
                        help="sends in flight per worker (NOTIFY_CONCURRENCY; app default if omitted)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE),
                        help="a PostgreSQL server; the benchmark creates and drops a database on it")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--keep-database", action="store_true", help="leave the benchmark database behind")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        parser.error("the benchmark needs PostgreSQL (--database-url postgresql+psycopg://...)")
    if not args.redis_url.startswith("redis"):
        parser.error("the benchmark needs Redis (--redis-url redis://...)")
    return args


def log(message):
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _proc_status(pid):
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in lines if ":" in line)


def _stat_fields(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _machine_busy_seconds():
    """CPU seconds the whole machine spent busy since boot (everything in /proc/stat but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid):
    """CPU time of the process and its living descendants (the double serves from a gunicorn child)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(entry.name)) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, found, todo = 0, False, [pid]
    while todo:
        current = todo.pop()
        fields = _stat_fields(current)
        if fields is None:
            continue
        found = True
        # utime and stime, fields 14 and 15 of proc(5), counted from after the command name.
        total += int(fields[11]) + int(fields[12])
        todo.extend(children.get(current, ()))
    return round(total / os.sysconf("SC_CLK_TCK"), 1) if found else None


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


class Bench:
    def __init__(self, args):
        self.args = args
        self.run_id = uuid.uuid4().hex[:8]
        server = make_url(args.database_url)
        self.admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        self.database = f"msss_bench_{self.run_id}"
        self.database_url = server.set(database=self.database).render_as_string(hide_password=False)
        self.double_port = free_port()
        self.double_url = f"http://127.0.0.1:{self.double_port}/"
        self.env = dict(
            os.environ, APP_ENV="production", SECRET_KEY=secrets.token_hex(32),
            PHONE_ENCRYPTION_KEY=secrets.token_hex(32), DATABASE_URL=self.database_url, REDIS_URL=args.redis_url,
            REDIS_KEY_PREFIX=f"msss-bench-{self.run_id}:", RQ_QUEUE=f"msss-bench-{self.run_id}",
            WECHAT_API_BASE=self.double_url, WECHAT_APPID=APPID, WECHAT_SECRET=SECRET, WECHAT_DOUBLE="0",
            PYTHONUNBUFFERED="1",
        )
        if args.notify_concurrency:
            self.env["NOTIFY_CONCURRENCY"] = str(args.notify_concurrency)
        self.double = None
        self.workers = []
        self.app = None

    # ------------------------------------------------------------------ set-up and tear-down

    def start_double(self):
        self.double = subprocess.Popen(
            [sys.executable, "-m", "doubles.wechat", "--port", str(self.double_port), "--appid", APPID,
             "--secret", SECRET, "--latency", str(self.args.latency)],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

        def answering():
            try:
                return requests.get(self.double_url + "__double__/sent", timeout=1).ok
            except requests.RequestException:
                return False

        wait_for(answering, 30, "the WeChat double")

    def build_app(self):
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.database}"'))
        os.environ.update(self.env)
        from app import create_app

        self.app = create_app()

    def seed(self):
        """The 2024 plan, an office account, a unit account, N residents all subscribed to one item."""
        from app.accounts.models import Resident
        from app.accounts.service import create_staff
        from app.common.timeutil import utcnow
        from app.extensions import db
        from app.projects.importer import import_plan
        from app.projects.models import Project
        from app.wechat.models import Subscription

        db.create_all()
        import_plan(self.app.config["PLAN_FILE"])
        project = db.session.execute(db.select(Project).filter_by(code=ITEM)).scalar_one()
        unit = project.primary_unit.name
        office = create_staff("bench-office", "bench-password", "office")
        author = create_staff("bench-unit", "bench-password", "unit_staff", unit)
        now = utcnow()
        residents = Resident.__table__
        for start in range(0, self.args.subscribers, INSERT_CHUNK):
            stop = min(start + INSERT_CHUNK, self.args.subscribers)
            db.session.execute(residents.insert(), [
                {"openid": f"o_bench{i}", "created_at": now, "updated_at": now} for i in range(start, stop)
            ])
        db.session.execute(
            Subscription.__table__.insert().from_select(
                ["resident_id", "project_id", "created_at"],
                sa.select(residents.c.id, sa.literal(project.id), sa.literal(now, sa.DateTime(timezone=True)))
                .order_by(residents.c.id),
            )
        )
        db.session.commit()
        return project.id, office.id, author.id

    def start_workers(self):
        from rq import Worker

        from app.jobs import rq_queue

        for _ in range(self.args.workers):
            # A file, not a pipe: a full pipe nobody reads would stall the worker's logging.
            log_file = tempfile.TemporaryFile("w+", encoding="utf-8")
            worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT,
                                      env=self.env, stdout=subprocess.DEVNULL, stderr=log_file)
            worker.log_file = log_file
            self.workers.append(worker)
        queue = rq_queue(self.app)
        wait_for(lambda: len(Worker.all(queue=queue)) >= self.args.workers, 60, "the RQ workers")

    def worker_peak_rss_mb(self):
        """Each worker's peak resident set (Linux VmHWM, what getrusage's ru_maxrss reports for itself)."""
        peaks = []
        for worker in self.workers:
            status = _proc_status(worker.pid)
            peaks.append(round(int(status["VmHWM"].split()[0]) / 1024, 1) if "VmHWM" in status else None)
        return peaks

    def cpu_seconds(self):
        """CPU time used so far by the workers and by the double (where the machine's time went)."""
        return {"workers": [_cpu_seconds(w.pid) for w in self.workers], "double": _cpu_seconds(self.double.pid)}

    def stop_workers(self):
        """Warm shutdown; a worker still there after a few seconds gets a second SIGTERM (cold shutdown)."""
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            for _ in range(3):
                try:
                    worker.wait(timeout=3)
                    break
                except subprocess.TimeoutExpired:
                    worker.send_signal(signal.SIGTERM)
            else:
                worker.kill()
                worker.wait()
        errors = []
        for worker in self.workers:
            worker.log_file.seek(0)
            errors += [line for line in worker.log_file if " ERROR " in line or "Traceback" in line]
            worker.log_file.close()
        self.workers = []
        return errors

    def cleanup(self):
        if self.workers:
            self.stop_workers()
        if self.double is not None:
            self.double.terminate()
            self.double.wait(timeout=10)
        if self.app is not None:
            from app.extensions import db, redis_store
            from app.jobs import rq_queue

            with self.app.app_context():
                rq_queue(self.app).delete(delete_jobs=True)
                keys = list(redis_store.client.scan_iter(match=redis_store.prefix + "*", count=1000))
                if keys:
                    redis_store.client.delete(*keys)
                db.session.remove()
                db.engine.dispose()
        if not self.args.keep_database:
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        self.admin.dispose()

    # ------------------------------------------------------------------------------ the run

    def outbox_counts(self, update_id):
        from app.extensions import db
        from app.progress.models import ProgressUpdate
        from app.wechat.models import Notification

        db.session.rollback()
        statuses = dict(db.session.execute(
            db.select(Notification.status, sa.func.count()).group_by(Notification.status)
        ).all())
        fanned_out = db.session.execute(
            db.select(ProgressUpdate.fanned_out_at).filter_by(id=update_id)
        ).scalar_one() is not None
        return statuses, fanned_out

    def run(self):
        from app.accounts.models import StaffUser
        from app.auth import issue_token
        from app.extensions import db
        from app.progress import service
        from app.wechat.models import Notification

        args = self.args
        log(f"WeChat double on {self.double_url} ({args.latency * 1000:g} ms per send)")
        self.start_double()
        self.build_app()
        with self.app.app_context():
            started = time.monotonic()
            project_id, office_id, author_id = self.seed()
            log(f"seeded {args.subscribers} subscribers in {time.monotonic() - started:.1f} s")
            self.start_workers()
            log(f"{args.workers} worker(s) up")
            draft = service.create_draft(project_id, db.session.get(StaffUser, author_id),
                                         "本月全县开展家庭教育指导服务活动 12 场。", [])
            office = db.session.get(StaffUser, office_id)
            token = issue_token("staff", office.id, office.token_version)

            started = time.monotonic()
            busy_before = _machine_busy_seconds()
            response = self.app.test_client().post(f"/api/v1/staff/updates/{draft['id']}/publish",
                                                   headers={"Authorization": f"Bearer {token}"})
            enqueue_seconds = time.monotonic() - started
            if response.status_code != 200:
                raise RuntimeError(f"publish failed: {response.status_code} {response.get_json()}")
            log(f"published in {enqueue_seconds * 1000:.0f} ms; waiting for the sends")

            fanout_seconds = None
            deadline = started + args.timeout
            last_report = 0
            while True:
                statuses, fanned_out = self.outbox_counts(draft["id"])
                now = time.monotonic()
                if fanned_out and fanout_seconds is None:
                    fanout_seconds = now - started
                    log(f"fan-out done after {fanout_seconds:.1f} s: {sum(statuses.values())} outbox rows")
                settled = sum(n for status, n in statuses.items() if status != "pending")
                if fanned_out and settled >= sum(statuses.values()):
                    all_sent_seconds = now - started
                    break
                if now > deadline:
                    raise TimeoutError(f"not all sent after {args.timeout} s: {statuses}")
                if now - last_report > 10:
                    log(f"  {statuses}")
                    last_report = now
                time.sleep(0.2)

            peaks = self.worker_peak_rss_mb()
            cpu = self.cpu_seconds()
            cpu["machine_busy"] = round(_machine_busy_seconds() - busy_before, 1)
            cpu["machine_available"] = round(all_sent_seconds * os.cpu_count(), 1)
            worker_errors = self.stop_workers()
            sent = requests.get(self.double_url + "__double__/sent", timeout=60).json()
            per_resident = Counter(message["touser"] for message in sent)
            outbox_rows, outbox_residents = db.session.execute(
                db.select(sa.func.count(Notification.id), sa.func.count(sa.distinct(Notification.resident_id)))
            ).one()
            config = self.app.config
            return {
                "benchmark": "publish_fanout",
                "finished_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                "subscribers": args.subscribers,
                "workers": args.workers,
                "latency_seconds": args.latency,
                "notify_concurrency_per_worker": config["NOTIFY_CONCURRENCY"],
                "notify_batch_size": config["NOTIFY_BATCH_SIZE"],
                "fanout_batch_size": config["FANOUT_BATCH_SIZE"],
                "enqueue_seconds": round(enqueue_seconds, 4),
                "fanout_seconds": round(fanout_seconds, 2),
                "all_sent_seconds": round(all_sent_seconds, 2),
                "messages_per_second": round(len(sent) / all_sent_seconds, 1),
                "outbox_statuses": statuses,
                "worker_peak_rss_mb": peaks,
                "messages_received_by_double": len(sent),
                "duplicates": {
                    "wechat": sum(count - 1 for count in per_resident.values()),
                    "outbox": outbox_rows - outbox_residents,
                },
                "missing": args.subscribers - len(per_resident),
                "cpu_seconds": cpu,
                "worker_error_lines": worker_errors[-20:],
                "environment": {
                    "database": "postgresql", "redis": "redis", "cpus": os.cpu_count(),
                    "python": platform.python_version(), "platform": platform.platform(),
                },
            }


def main(argv=None):
    args = parse_args(argv)
    bench = Bench(args)
    try:
        result = bench.run()
    finally:
        bench.cleanup()
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = args.results_dir / f"publish_fanout_{args.subscribers}x{args.workers}_{stamp}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    log(f"written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    if result["duplicates"]["wechat"] or result["duplicates"]["outbox"] or result["missing"]:
        sys.exit(1)


if __name__ == "__main__":
    main()

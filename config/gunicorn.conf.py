"""gunicorn settings for production: `gunicorn -c config/gunicorn.conf.py wsgi:app`.

Every value can be overridden from the environment, so one file serves a 2-core VM and a 32-core host.
"""
import multiprocessing
import os
import shutil
import tempfile

# /metrics counts every worker's requests (prometheus_client's multiprocess mode, app/ops/metrics.py). The mode is
# chosen when prometheus_client is first imported, so the directory is named here, before the app is loaded. Under
# systemd it is /run/minsheng/metrics (deploy/systemd); otherwise a directory of this gunicorn's own.
_OWN_METRICS_DIR = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix="minsheng-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWN_METRICS_DIR

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# The classic (2 × cores + 1) for a mostly I/O-bound app (PostgreSQL, Redis).
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
# The app is built once in the master and forked: a worker starts in milliseconds instead of ~1.3 s of CPU
# (create_app opens no database or Redis connection and starts no thread, so nothing is shared across the fork).
# Deploying new code therefore means restarting gunicorn, not HUP.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1").lower() not in ("0", "false", "no")
# Recycle workers now and then so a slow leak can never take a county's service down. Not too often: a
# recycled worker starts with cold caches and an old one tears down its heap. At 5,000 one of the five workers
# of a 2-core machine recycled every second under the bench's 4,500 req/s, costing ~30 % of the read throughput
# and p99 tails of 0.3–0.7 s (docs/bench.md). At a county's traffic 20,000 still recycles each worker within hours.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 20000))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 2000))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# Behind the county's load balancer / reverse proxy.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
limit_request_line = 8190
limit_request_fields = 100


def on_starting(server):
    # Counts of an earlier run would be added to this one's (the files outlive a crash or a kill -9).
    from app.ops.metrics import clear_directory

    clear_directory(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def child_exit(server, worker):
    # In the master, for every worker that ends (recycled, timed out, killed): its counts stay, in the archive.
    from app.ops.metrics import compact_dead_process

    compact_dead_process(worker.pid, os.environ["PROMETHEUS_MULTIPROC_DIR"])


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)

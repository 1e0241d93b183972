"""Background jobs: RQ over Redis in production, an in-process runner on the embedded default.

`enqueue()` is called after a commit; the database (e.g. the notification outbox) stays the source of truth,
so a job that never reaches Redis is only late: the periodic sweeps find its rows and enqueue it again. That
is why a Redis failure here is logged, never raised into the request that already committed.

Jobs are named by dotted path and take ids, so RQ can pickle them and a worker of a newer release can run
them. On the embedded default (REDIS_URL=memory://) there is no worker process: one background thread of the
web process runs the jobs in order. Either way a job runs inside an app context of its own.
"""
import importlib
import logging
import queue
import signal
import threading
import time

import click
import redis
from flask import current_app
from flask.cli import with_appcontext
from rq import Queue, SimpleWorker
from rq.job import Job

from app.common import context
from app.extensions import redis_store

log = logging.getLogger(__name__)

JOB_TIMEOUT = 300
RESULT_TTL = 600
FAILURE_TTL = 7 * 24 * 3600
WORKER_RESTART_DELAY = 5

# func path -> seconds between runs; filled by the packages' init_app().
_PERIODIC = {}


def job_path(func_or_path):
    if isinstance(func_or_path, str):
        return func_or_path
    return f"{func_or_path.__module__}.{func_or_path.__qualname__}"


def resolve(path):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def rq_queue(app=None):
    app = app or current_app
    return Queue(app.config["RQ_QUEUE"], connection=redis_store.client)


def enqueue(func_or_path, *args, **kwargs):
    """Run func(*args, **kwargs) in the background; True if queued (a Redis failure is logged, not raised)."""
    return enqueue_as(None, func_or_path, *args, **kwargs)


def job_exists(job_id):
    """Whether RQ holds a job of that id (queued, running, finished or failed, until its TTL); None when that
    cannot be known (Redis unreachable, or the embedded default, whose jobs never wait in Redis)."""
    if redis_store.embedded:
        return None
    try:
        return Job.exists(job_id, connection=redis_store.client)
    except redis.RedisError:
        return None


def enqueue_as(job_id, func_or_path, *args, **kwargs):
    """enqueue() under a job id of the caller's (None: RQ's own), so that a sweep can ask job_exists()."""
    app = current_app._get_current_object()
    path = job_path(func_or_path)
    # The job's log lines carry the id of the request (or job) that enqueued it.
    request_id = context.request_id.get()
    if redis_store.embedded:
        _runner(app).submit(path, args, kwargs, request_id)
        return True
    try:
        rq_queue(app).enqueue_call(path, args=args, kwargs=kwargs, timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL,
                                   failure_ttl=FAILURE_TTL, meta={"request_id": request_id}, job_id=job_id)
    except redis.RedisError as exc:
        log.error("could not enqueue %s%r: %s (the periodic sweep retries what the database still holds)",
                  path, args, exc)
        return False
    return True


def register_periodic(func_path, every_seconds):
    """Run func_path() every `every_seconds` in `flask worker` (and in a web process on the embedded default)."""
    _PERIODIC[job_path(func_path)] = int(every_seconds)


def run_job(app, path, args=(), kwargs=None):
    with app.app_context():
        return resolve(path)(*args, **(kwargs or {}))


class _Runner:
    """The embedded default's job runner: a background thread of this process, one job at a time."""

    def __init__(self, app):
        self.app = app
        self.jobs = queue.Queue()
        self.lock = threading.Lock()
        self.thread = None

    def submit(self, path, args, kwargs, request_id=None):
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="jobs-embedded", daemon=True)
                self.thread.start()
        self.jobs.put((path, args, kwargs, request_id))

    def _loop(self):
        while True:
            path, args, kwargs, request_id = self.jobs.get()
            try:
                with context.bound(request_id):
                    run_job(self.app, path, args, kwargs)
            except Exception:
                log.exception("job %s%r failed", path, args)
            finally:
                self.jobs.task_done()

    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        while self.jobs.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError(f"background jobs still running after {timeout} s")
            time.sleep(0.005)


_RUNNERS_LOCK = threading.Lock()


def _runner(app):
    with _RUNNERS_LOCK:
        if "jobs_runner" not in app.extensions:
            app.extensions["jobs_runner"] = _Runner(app)
        return app.extensions["jobs_runner"]


def embedded_backlog(app):
    """Jobs waiting or running in the embedded default's runner (its stand-in for the RQ queue's depth)."""
    runner = app.extensions.get("jobs_runner")
    return runner.jobs.unfinished_tasks if runner is not None else 0


class AppWorker(SimpleWorker):
    """An RQ worker that runs each job in the worker process itself, inside a fresh app context.

    No fork per job: the pooled keep-alive connections to WeChat and to the database outlive the job.
    """

    def __init__(self, *args, app, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app

    def execute_job(self, job, queue):
        with self.app.app_context(), context.bound((job.meta or {}).get("request_id")):
            return super().execute_job(job, queue)


def make_worker(app):
    """A worker on a Redis connection of its own: RQ lengthens its socket timeout for the blocking dequeue,
    which must not leak into the short timeouts of the app's pool."""
    connection = redis.Redis.from_url(redis_store.url, socket_connect_timeout=5, health_check_interval=30)
    return AppWorker([Queue(app.config["RQ_QUEUE"], connection=connection)], connection=connection, app=app)


def drain(timeout=30):
    """Run or wait for every job enqueued so far, and for the jobs those enqueue; for tests and scripts.

    Embedded: waits (at most `timeout` seconds) for the background thread. Redis: works the queue off in
    this process with a burst RQ worker.
    """
    app = current_app._get_current_object()
    if redis_store.embedded:
        _runner(app).wait(timeout)
        return
    if not rq_queue(app).count:
        return
    # RQ installs its own SIGINT/SIGTERM handlers for a warm shutdown; give the caller its own back.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    worker = make_worker(app)
    try:
        worker.work(burst=True, logging_level="WARNING")
    finally:
        worker.connection.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_periodic(app, last_run):
    now = time.monotonic()
    for path, every in list(_PERIODIC.items()):
        if now - last_run.get(path, float("-inf")) < every:
            continue
        last_run[path] = now
        with app.app_context():
            try:
                # One process per interval runs each sweep, however many workers there are. Sweeps are
                # safe to run twice, so without Redis every process simply runs them.
                if not redis_store.client.set(redis_store.key("periodic", path), "1", nx=True, ex=every):
                    continue
            except redis.RedisError:
                pass
        try:
            run_job(app, path)
        except Exception:
            log.exception("periodic job %s failed", path)


def _periodic_loop(app, stop):
    last_run = {}
    while not stop.is_set():
        _run_periodic(app, last_run)
        stop.wait(1)


def start_periodic(app):
    """Start the periodic sweeps in a daemon thread of this process; returns the Event that stops them."""
    stop = threading.Event()
    threading.Thread(target=_periodic_loop, args=(app, stop), name="jobs-periodic", daemon=True).start()
    return stop


def _redis_reachable():
    try:
        redis_store.client.ping()
    except redis.RedisError:
        return False
    return True


@click.command("worker", help="运行后台任务（RQ worker，含定时巡检），可启动多个")
@click.option("--burst", is_flag=True, help="处理完队列中的任务后退出")
@with_appcontext
def worker_command(burst):
    app = current_app._get_current_object()
    if redis_store.embedded:
        raise click.ClickException("REDIS_URL 未设置：内置默认模式下任务在 Web 进程内运行，无需单独的 worker。")
    stop = None if burst else start_periodic(app)
    click.echo(f"worker：队列 {app.config['RQ_QUEUE']}，Redis {redis_store.url}")
    try:
        while True:
            worker = make_worker(app)
            try:
                worker.work(burst=burst)
            except redis.RedisError as exc:
                log.error("worker lost Redis: %s", exc)
            if burst or _redis_reachable():
                # Burst done, or stopped on request (SIGTERM/SIGINT): leave; a supervisor restarts us.
                break
            log.error("Redis unreachable; the worker starts again in %s s", WORKER_RESTART_DELAY)
            time.sleep(WORKER_RESTART_DELAY)
    finally:
        if stop is not None:
            stop.set()


def init_app(app):
    app.cli.add_command(worker_command)
    if app.config["REDIS_URL"].startswith("memory://") and app.config["JOBS_PERIODIC"]:
        started = []
        start_lock = threading.Lock()

        # A web process starts its sweeps with its first request, so CLI commands never run them.
        @app.before_request
        def _start_embedded_periodic():
            if not started:
                with start_lock:
                    if not started:
                        started.append(start_periodic(app))

"""`make bench`: the production setup on this machine, at county scale, against a bare Flask baseline.

    python -m bench.run            # full size: 100,000 residents, 1,000,000 ratings, 200,000 complaints,
                                   # 100,000 subscribers of one item; 3 runs of 10 s per figure
    python -m bench.run --quick    # a tenth of the data, 2 runs of 5 s: a smoke test of the bench itself

Starts gunicorn with the shipped config/gunicorn.conf.py (APP_ENV=production, generated secrets) for the app
and, on another port, for bench/baseline_app.py; RQ workers (`flask --app wsgi worker`); the WeChat API double
as its own process (`python -m doubles.wechat --latency 0.02`). The data goes into a PostgreSQL database
the bench creates and drops, and Redis db --redis-db (flushed before and after). Data is loaded with
set-based SQL (INSERT ... SELECT generate_series), so the load takes a minute or two, not hours.

Measures, each figure the median over --runs runs:
a. GET /api/v1/projects and /api/v1/projects/{id} with wrk at 32 connections: requests/s and p99, beside the
   bare Flask endpoint under the same gunicorn config (ratio = app ÷ baseline);
b. POST /api/v1/complaints with wrk (a Lua script spreads the requests over many residents' tokens): rate
   and p99; afterwards every 201's id is in the table and every new row belongs to a request wrk sent;
c. the publish fan-out to --subscribers subscribers (bench/publish_fanout.py, its own database and workers);
d. GET /api/v1/stats/public and /api/v1/staff/stats: p95 of sequential requests, uncached (the cache
   generation is bumped before each request, as a write would) and cached.

Results: bench/results/bench-<time>.json and bench-latest.json, with the machine's description and load.
"""
import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import requests
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.procs import PY, RESULTS, ROOT, Proc, free_port, machine, percentile, wait_http, write_result, wrk

DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
APPID, SECRET = "wxbench", "benchsecret"
FANOUT_ITEM = "1.2"
TOKENS_PER_RUN = 8000


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the data, 2 runs of 5 s")
    parser.add_argument("--residents", type=int)
    parser.add_argument("--ratings", type=int)
    parser.add_argument("--complaints", type=int)
    parser.add_argument("--subscribers", type=int)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--duration", type=int, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="RQ worker processes")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the double adds to each send")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE))
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", 13)),
                        help="a Redis database of the bench's own on 127.0.0.1:6379 (flushed)")
    parser.add_argument("--only", default="reads,complaints,stats,fanout",
                        help="comma-separated parts to run (reads, complaints, stats, fanout)")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    args.residents = args.residents or 100_000 // scale
    args.ratings = args.ratings or 1_000_000 // scale
    args.complaints = args.complaints or 200_000 // scale
    args.subscribers = args.subscribers or 100_000 // scale
    args.runs = args.runs or (2 if args.quick else 3)
    args.duration = args.duration or (5 if args.quick else 10)
    args.only = set(args.only.split(","))
    return args


def log(message):
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def loadavg():
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# ---------------------------------------------------------------------------------------------- data


def load_data(app, args):
    """The 2024 plan, staff accounts and the county-scale rows, written by PostgreSQL itself."""
    from app.accounts.service import create_staff
    from app.extensions import db
    from app.feedback.stats import rebuild_unit_day_rates
    from app.projects.importer import import_plan

    db.create_all()
    import_plan(app.config["PLAN_FILE"])
    create_staff("bench-office", "bench-password-2024", "office")
    db.session.commit()
    timings = {}

    def step(name, sql, **params):
        started = time.monotonic()
        db.session.execute(sa.text(sql), params)
        db.session.commit()
        timings[name] = round(time.monotonic() - started, 1)
        log(f"  {name}: {timings[name]} s")

    step("residents", """
        INSERT INTO residents (openid, created_at, updated_at)
        SELECT 'o_bench' || g, now(), now() FROM generate_series(1, :n) g""", n=args.residents)
    # Each resident rates up to ten different items: rating g is resident g mod N's ((g div N + g) mod P)-th
    # item, so (resident, project) stays unique; levels skewed towards satisfied, some 差评 with a comment.
    step("ratings", """
        WITH p AS (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM projects),
             r AS (SELECT min(id) AS first FROM residents)
        INSERT INTO ratings (resident_id, project_id, level, comment, final, created_at, updated_at)
        SELECT r.first + g % :residents,
               p.ids[1 + ((g / :residents + g % :residents) % p.n)],
               lv.level, CASE WHEN lv.level <= 2 AND g % 3 = 0 THEN '进度太慢，希望加快推进' END, false,
               now() - (g % 300) * interval '1 day', now()
        FROM generate_series(0, :n - 1) g CROSS JOIN p CROSS JOIN r
        CROSS JOIN LATERAL (SELECT CASE WHEN (g::bigint * 7919) % 100 < 4 THEN 1 WHEN (g::bigint * 7919) % 100 < 10 THEN 2
                                        WHEN (g::bigint * 7919) % 100 < 25 THEN 3 WHEN (g::bigint * 7919) % 100 < 60 THEN 4
                                        ELSE 5 END AS level) lv""",
         residents=args.residents, n=min(args.ratings, args.residents * 10))
    # What the app's rating writes keep (app.feedback.kept_counts.RatingCount), for the rows just inserted.
    step("rating_counts", """
        INSERT INTO rating_counts (project_id, level, count)
        SELECT project_id, level, count(*) FROM ratings GROUP BY project_id, level""")
    # Complaints over 2024 (the plan's period, which the statistics default to), as a 12345 line that settles
    # most tickets within days: 2 % without an item wait in triage, 2 % each are assigned / signed / replied
    # (~4,000 tickets held by a unit at any time, all of them overdue), the rest closed and evaluated.
    step("complaints", """
        WITH p AS (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM projects),
             r AS (SELECT min(id) AS first FROM residents)
        INSERT INTO complaints (id, ticket_no, resident_id, kind, project_id, content, content_hash, image_ids,
                                township, anonymous, content_check, status, reopen_count, urge_count,
                                evaluation_due_at, closed_at, created_at, updated_at)
        SELECT g, 'NXB' || to_char(c.at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-' || lpad(g::text, 7, '0'),
               r.first + (g * 7) % :residents,
               (ARRAY['complaint', 'complaint', 'suggestion', 'consultation', 'praise'])[1 + g % 5],
               CASE WHEN g % 50 = 0 THEN NULL ELSE p.ids[1 + g % p.n] END,
               '压测数据：村口道路破损积水，请尽快修复。编号 ' || g, md5(g::text) || md5('b' || g), '[]',
               (ARRAY['南洲镇', '茅草街镇', '三仙湖镇', '明山头镇', '青树嘴镇', '厂窖镇'])[1 + g % 6],
               g % 17 = 0, 'pass', s.status, 0, 0,
               -- A replied ticket's evaluation window is still open (the sweep would have closed it).
               CASE WHEN s.status = 'replied' THEN now() + interval '5 days'
                    WHEN s.status = 'closed' THEN c.at + interval '13 days' END,
               CASE WHEN s.status = 'closed' THEN c.at + interval '13 days' END, c.at, c.at
        FROM generate_series(1, :n) g CROSS JOIN p CROSS JOIN r
        CROSS JOIN LATERAL (SELECT timestamptz '2024-01-02 01:00+00' + (g * 311 % 350) * interval '1 day'
                                   + (g * 7919 % 36000) * interval '1 second' AS at) c
        CROSS JOIN LATERAL (SELECT CASE WHEN g % 50 = 0 THEN 'triage' WHEN g % 50 = 1 THEN 'assigned'
                                        WHEN g % 50 = 2 THEN 'signed' WHEN g % 50 = 3 THEN 'replied'
                                        ELSE 'closed' END AS status) s""",
         residents=args.residents, n=args.complaints)
    db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence('complaints', 'id'), :n)"),
                       {"n": args.complaints})
    # What the app's complaint writes keep (app.feedback.kept_counts.ComplaintDayCount): per item and local day.
    step("complaint_day_counts", """
        INSERT INTO complaint_day_counts (day, project_id, count)
        SELECT (created_at AT TIME ZONE 'Asia/Shanghai')::date, project_id, count(*) FROM complaints
        WHERE project_id IS NOT NULL GROUP BY 1, 2""")
    step("complaint_assignments", """
        INSERT INTO complaint_assignments (complaint_id, unit_id, is_current, round, assigned_at, sign_due_at,
                                           signed_at, reply_due_at, replied_at, extended_days, handling_days,
                                           reopened, eval_level, eval_resolved, eval_source, evaluated_at)
        SELECT c.id, pu.unit_id, true, 0, c.created_at, c.created_at + interval '1 day',
               CASE WHEN c.status <> 'assigned' THEN c.created_at + (c.id % 30) * interval '1 hour' END,
               c.created_at + interval '7 days',
               CASE WHEN c.status IN ('replied', 'closed')
                    THEN c.created_at + (1 + c.id % 8) * interval '1 day' END,
               0, CASE WHEN c.status IN ('replied', 'closed') THEN 1 + c.id % 6 END, false,
               CASE WHEN c.status = 'closed' THEN 1 + (c.id * 13) % 5 END,
               CASE WHEN c.status = 'closed' THEN c.id % 7 <> 0 END,
               CASE WHEN c.status = 'closed' THEN 'resident' END,
               CASE WHEN c.status = 'closed' THEN c.created_at + interval '12 days' END
        FROM complaints c JOIN project_units pu ON pu.project_id = c.project_id AND pu.position = 0
        WHERE c.status <> 'triage'""")
    step("complaint_events", """
        INSERT INTO complaint_events (complaint_id, created_at, action, actor_type, actor_id, unit_id,
                                      from_status, to_status, note, data)
        SELECT c.id, c.created_at, 'submit', 'resident', c.resident_id, a.unit_id, NULL,
               CASE WHEN c.status = 'triage' THEN 'triage' ELSE 'assigned' END, NULL,
               CAST(CASE WHEN c.status = 'triage' THEN '{"routed_to": "专班办公室", "held_for_review": false}'
                         ELSE '{"held_for_review": false}' END AS json)
        FROM complaints c LEFT JOIN complaint_assignments a ON a.complaint_id = c.id
        UNION ALL
        SELECT a.complaint_id, a.signed_at, 'sign', 'staff', NULL, a.unit_id, 'assigned', 'signed', NULL,
               CAST('{}' AS json)
        FROM complaint_assignments a WHERE a.signed_at IS NOT NULL
        UNION ALL
        SELECT a.complaint_id, a.replied_at, 'reply', 'staff', NULL, a.unit_id, 'signed', 'replied',
               '已安排施工队处理，预计一周内完成。', CAST('{}' AS json)
        FROM complaint_assignments a WHERE a.replied_at IS NOT NULL
        UNION ALL
        SELECT a.complaint_id, a.evaluated_at, 'evaluate', 'resident', c.resident_id, a.unit_id, 'replied',
               'closed', NULL, CAST('{}' AS json)
        FROM complaint_assignments a JOIN complaints c ON c.id = a.complaint_id WHERE a.evaluated_at IS NOT NULL
        """)
    # As the deadline sweep leaves them: every missed deadline of a ticket still open marked, with its entry
    # in the office's overdue list and its event, so no sweep works off a year's backlog during the bench.
    step("overdue_alerts", """
        WITH marked AS (
            UPDATE complaint_assignments a
            SET sign_alerted_at = CASE WHEN a.signed_at IS NULL THEN a.sign_due_at + interval '1 hour' END,
                reply_alerted_at = a.reply_due_at + interval '1 hour'
            FROM complaints c
            WHERE c.id = a.complaint_id AND c.status IN ('assigned', 'signed') AND a.replied_at IS NULL
            RETURNING a.id, a.complaint_id, a.unit_id, a.signed_at, a.sign_due_at, a.reply_due_at)
        INSERT INTO overdue_alerts (created_at, kind, unit_id, due_at, complaint_id, assignment_id)
        SELECT sign_due_at + interval '1 hour', 'sign', unit_id, sign_due_at, complaint_id, id
        FROM marked WHERE signed_at IS NULL
        UNION ALL
        SELECT reply_due_at + interval '1 hour', 'reply', unit_id, reply_due_at, complaint_id, id FROM marked""")
    # What the app's assignment writes keep (app.feedback.kept_counts.UnitDayRates), recounted by the app's own SQL.
    started = time.monotonic()
    rebuild_unit_day_rates()
    db.session.commit()
    timings["unit_day_rates"] = round(time.monotonic() - started, 1)
    log(f"  unit_day_rates: {timings['unit_day_rates']} s")
    step("overdue_events", """
        INSERT INTO complaint_events (complaint_id, created_at, action, actor_type, unit_id, from_status,
                                      to_status, data)
        SELECT o.complaint_id, o.created_at, 'overdue', 'system', o.unit_id, c.status, c.status,
               CAST(json_build_object('deadline', o.kind) AS json)
        FROM overdue_alerts o JOIN complaints c ON c.id = o.complaint_id""")
    step("subscriptions", """
        INSERT INTO subscriptions (resident_id, project_id, created_at)
        SELECT r.id, (SELECT id FROM projects WHERE code = :item), now()
        FROM residents r ORDER BY r.id LIMIT :n""", item=FANOUT_ITEM, n=args.subscribers)
    started = time.monotonic()
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    timings["vacuum_analyze"] = round(time.monotonic() - started, 1)
    counts = {table: db.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
              for table in ("residents", "ratings", "complaints", "complaint_assignments", "complaint_events",
                            "overdue_alerts", "subscriptions")}
    return timings, counts


# ------------------------------------------------------------------------------------------- measures


def median_runs(runs):
    keys = ("rps", "p50_ms", "p99_ms")
    return {**{k: round(statistics.median(r[k] for r in runs), 2) for k in keys},
            "non_2xx": sum(r["non_2xx"] for r in runs), "runs": runs}


def measure_reads(args, app_url, base_url, project_id):
    targets = {
        "baseline_hello": base_url + "hello",
        "projects_list": app_url + "api/v1/projects",
        "project_detail": app_url + f"api/v1/projects/{project_id}",
    }
    runs = {name: [] for name in targets}
    for url in targets.values():
        wrk(url, connections=args.connections, duration=2)  # warm-up: caches, connection pools
    for run in range(args.runs):
        # Interleaved, so a burst of load from elsewhere on the machine hits all three alike.
        for name, url in targets.items():
            runs[name].append(wrk(url, connections=args.connections, duration=args.duration))
        log(f"  reads run {run + 1}: " + ", ".join(f"{n} {runs[n][-1]['rps']:.0f}/s" for n in targets))
    result = {name: median_runs(r) for name, r in runs.items()}
    base = result["baseline_hello"]["rps"]
    for name in ("projects_list", "project_detail"):
        result[name]["ratio_to_baseline"] = round(result[name]["rps"] / base, 3) if base else None
    return result


LUA = r"""
local tokens = dofile("%(tokens)s")
local ntokens = #tokens
local counter = 0
local nthreads = 0
local out = nil

function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
end

function init(args)
  out = io.open("%(outdir)s/ids-" .. tid .. ".txt", "w")
end

function request()
  counter = counter + 1
  local index = (tid + (counter - 1) * %(threads)d) %% ntokens + 1
  local body = '{"kind": "complaint", "project_id": %(project_id)d, "township": "南洲镇", ' ..
               '"content": "压测诉求 %(marker)s-' .. tid .. '-' .. counter .. '：路灯不亮，夜间出行不便。"}'
  return wrk.format("POST", "/api/v1/complaints",
                    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[index]},
                    body)
end

function response(status, headers, body)
  if status == 201 then
    out:write(body:match('"id"%%s*:%%s*(%%d+)'), " ", body:match('"ticket_no"%%s*:%%s*"([^"]+)"'), "\n")
  else
    out:write("E ", status, "\n")
  end
  out:flush()
end
"""


def measure_complaints(args, app, app_url, project_id, workdir):
    """wrk POSTs; each request names its run, thread and counter in its text, so the table can be checked."""
    from app.accounts.models import Resident
    from app.auth import issue_token
    from app.extensions import db

    threads = 2
    runs, checks = [], []
    with app.app_context():
        resident_ids = db.session.execute(db.select(Resident.id).order_by(Resident.id)).scalars().all()
    for run in range(args.runs):
        marker = f"B{uuid.uuid4().hex[:6]}"
        # A fresh slice of residents per run: the per-resident daily limit is not what is measured.
        start = (run * TOKENS_PER_RUN) % max(1, len(resident_ids) - TOKENS_PER_RUN)
        with app.app_context():
            tokens = [issue_token("resident", rid) for rid in resident_ids[start:start + TOKENS_PER_RUN]]
        rundir = Path(workdir) / marker
        rundir.mkdir()
        tokens_file = rundir / "tokens.lua"
        tokens_file.write_text("return {" + ",".join(f'"{t}"' for t in tokens) + "}\n")
        script = rundir / "post.lua"
        script.write_text(LUA % {"tokens": tokens_file, "outdir": rundir, "threads": threads,
                                 "project_id": project_id, "marker": marker})
        result = wrk(app_url + "api/v1/complaints", connections=args.connections, threads=threads,
                     duration=args.duration, script=script)
        time.sleep(2)  # requests in flight when wrk stopped finish on the server
        created, errors = {}, {}
        for path in rundir.glob("ids-*.txt"):
            for line in path.read_text().split("\n"):
                parts = line.split()
                if len(parts) == 2 and parts[0] == "E":
                    errors[parts[1]] = errors.get(parts[1], 0) + 1
                elif len(parts) == 2:
                    created[int(parts[0])] = parts[1]
        with app.app_context():
            rows = dict(db.session.execute(sa.text(
                "SELECT id, ticket_no FROM complaints WHERE content LIKE :pattern"), {"pattern": f"压测诉求 {marker}-%"}
            ).all())
            db.session.rollback()
        missing = [i for i in created if rows.get(i) != created[i]]
        unanswered = [i for i in rows if i not in created]
        check = {"responses_201": len(created), "other_statuses": errors, "rows_in_table": len(rows),
                 "201_missing_from_table": len(missing),
                 # Sent, committed, but wrk had stopped reading before the answer came: at most one per connection.
                 "rows_without_a_201_seen": len(unanswered),
                 "ok": not missing and len(unanswered) <= args.connections}
        runs.append(result)
        checks.append(check)
        log(f"  complaints run {run + 1}: {result['rps']:.0f}/s p99 {result['p99_ms']} ms; {check}")
    return {**median_runs(runs), "rps_201": round(statistics.median(c["responses_201"] for c in checks)
                                                  / args.duration, 1),
            "checks": checks, "consistent": all(c["ok"] for c in checks),
            "tokens_per_run": TOKENS_PER_RUN}


def measure_stats(args, app, app_url, staff_token, samples=20):
    from app import cache

    def timed(url, headers, invalidate):
        durations = []
        for _ in range(samples):
            if invalidate:
                with app.app_context():
                    cache.invalidate()
                # The workers hear of it by Redis pub/sub within milliseconds; give them that, so that an
                # "uncached" sample is never a worker's memory answering.
                time.sleep(0.05)
            started = time.perf_counter()
            response = requests.get(url, headers=headers, timeout=60)
            durations.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
        return {"p95_ms": round(percentile(durations, 95), 1), "p50_ms": round(percentile(durations, 50), 1)}

    result = {}
    targets = {"stats_public": (app_url + "api/v1/stats/public", {}),
               "staff_stats": (app_url + "api/v1/staff/stats", {"Authorization": f"Bearer {staff_token}"})}
    for name, (url, headers) in targets.items():
        for mode, invalidate in (("uncached", True), ("cached", False)):
            runs = [timed(url, headers, invalidate) for _ in range(args.runs)]
            result[f"{name}_{mode}"] = {"p95_ms": statistics.median(r["p95_ms"] for r in runs),
                                        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                                        "samples_per_run": samples, "runs": runs}
            log(f"  {name} {mode}: p95 {result[f'{name}_{mode}']['p95_ms']} ms")
    return result


def measure_fanout(args):
    """bench.publish_fanout `args.runs` times, each on a database and Redis prefix of its own. Reported: the median
    run (by time until all sent), the worst duplicates and missing of any run, and every run's figures."""
    runs = []
    for number in range(1, args.runs + 1):
        runs.append(_fanout_once(args))
        log(f"  run {number}: all sent in {runs[-1]['all_sent_seconds']} s")
    ordered = sorted(runs, key=lambda run: run["all_sent_seconds"])
    result = dict(ordered[(len(ordered) - 1) // 2])
    result["all_sent_seconds"] = round(statistics.median(run["all_sent_seconds"] for run in runs), 2)
    result["duplicates"] = {key: max(run["duplicates"][key] for run in runs) for key in result["duplicates"]}
    result["missing"] = max(run["missing"] for run in runs)
    result["runs"] = [{key: run[key] for key in ("all_sent_seconds", "messages_per_second", "outbox_statuses",
                                                  "duplicates", "missing", "worker_peak_rss_mb", "cpu_seconds")}
                      for run in runs]
    return result


def _fanout_once(args):
    with tempfile.TemporaryDirectory() as out:
        started = time.monotonic()
        try:
            proc = subprocess.run(
                [PY, "-m", "bench.publish_fanout", "--subscribers", str(args.subscribers), "--workers",
                 str(args.workers), "--latency", str(args.latency), "--database-url", args.database_url,
                 "--results-dir", out, "--redis-url", f"redis://127.0.0.1:6379/{args.redis_db}"],
                cwd=ROOT, capture_output=True, text=True)
        finally:
            # RQ's finished-job keys outlive the fan-out's own clean-up; the Redis database is the bench's own.
            import redis

            redis.Redis.from_url(f"redis://127.0.0.1:6379/{args.redis_db}").flushdb()
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"publish_fanout failed:\n{proc.stderr[-3000:]}")
        [path] = Path(out).glob("*.json")
        result = json.loads(path.read_text())
        result["bench_wall_seconds"] = round(time.monotonic() - started, 1)
        return result


# ------------------------------------------------------------------------------------------------ main


def markdown_table(result):
    """The latest figures as the table in docs/bench.md."""
    lines = ["| measure | result | goal |", "|---|---|---|"]
    reads = result.get("reads")
    if reads:
        base = reads["baseline_hello"]
        lines.append(f"| bare Flask baseline (same gunicorn config) | {base['rps']:.0f} req/s, p99 {base['p99_ms']:.0f} ms | |")
        for name, label in (("projects_list", "GET /api/v1/projects"), ("project_detail", "GET /api/v1/projects/{id}")):
            r = reads[name]
            lines.append(f"| {label}, {result['connections']} connections | {r['rps']:.0f} req/s, p99 {r['p99_ms']:.0f} ms, "
                         f"ratio {r['ratio_to_baseline']:.2f} | ratio ≥ 0.8 |")
    complaints = result.get("complaints")
    if complaints:
        checks = complaints["checks"]
        lines.append(f"| POST /api/v1/complaints, {result['connections']} connections | {complaints['rps_201']:.0f} created/s, "
                     f"p99 {complaints['p99_ms']:.0f} ms; every 201 in the table: "
                     f"{'yes' if all(not c['201_missing_from_table'] for c in checks) else 'NO'}; rows without a 201 seen: "
                     f"{', '.join(str(c['rows_without_a_201_seen']) for c in checks)} (in flight when wrk stopped) | |")
    stats = result.get("stats")
    if stats:
        for name, label in (("stats_public", "GET /api/v1/stats/public"), ("staff_stats", "GET /api/v1/staff/stats")):
            lines.append(f"| {label} p95 | uncached {stats[name + '_uncached']['p95_ms']:.0f} ms, "
                         f"cached {stats[name + '_cached']['p95_ms']:.0f} ms | ≤ 300 ms |")
    fanout = result.get("fanout")
    if fanout:
        each = " / ".join(f"{run['all_sent_seconds']:.0f}" for run in fanout.get("runs", []))
        lines.append(f"| publish to {fanout['subscribers']:,} subscribers, {fanout['workers']} workers, "
                     f"{fanout['latency_seconds'] * 1000:g} ms at the double | all sent in "
                     f"{fanout['all_sent_seconds']:.0f} s (runs {each} s; median run "
                     f"{fanout['messages_per_second']:.0f}/s), outbox {fanout['outbox_statuses']}, duplicates "
                     f"{fanout['duplicates']['wechat']}, worker peak RSS {fanout['worker_peak_rss_mb']} MB "
                     "| ≤ 120 s, 0 duplicates |")
    return "\n".join(lines)


class Setup:
    def __init__(self, args):
        self.args = args
        run_id = uuid.uuid4().hex[:8]
        server = make_url(args.database_url)
        self.admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        self.database = f"msss_bench_{run_id}"
        self.redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
        self.app_port, self.base_port, self.double_port = free_port(), free_port(), free_port()
        self.env = dict(
            os.environ, APP_ENV="production", SECRET_KEY=secrets.token_hex(32),
            PHONE_ENCRYPTION_KEY=secrets.token_hex(32),
            DATABASE_URL=server.set(database=self.database).render_as_string(hide_password=False),
            REDIS_URL=self.redis_url, RQ_QUEUE=f"msss-bench-{run_id}",
            WECHAT_API_BASE=f"http://127.0.0.1:{self.double_port}/", WECHAT_APPID=APPID, WECHAT_SECRET=SECRET,
            WECHAT_DOUBLE="0", PYTHONUNBUFFERED="1",
        )
        self.procs = []
        self.app = None

    def flush_redis(self):
        import redis

        redis.Redis.from_url(self.redis_url).flushdb()

    def start(self):
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.database}"'))
        self.flush_redis()
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            from app import create_app

            self.app = create_app()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def spawn(self, args, log_name, **env):
        proc = Proc(args, dict(self.env, **env), log_name)
        self.procs.append(proc)
        return proc

    def start_services(self):
        self.spawn([PY, "-m", "doubles.wechat", "--port", str(self.double_port), "--appid", APPID,
                    "--secret", SECRET, "--latency", str(self.args.latency)], "double")
        gunicorn = [str(Path(PY).parent / "gunicorn"), "-c", "config/gunicorn.conf.py"]
        self.spawn(gunicorn + ["wsgi:app"], "gunicorn-app", GUNICORN_BIND=f"127.0.0.1:{self.app_port}")
        self.spawn(gunicorn + ["bench.baseline_app:app"], "gunicorn-baseline",
                   GUNICORN_BIND=f"127.0.0.1:{self.base_port}")
        for n in range(self.args.workers):
            self.spawn([PY, "-m", "flask", "--app", "wsgi", "worker"], f"worker-{n}")
        wait_http(f"http://127.0.0.1:{self.double_port}/__double__/sent")
        wait_http(f"http://127.0.0.1:{self.app_port}/healthz")
        wait_http(f"http://127.0.0.1:{self.base_port}/hello")

    def stop(self):
        for proc in reversed(self.procs):
            proc.stop()
        self.procs = []
        if self.app is not None:
            from app.extensions import db

            with self.app.app_context():
                db.session.remove()
                db.engine.dispose()
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        self.admin.dispose()
        self.flush_redis()
        for tmp in RESULTS.glob("*.log.tmp"):
            tmp.unlink()


def main(argv=None):
    args = parse_args(argv)
    if args.only & {"reads", "complaints"} and shutil.which("wrk") is None:
        # Found out before minutes of loading data, not after.
        sys.exit("wrk is not installed: apt-get install wrk (or --only stats,fanout)")
    result = {"benchmark": "bench.run", "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
              "machine": machine(), "load_before": loadavg(),
              "sizes": {"residents": args.residents, "ratings": args.ratings, "complaints": args.complaints,
                        "subscribers": args.subscribers},
              "runs": args.runs, "duration_seconds": args.duration, "connections": args.connections,
              "gunicorn": "config/gunicorn.conf.py as shipped (workers 2×cores+1, 4 threads, gthread)"}
    started = time.monotonic()
    if args.only & {"reads", "complaints", "stats"}:
        setup = Setup(args)
        try:
            setup.start()
            log(f"loading data into {setup.database}")
            with setup.app.app_context():
                from app.accounts.models import StaffUser
                from app.auth import issue_token
                from app.extensions import db
                from app.projects.models import Project

                result["load_seconds"], result["rows"] = load_data(setup.app, args)
                project_id = db.session.execute(
                    db.select(Project.id).filter_by(code=FANOUT_ITEM)).scalar_one()
                office = db.session.execute(db.select(StaffUser).filter_by(username="bench-office")).scalar_one()
                staff_token = issue_token("staff", office.id, office.token_version)
            log(f"data loaded in {sum(result['load_seconds'].values()):.0f} s: {result['rows']}")
            setup.start_services()
            app_url = f"http://127.0.0.1:{setup.app_port}/"
            if "reads" in args.only:
                log("a. reads against the bare Flask baseline")
                result["reads"] = measure_reads(args, app_url, f"http://127.0.0.1:{setup.base_port}/", project_id)
            if "stats" in args.only:
                log("d. statistics")
                result["stats"] = measure_stats(args, setup.app, app_url, staff_token)
            if "complaints" in args.only:
                log("b. complaint submissions")
                with tempfile.TemporaryDirectory() as workdir:
                    result["complaints"] = measure_complaints(args, setup.app, app_url, project_id, workdir)
        finally:
            setup.stop()
    if "fanout" in args.only:
        log(f"c. publish to {args.subscribers} subscribers ({args.workers} workers, {args.latency * 1000:g} ms)")
        result["fanout"] = fanout = measure_fanout(args)
        log(f"  median: all sent in {fanout['all_sent_seconds']} s ({fanout['messages_per_second']}/s), "
            f"duplicates {fanout['duplicates']}, peak RSS {fanout['worker_peak_rss_mb']} MB")
    result["load_after"] = loadavg()
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    result["table"] = markdown_table(result)
    path = write_result("bench", result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, ensure_ascii=False, indent=2))
    print(result["table"])
    log(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""The similar-ticket lookup (POST /api/v1/complaints/similar's service call) at county scale.

    python -m bench.stats_profile load      # the bench's data: 200,000 complaints over 2024 (~1 min)
    python -m bench.similar_lookup [--samples 200]
    python -m bench.stats_profile drop

Each sample is a resident's draft about a random item and township, looked up as of 2024-12-20 (so the
60-day window holds the ~34,000 tickets of the data's last two months): the SQL that picks the candidates
and the ranking, in this process, on PostgreSQL. Prints p50, p95 and max in milliseconds, and how many
candidates the lookups ranked.
"""
import argparse
import random
import statistics
import time
from datetime import UTC, datetime

from bench.procs import percentile
from bench.stats_profile import make_app

DRAFTS = ["村口道路破损积水，下雨天没法走，请尽快修复。", "助餐点饭菜太咸了，老人吃不消。",
          "小区路灯晚上不亮，老人出门看不清路。", "自来水发黄浑浊，烧开了还有沉淀。"]
AS_OF = datetime(2024, 12, 20, 4, 0, tzinfo=UTC)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args(argv)
    app = make_app()
    with app.app_context():
        from app.accounts.models import Resident
        from app.extensions import db
        from app.feedback import service
        from app.projects.models import Project

        projects = db.session.execute(db.select(Project.id)).scalars().all()
        resident = db.session.execute(db.select(Resident).order_by(Resident.id).limit(1)).scalar_one()
        townships = ["南洲镇", "茅草街镇", "三仙湖镇", "明山头镇", "青树嘴镇", "厂窖镇"]
        chooser = random.Random(7)
        durations, found = [], []
        for i in range(args.samples + 10):
            draft = chooser.choice(DRAFTS)
            project_id = chooser.choice(projects + [None])
            township = chooser.choice(townships + [None])
            started = time.perf_counter()
            result = service.similar_for_draft(resident, draft, project_id=project_id, township=township,
                                               now=AS_OF)
            elapsed = (time.perf_counter() - started) * 1000
            db.session.rollback()
            if i >= 10:  # the first few warm the pool and the plan cache
                durations.append(elapsed)
                found.append(len(result["items"]))
    print(f"similar lookup, {args.samples} drafts: p50 {statistics.median(durations):.1f} ms, "
          f"p95 {percentile(durations, 95):.1f} ms, max {max(durations):.1f} ms; "
          f"{sum(found)} suggestions shown")


if __name__ == "__main__":
    main()

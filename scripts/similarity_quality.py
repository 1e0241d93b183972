"""Precision@1 and recall@3 of the similar-complaint ranking on the hand-labelled set.

    .venv/bin/python scripts/similarity_quality.py [tests/data/similar_complaints.yaml]

Every text is a draft in turn; its candidates are the other texts the service would compare it with
(app.feedback.similarity.comparable: the same item and township where the draft names them); the ranking is the
service's own (app.feedback.similarity.rank). precision@1: of the drafts that have
a duplicate among their candidates, the share whose first suggestion is one (no suggestion counts as a miss).
recall@3: of the (draft, duplicate) pairs, the share whose duplicate is among the draft's three suggestions (a
draft with more than three duplicates can find three). Also printed: the share of drafts without any duplicate
(the singles) that are shown a suggestion anyway.
"""
import itertools
import sys
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.feedback.similarity import comparable, rank  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[1] / "tests" / "data" / "similar_complaints.yaml"


def load(path):
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    tickets = []
    for cluster in data["clusters"]:
        for text in cluster["texts"]:
            tickets.append(dict(cluster=cluster["id"], place=cluster["place"], problem=cluster["problem"],
                                township=cluster["township"], project=cluster["project"], content=text))
    for single in data.get("singles", []):
        tickets.append(dict(cluster=None, place=None, problem=None, **single))
    return tickets


def label(a, b):
    if a["cluster"] is not None and a["cluster"] == b["cluster"]:
        return "same"
    if a["place"] and a["place"] == b["place"]:
        return "same_place_other_problem"
    if a["problem"] and a["problem"] == b["problem"]:
        return "same_problem_elsewhere"
    return "unrelated"


def evaluate(tickets):
    pairs = Counter(label(a, b) for a, b in itertools.combinations(tickets, 2))
    hits = found = duplicates = with_duplicate = singles = false_alarms = 0
    mistakes = []
    for i, draft in enumerate(tickets):
        pool = [t for j, t in enumerate(tickets) if j != i and comparable(draft, t)]
        top = rank(draft, pool, limit=3)
        same = [t for t in pool if label(draft, t) == "same"]
        if not same:
            singles += 1
            false_alarms += bool(top)
        else:
            with_duplicate += 1
            if top and label(draft, top[0][1]) == "same":
                hits += 1
            else:
                mistakes.append((draft["content"], top[0][1]["content"] if top else "—",
                                 round(top[0][0], 3) if top else None))
        duplicates += min(3, len(same))
        found += sum(1 for _, t in top if label(draft, t) == "same")
    return dict(pairs=pairs, drafts=len(tickets), with_duplicate=with_duplicate, singles=singles,
                false_alarm_rate=false_alarms / singles if singles else 0.0,
                precision_at_1=hits / with_duplicate if with_duplicate else 0.0,
                recall_at_3=found / duplicates if duplicates else 0.0, mistakes=mistakes)


def main(argv):
    result = evaluate(load(argv[1] if len(argv) > 1 else DEFAULT))
    print("labelled pairs:", dict(result["pairs"]), "total", sum(result["pairs"].values()))
    print(f"drafts {result['drafts']}: {result['with_duplicate']} with a duplicate, {result['singles']} without")
    print(f"precision@1 {result['precision_at_1']:.3f}  recall@3 {result['recall_at_3']:.3f}  "
          f"drafts without a duplicate shown one anyway {result['false_alarm_rate']:.3f}")
    for draft, wrong, score in result["mistakes"][:20]:
        print(f"  {score}  {draft}  →  {wrong}")


if __name__ == "__main__":
    main(sys.argv)

"""The similar-complaint ranking on the hand-labelled set (tests/data/similar_complaints.yaml) and its parts."""
import importlib.util
from pathlib import Path

from app.feedback import similarity

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "similarity_quality.py"


def _quality():
    spec = importlib.util.spec_from_file_location("similarity_quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_labelled_set_meets_the_goal():
    quality = _quality()
    tickets = quality.load(quality.DEFAULT)
    result = quality.evaluate(tickets)
    assert result["pairs"]["same"] >= 150 and sum(result["pairs"].values()) >= 300
    assert result["pairs"]["same_place_other_problem"] > 0 and result["pairs"]["same_problem_elsewhere"] > 0
    assert result["precision_at_1"] >= 0.9
    assert result["recall_at_3"] >= 0.9


def test_full_width_forms_and_synonyms_fold_to_one_spelling():
    assert similarity.normalise("老年食堂ＡＢ１２") == similarity.normalise("助餐点ab12")


def test_another_township_or_item_is_never_compared():
    draft = {"content": "路灯不亮", "township": "南洲镇", "project": 7}
    assert similarity.comparable(draft, {"content": "路灯不亮", "township": "南洲镇", "project": None})
    assert not similarity.comparable(draft, {"content": "路灯不亮", "township": "华阁镇", "project": 7})
    assert not similarity.comparable(draft, {"content": "路灯不亮", "township": "南洲镇", "project": 8})


def test_rank_orders_by_score_and_drops_what_shares_nothing():
    draft = {"content": "育才路的路灯晚上不亮", "township": None, "project": None}
    candidates = [{"content": "菜市场门口摊贩占道", "township": None, "project": None},
                  {"content": "育才路路灯坏了一个月", "township": None, "project": None}]
    ranked = similarity.rank(draft, candidates)
    assert [candidate["content"] for _, candidate in ranked] == ["育才路路灯坏了一个月"]

"""deploy/prometheus's rules name only metrics this app (or node_exporter, for the disk) exports."""
import re

import yaml

from tests.conftest import ROOT

RULES = ROOT / "deploy" / "prometheus" / "minsheng.rules.yml"
# Prometheus's own and node_exporter's series, which the app does not export.
OUTSIDE = {"up", "node_filesystem_avail_bytes", "node_filesystem_size_bytes"}
FUNCTIONS = {"sum", "rate", "increase", "histogram_quantile", "by", "le", "without", "avg", "max", "min"}


def _metric_names(expr):
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", " ", expr)
    return {name for name in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)} - FUNCTIONS


def _exported(client):
    text = client.get("/metrics").get_data(as_text=True)
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
            if kind == "counter" and not name.endswith("_total"):
                names.add(f"{name}_total")
    return names


def test_every_rule_names_an_exported_metric(client):
    client.get("/api/v1/projects")  # so that the request counters have a sample
    rules = [rule for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]
    assert len(rules) >= 8
    exported = _exported(client)
    for rule in rules:
        assert rule["alert"].startswith("Minsheng") and rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"]
        missing = _metric_names(str(rule["expr"])) - exported - OUTSIDE
        assert not missing, (rule["alert"], missing)
    # Each state gauge the app computes has at least one rule watching it.
    watched = set().union(*(_metric_names(str(r["expr"])) for r in rules))
    assert {"minsheng_outbox_oldest_pending_age_seconds", "minsheng_outbox_messages", "minsheng_jobs_queued",
            "minsheng_jobs_failed", "minsheng_tickets_overdue", "minsheng_metrics_source_up"} <= watched

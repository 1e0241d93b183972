"""Embedded default (issue 21.9): a plan imported with the CLI while `make run` serves left pages read earlier
stale — the in-process Redis stand-in of the server never heard of the CLI's invalidation. The generation lives
in a file beside the SQLite database there (app.cache_file), so a CLI write invalidates like any other."""
import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import PLAN_FILE, ROOT


@pytest.fixture
def embedded(app):
    if app.config["REDIS_URL"] != "memory://" or not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        pytest.skip("the embedded default (SQLite file, in-process Redis) only")
    return app


def test_a_plan_imported_by_the_cli_is_seen_by_the_serving_process(embedded, client, plan, tmp_path):
    before = client.get("/api/v1/plans/current").get_json()
    assert client.get("/api/v1/plans/current").get_json() == before  # served from the cache now
    data = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))
    data["plan"]["title"] += "（修订）"
    changed = tmp_path / "plan.yaml"
    changed.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": embedded.config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": "memory://", "FLASK_APP": "wsgi"}
    result = subprocess.run([sys.executable, "-m", "flask", "plan", "import", str(changed)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "导入完成" in result.stdout
    after = client.get("/api/v1/plans/current").get_json()
    assert after["title"] == data["plan"]["title"] != before["title"]

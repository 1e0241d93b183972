"""The mini-program in miniprogram/: its Jest suite (pages rendered in WeChat's component simulator, driven
against a backend of its own over HTTP) runs as part of `make test`, and every page the backend can put into
a subscribe message is a page of the mini-program that opens the record it names."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MINIPROGRAM = ROOT / "miniprogram"
# A subscribe message's `page`: a route of the mini-program, optionally with its query.
PAGE_LITERAL = re.compile(r"""["'](pages/[a-z_]+/[a-z_]+)(\?[^"']*)?["']""")


def backend_pages():
    """Every "pages/…" literal in the backend's code: {route: {query keys}}."""
    found = {}
    for path in (ROOT / "app").rglob("*.py"):
        for match in PAGE_LITERAL.finditer(path.read_text(encoding="utf-8")):
            keys = set(re.findall(r"[?&]([a-z_]+)=", match.group(2) or ""))
            found.setdefault(match.group(1), set()).update(keys)
    return found


def test_every_page_a_subscribe_message_can_open_exists_and_reads_its_query():
    from app.feedback.service.common import COMPLAINT_PAGE, PROJECT_PAGE
    from app.progress.jobs import PROJECT_PAGE as UPDATE_PAGE

    pages = backend_pages()
    # The scan sees the pages the senders actually use.
    for page in (COMPLAINT_PAGE, PROJECT_PAGE, UPDATE_PAGE):
        assert page.split("?")[0] in pages
    app_json = json.loads((MINIPROGRAM / "app.json").read_text(encoding="utf-8"))
    for route, keys in pages.items():
        assert route in app_json["pages"], f"{route} is sent in subscribe messages but is not in app.json"
        for ext in ("js", "json", "wxml", "wxss"):
            assert (MINIPROGRAM / f"{route}.{ext}").is_file(), f"{route}.{ext} missing"
        source = (MINIPROGRAM / f"{route}.js").read_text(encoding="utf-8")
        assert re.search(r"onLoad\(\s*query", source), f"{route} does not read its query in onLoad"
        for key in keys:
            assert f"query.{key}" in source, f"{route} ignores the {key}= its messages carry"


@pytest.mark.miniprogram
def test_the_miniprogram_suite_passes():
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        if os.environ.get("REQUIRE_MINIPROGRAM") == "1":
            pytest.fail("REQUIRE_MINIPROGRAM=1 but node/npm are not installed")
        pytest.skip("node and npm are not installed: the mini-program's Jest suite cannot run")
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "TEST_REDIS_URL")}
    env.setdefault("MINIPROGRAM_FLASK", str(ROOT / ".venv" / "bin" / "flask"))
    install = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"], cwd=MINIPROGRAM,
                             env=env, capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, f"npm ci failed:\n{install.stdout[-3000:]}\n{install.stderr[-3000:]}"
    result = subprocess.run([npm, "test", "--", "--ci"], cwd=MINIPROGRAM, env=env, capture_output=True,
                            text=True, timeout=1800)
    report = result.stdout[-6000:] + result.stderr[-6000:]
    assert result.returncode == 0, f"npm test failed:\n{report}"
    assert re.search(r"Tests:\s+\d+ passed", report), report
    marker = os.environ.get("MINIPROGRAM_RAN_FILE")
    if marker:
        Path(marker).write_text(re.search(r"Tests:.*", report).group(0) + "\n", encoding="utf-8")


"""The console in Debian's headless Chromium over real HTTP: the main journeys, what a resident and the public
then see through the API, and a screenshot of each main page (test-artifacts/screenshots/, 1366×768)."""
import re
from io import BytesIO

import pytest
from PIL import Image

from app.common.timeutil import local_today
from app.feedback import service as feedback
from app.progress import service as progress
from tests.console.conftest import People, browser_login, file_complaint, project_by_code
from tests.factories import auth, resident_token

pytestmark = pytest.mark.browser


def _png():
    buffer = BytesIO()
    Image.new("RGB", (120, 90), (46, 139, 87)).save(buffer, "PNG")
    return {"name": "现场照片.png", "mimeType": "image/png", "buffer": buffer.getvalue()}


@pytest.fixture
def people(township_plan, factories, wechat):
    return People(factories)


def test_unit_signs_and_replies_and_the_resident_sees_it(page, client, people, screenshot):
    filed = file_complaint(client, people["resident"], "南洲镇助餐点饭菜太咸，老人吃不惯，希望改进。", "6.1",
                           phone="13812345678", township="南洲镇")
    file_complaint(client, people["resident"], "适老化改造进度慢，什么时候能到我家？", "6.2")

    page.goto("/console/")
    assert page.locator("input[name=username]").is_visible()
    screenshot(page, "01-login")
    browser_login(page, people["minzheng"])
    assert page.locator("h1").inner_text().startswith("诉求队列")
    assert page.locator("table.queue tbody tr").count() == 2
    screenshot(page, "02-queue")

    page.click(f"text={filed['ticket_no']}")
    assert "138****5678" in page.inner_text("dl.facts")
    page.get_by_role("button", name="签收", exact=True).click()
    assert "已签收" in page.inner_text(".flash.ok")
    screenshot(page, "03-complaint-detail")
    page.fill("textarea[name=content]", "已责成助餐点减少用盐，每周抽查菜品，并电话回访了您。")
    page.set_input_files("input[name=photos]", _png())
    page.get_by_role("button", name="提交答复").click()
    assert "已答复" in page.inner_text(".flash.ok")
    assert page.locator(".thumbs img").first.evaluate("img => img.naturalWidth") == 120
    screenshot(page, "03-complaint-replied")

    mine = client.get(f"/api/v1/me/complaints/{filed['id']}", headers=auth(resident_token(people["resident"])))
    body = mine.get_json()
    assert body["status"] == "replied"
    assert body["replies"][0]["content"] == "已责成助餐点减少用盐，每周抽查菜品，并电话回访了您。"


def test_office_publishes_a_unit_update_and_the_public_api_shows_it(browser, live_server, page, client, people,
                                                                    screenshot):
    project = project_by_code("6.1")
    browser_login(page, people["minzheng"])
    page.goto(f"/console/projects/{project.id}/updates/new")
    inputs = page.locator("input[name^='v:']")
    assert inputs.count() == 3  # one per township of the breakdown
    inputs.nth(0).fill("2")
    inputs.nth(1).fill("1")
    page.fill("textarea[name=content]", "南洲镇、三仙湖镇新建助餐点三处，已开门营业。")
    page.select_option("select[name=township]", "南洲镇")
    page.set_input_files("input[name=photos]", _png())
    screenshot(page, "04-update-form")
    page.get_by_role("button", name="提交审核").click()
    assert "等待专班办公室审核发布" in page.inner_text(".flash.ok")

    office = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=live_server)
    office.set_default_timeout(8000)
    review = office.new_page()
    try:
        browser_login(review, people["office"])
        review.goto("/console/updates")
        review.get_by_role("link", name="审核", exact=True).click()
        assert "南洲镇、三仙湖镇新建助餐点三处" in review.inner_text(".content-text")
        screenshot(review, "05-review")
        review.get_by_role("button", name="审核通过并发布").click()
        assert "已发布" in review.inner_text(".flash.ok")
    finally:
        office.close()

    timeline = client.get(f"/api/v1/projects/{project.id}/updates").get_json()
    assert timeline["items"][0]["content"] == "南洲镇、三仙湖镇新建助餐点三处，已开门营业。"
    assert client.get(f"/api/v1/projects/{project.id}").get_json()["metrics"][0]["current"] == "3"


def test_script_in_a_complaint_is_shown_as_text(page, client, people):
    text = "<script>window.__pwned = 1; alert('x')</script><img src=x onerror=\"window.__pwned=2\">助餐点"
    filed = file_complaint(client, people["resident"], text, "6.1")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_login(page, people["minzheng"])
    assert text[:30] in page.inner_text("table.queue")
    page.goto(f"/console/complaints/{filed['id']}")
    assert page.inner_text("#complaint-content") == text
    assert page.evaluate("window.__pwned") is None
    assert not dialogs


def test_staff_of_another_unit_cannot_open_the_ticket(page, client, people):
    filed = file_complaint(client, people["resident"], "助餐点饭菜太咸了，希望改进。", "6.1")
    browser_login(page, people["jiaoyu"])
    assert filed["ticket_no"] not in page.inner_text("main")
    response = page.goto(f"/console/complaints/{filed['id']}")
    assert response.status == 404
    assert "诉求不存在" in page.inner_text("main")


def _activity(client, people):
    """Some history for the dashboard, made through the same services the console calls."""
    resident = people["resident"]
    for code, level in (("6.1", 5), ("6.2", 2), ("1.1", 4)):
        client.put(f"/api/v1/projects/{project_by_code(code).id}/rating", json={"level": level, "comment": "评价"},
                   headers=auth(resident_token(resident)))
    filed = file_complaint(client, resident, "助餐点饭菜太咸了，希望改进。", "6.1")
    feedback.sign(filed["id"], people["minzheng"])
    feedback.reply(filed["id"], people["minzheng"], "已整改，减少用盐。")
    client.post(f"/api/v1/me/complaints/{filed['id']}/evaluation", json={"level": 4, "resolved": True},
                headers=auth(resident_token(resident)))
    file_complaint(client, resident, "学校门口道路积水严重。", "1.1")
    file_complaint(client, resident, "小区路灯坏了很久没人修，晚上出行不便。")
    project = project_by_code("6.1")
    metric = project.metrics[0]
    draft = progress.create_draft(project.id, people["minzheng"], "新建助餐点五处。",
                                  [{"metric_id": metric.id, "value": "3", "township": "南洲镇"},
                                   {"metric_id": metric.id, "value": "2", "township": "三仙湖镇"}])
    progress.publish(draft["id"], people["office"])


def test_dashboard_renders_its_charts(page, client, people, screenshot):
    _activity(client, people)
    browser_login(page, people["admin"])
    # The statistics default to the plan's year (2024); this test's tickets are filed today.
    today = local_today().isoformat()
    page.goto(f"/console/dashboard?from={today}&to={today}")
    charts = page.locator("svg.chart")
    assert charts.count() == 4
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box["width"] > 800 and box["height"] > 40
    progress_bars = page.locator("#progress svg rect.bar")
    assert progress_bars.count() == 24
    assert max(progress_bars.nth(i).bounding_box()["width"] for i in range(24)) > 300  # 6.1 at 5 of 8
    assert re.search(r"县民政局\s+1\s+100\.0%", page.inner_text("#rates table"))
    assert page.locator("#items tbody tr").count() == 24
    screenshot(page, "06-dashboard")
    page.screenshot(path=str(screenshot.folder / "06-dashboard-full.png"), full_page=True)

    page.goto("/console/triage")
    assert "小区路灯坏了" in page.inner_text("#triage")
    screenshot(page, "07-triage")
    page.context.clear_cookies()
    browser_login(page, people["security"])  # 三员分立: accounts are the security administrator's
    page.goto("/console/accounts")
    accounts = page.inner_text("main table")
    assert "minzheng" in accounts and "县民政局" in accounts and "专班办公室" in accounts
    screenshot(page, "08-accounts")

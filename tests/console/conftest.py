"""Console test helpers: a logged-in test client, and for browser tests the app served over real HTTP
(werkzeug in a thread, same config and database as the `app` fixture) driven by Debian's Chromium."""
import re
import shutil
import threading
from pathlib import Path

import pytest
import yaml
from werkzeug.serving import make_server

from tests.conftest import PLAN_FILE
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--lang=zh-CN"]
VIEWPORT = {"width": 1366, "height": 768}

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html):
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Console:
    """A test client speaking to the console as a browser would: it reads the CSRF token from each page."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def get(self, path, **kwargs):
        response = self.client.get(path, **kwargs)
        if response.mimetype == "text/html":
            match = _CSRF.search(response.get_data(as_text=True))
            if match:
                self.token = match.group(1)
        return response

    def post(self, path, data=None, **kwargs):
        if self.token is None:
            self.get("/console/")
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.client.post(path, data=data, **kwargs)

    def login(self, username, password=PASSWORD):
        self.get("/console/")
        response = self.post("/console/login", {"username": username, "password": password})
        assert response.status_code == 303, response.get_data(as_text=True)
        # A new session has a new CSRF token: read it from the first page after login.
        self.get(response.headers["Location"], follow_redirects=True)
        return response


@pytest.fixture(scope="session")
def township_plan_file(tmp_path_factory):
    """The shipped plan with 6.1 (8 elderly meal points, 县民政局) broken down by township, as a county
    would load it: the progress form then asks for one value per township."""
    data = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))
    for category in data["categories"]:
        for project in category["projects"]:
            if project["code"] == "6.1":
                project["metrics"][0]["townships"] = [
                    {"name": "南洲镇", "target": "3"}, {"name": "三仙湖镇", "target": "3"},
                    {"name": "茅草街镇", "target": "2"},
                ]
    path = tmp_path_factory.mktemp("plans") / "nanxian_2024_townships.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def township_plan(app, township_plan_file):
    from app.projects.importer import import_plan

    return import_plan(township_plan_file)


class People:
    """The cast of a console test, each created on first use: a staff account costs a memory-hard password
    hash, so a test pays only for the people it needs. Usernames are the keys."""

    STAFF = {"minzheng": ("unit_staff", "县民政局"), "jiaoyu": ("unit_staff", "县教育局"),
             "office": ("office", None), "admin": ("admin", None), "security": ("security_admin", None),
             "auditor": ("auditor", None)}

    def __init__(self, factories):
        self.factories = factories
        self.made = {}

    def __getitem__(self, name):
        if name not in self.made:
            if name == "resident":
                self.made[name] = self.factories.resident()
            else:
                role, unit = self.STAFF[name]
                self.made[name] = self.factories.staff(role, unit, username=name)
        return self.made[name]


@pytest.fixture
def people(plan, factories, wechat):
    """Staff of 县民政局 (lead of 6.1 and 6.2) and 县教育局, the office, an admin and a resident, on the
    shipped plan with the WeChat double answering the content checks."""
    return People(factories)


@pytest.fixture
def console(app):
    return Console(app.test_client())


@pytest.fixture
def console_as(app):
    """console_as(staff) → a Console logged in as that staff member."""

    def make(staff):
        c = Console(app.test_client())
        c.login(staff.username)
        return c

    return make


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium): browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server, locale="zh-CN")
    # Government intranets have no internet: any request leaving the app fails the page, and the test.
    outside = []
    context.route(re.compile(r"^(?!" + re.escape(live_server) + r").*"),
                  lambda route: (outside.append(route.request.url), route.abort()))
    context.set_default_timeout(8000)
    page = context.new_page()
    yield page
    context.close()
    assert not outside, f"the page tried to load from outside the app: {outside}"


@pytest.fixture(scope="session")
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    take.folder = SCREENSHOTS
    return take


def browser_login(page, staff, password=PASSWORD):
    page.goto("/console/")
    page.fill("input[name=username]", staff.username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def project_by_code(code):
    from app.extensions import db
    from app.projects.models import Project

    return db.session.execute(db.select(Project).filter_by(code=code)).scalar_one()


def file_complaint(client, resident, content, project_code=None, **extra):
    """A resident files a complaint through the mini-program API; returns the API's answer."""
    from tests.factories import auth, resident_token

    body = {"kind": "complaint", "content": content, **extra}
    if project_code:
        body["project_id"] = project_by_code(project_code).id
    response = client.post("/api/v1/complaints", json=body, headers=auth(resident_token(resident)))
    assert response.status_code == 201, response.get_json()
    return response.get_json()

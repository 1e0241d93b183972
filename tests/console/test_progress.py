"""Progress updates through the console (test client): the unit's form with values per township and photos,
the office's review, rejection and publication, and what the public API shows afterwards."""
import re
from io import BytesIO

import pytest
from PIL import Image

from app.extensions import db
from app.progress.models import ProgressUpdate
from tests.console.conftest import People, project_by_code


@pytest.fixture
def people(township_plan, factories):
    return People(factories)


def _jpeg():
    buffer = BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def _metric_field(page, township):
    return re.search(r'name="(v:\d+:' + township + ')"', page).group(1)


def _submit(console, project, values, content="南洲镇新建助餐点两处，已投入使用。", photos=()):
    data = {"csrf_token": console.token, "content": content, "township": "南洲镇", **values}
    if photos:
        data["photos"] = [(BytesIO(p), f"photo{i}.jpg") for i, p in enumerate(photos)]
    return console.client.post(f"/console/projects/{project.id}/updates", data=data,
                               content_type="multipart/form-data")


def test_unit_drafts_per_township_and_the_office_publishes(client, people, console_as):
    project = project_by_code("6.1")
    unit = console_as(people["minzheng"])
    assert f"/console/projects/{project.id}/updates/new" in unit.get("/console/updates").get_data(as_text=True)
    form = unit.get(f"/console/projects/{project.id}/updates/new").get_data(as_text=True)
    assert "南洲镇" in form and "三仙湖镇" in form and "茅草街镇" in form
    response = _submit(unit, project, {_metric_field(form, "南洲镇"): "2", _metric_field(form, "三仙湖镇"): "1"},
                       photos=[_jpeg()])
    assert response.status_code == 303
    update = db.session.execute(db.select(ProgressUpdate)).scalar_one()
    assert update.status == "draft" and len(update.image_ids) == 1
    assert {(v["township"], v["value"]) for v in update.metric_values} == {("南洲镇", "2"), ("三仙湖镇", "1")}
    # Not public before the office publishes it.
    assert client.get(f"/api/v1/projects/{project.id}/updates").get_json()["total"] == 0

    office = console_as(people["office"])
    queue = office.get("/console/updates").get_data(as_text=True)
    assert "待审核的进展" in queue and "南洲镇新建助餐点两处" in queue
    review = office.get(f"/console/updates/{update.id}").get_data(as_text=True)
    assert "审核通过并发布" in review and "三仙湖镇" in review
    assert office.post(f"/console/updates/{update.id}/publish").status_code == 303

    timeline = client.get(f"/api/v1/projects/{project.id}/updates").get_json()
    assert timeline["total"] == 1
    assert timeline["items"][0]["content"] == "南洲镇新建助餐点两处，已投入使用。"
    assert len(timeline["items"][0]["images"]) == 1
    detail = client.get(f"/api/v1/projects/{project.id}").get_json()
    assert detail["metrics"][0]["current"] == "3"  # Σ of the townships
    # Published is history: a second publish is the 409 page.
    again = office.post(f"/console/updates/{update.id}/publish")
    assert again.status_code == 409 and "已发布" in again.get_data(as_text=True)


def test_bad_value_is_refused_beside_its_field_and_the_input_kept(people, console_as):
    project = project_by_code("6.1")
    unit = console_as(people["minzheng"])
    form = unit.get(f"/console/projects/{project.id}/updates/new").get_data(as_text=True)
    field = _metric_field(form, "南洲镇")
    response = _submit(unit, project, {field: "-3", _metric_field(form, "三仙湖镇"): "1"}, content="进展说明")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "数值不能为负数" in page and 'value="-3"' in page and "进展说明" in page
    assert db.session.execute(db.select(ProgressUpdate)).first() is None


def test_office_rejects_and_the_unit_resubmits(people, console_as):
    project = project_by_code("6.1")
    unit = console_as(people["minzheng"])
    form = unit.get(f"/console/projects/{project.id}/updates/new").get_data(as_text=True)
    _submit(unit, project, {_metric_field(form, "南洲镇"): "2"})
    update = db.session.execute(db.select(ProgressUpdate)).scalar_one()

    office = console_as(people["office"])
    empty = office.post(f"/console/updates/{update.id}/reject", {"reason": ""})
    assert "请填写退回原因" in office.get(empty.headers["Location"]).get_data(as_text=True)
    office.post(f"/console/updates/{update.id}/reject", {"reason": "请补充现场照片"})
    db.session.refresh(update)
    assert update.status == "rejected"

    page = unit.get(f"/console/updates/{update.id}").get_data(as_text=True)
    assert "请补充现场照片" in page and "修改后重新提交" in page
    edit = unit.get(f"/console/updates/{update.id}/edit").get_data(as_text=True)
    assert 'value="2"' in edit
    response = unit.client.post(f"/console/updates/{update.id}/edit", data={
        "csrf_token": unit.token, "content": "补充了现场照片。", "township": "南洲镇",
        _metric_field(edit, "南洲镇"): "2", "photos": (BytesIO(_jpeg()), "site.jpg"),
    }, content_type="multipart/form-data")
    assert response.status_code == 303
    db.session.refresh(update)
    assert update.status == "draft" and update.content == "补充了现场照片。" and len(update.image_ids) == 1


def test_roles_and_scope_of_progress_updates(people, console_as):
    project = project_by_code("6.1")
    other = console_as(people["jiaoyu"])
    assert other.get(f"/console/projects/{project.id}/updates/new").status_code == 404
    assert other.post(f"/console/projects/{project.id}/updates", {"content": "x"}).status_code == 404
    office = console_as(people["office"])
    assert office.get(f"/console/projects/{project.id}/updates/new").status_code == 403

    unit = console_as(people["minzheng"])
    form = unit.get(f"/console/projects/{project.id}/updates/new").get_data(as_text=True)
    _submit(unit, project, {_metric_field(form, "南洲镇"): "1"})
    update = db.session.execute(db.select(ProgressUpdate)).scalar_one()
    assert unit.post(f"/console/updates/{update.id}/publish").status_code == 403
    assert other.get(f"/console/updates/{update.id}").status_code == 404
    db.session.refresh(update)
    assert update.status == "draft"


def test_the_form_shows_who_answers_for_each_metric(factories, console_as, plan):
    from app.extensions import db
    from app.projects.models import Project

    item = db.session.execute(db.select(Project).filter_by(code="1.2")).scalar_one()
    html = console_as(factories.staff("unit_staff", "县妇女联合会")).get(
        f"/console/projects/{item.id}/updates/new").get_data(as_text=True)
    assert html.count("负责：县妇女联合会") == 4 and html.count("负责：县教育局") == 1
    assert html.count('disabled title="由县教育局填报"') == 1 and "由县妇女联合会填报" not in html

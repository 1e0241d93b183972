"""What the fuzzer (tests/reliability/test_fuzz.py) found, each pinned by name."""
import io

from openpyxl import load_workbook

from app.auth import issue_token
from app.extensions import db
from app.feedback import service as feedback
from app.feedback.models import Complaint

TOO_BIG = 2**31  # one past the largest INTEGER on both backends
HUGE = 25756419210656132672893879864426233856  # the fuzzer's own


def bearer(kind, user):
    return {"Authorization": f"Bearer {issue_token(kind, user.id, getattr(user, 'token_version', 1))}"}


def test_an_id_filter_beyond_the_integer_range_is_422_not_500(client, county):
    """GET /api/v1/staff/complaints?project=<huge> reached the database driver, which raised (OverflowError on
    SQLite, NumericValueOutOfRange on PostgreSQL)."""
    office = bearer("staff", county.office)
    for query in (f"project={HUGE}", f"unit={TOO_BIG}", "project=0", "unit=-1"):
        response = client.get(f"/api/v1/staff/complaints?{query}", headers=office)
        assert response.status_code == 422, query
        assert set(response.json["errors"]) & {"project", "unit"}
    assert client.get(f"/api/v1/staff/complaints?project={TOO_BIG - 1}", headers=office).status_code == 200


def test_an_id_in_a_body_beyond_the_integer_range_is_422(client, county):
    resident = bearer("resident", county.resident)
    response = client.post("/api/v1/complaints", headers=resident,
                           json={"kind": "suggestion", "content": "建议增加助餐点", "project_id": HUGE})
    assert response.status_code == 422 and "project_id" in response.json["errors"]
    response = client.post("/api/v1/complaints", headers=resident,
                           json={"kind": "suggestion", "content": "建议增加助餐点", "image_ids": [TOO_BIG]})
    assert response.status_code == 422 and "image_ids" in response.json["errors"]
    assert db.session.execute(db.select(Complaint)).first() is None


def test_an_id_in_the_path_beyond_the_integer_range_is_404(client, county):
    office = bearer("staff", county.office)
    for path in (f"/api/v1/projects/{HUGE}", f"/api/v1/staff/complaints/{TOO_BIG}",
                 f"/api/v1/uploads/{TOO_BIG}", f"/api/v1/me/complaints/{HUGE}"):
        response = client.get(path, headers=office)
        assert response.status_code == 404 and response.json["code"] == 404, path


def test_a_unicode_digit_in_a_project_filter_is_no_500(client, county):
    """str.isdigit() is true of "²", which int() refuses: the category/unit filters raised ValueError."""
    for query in ("category=²", "unit=²", "category=١", f"unit={'9' * 16}"):
        response = client.get(f"/api/v1/projects?{query}")
        assert response.status_code == 200 and response.json["items"] == [], query


def test_the_console_queue_ignores_a_filter_no_id_can_match(app, county):
    from tests.console.conftest import Console

    console = Console(app.test_client())
    console.login(county.office.username)
    for query in ("project=²", f"project={HUGE}", f"unit={TOO_BIG}"):
        assert console.get(f"/console/?{query}").status_code == 200, query


def test_the_export_survives_control_characters_and_never_runs_a_formula(app, client, county):
    """A ticket whose text held a control character made the Excel export a 500 (openpyxl's
    IllegalCharacterError); a text starting with "=" would have been written as a live formula."""
    with app.test_request_context():
        feedback.submit_complaint(county.resident, "complaint", "=HYPERLINK(\"http://evil\")饭菜\x0b太咸\x01了",
                                  project_id=county.project.id)
    response = client.get("/api/v1/staff/exports/complaints.xlsx", headers=bearer("staff", county.office))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    contents = [cell.value for row in sheet.iter_rows(min_row=2) for cell in row if isinstance(cell.value, str)]
    text = next(v for v in contents if "HYPERLINK" in v)
    assert text == "=HYPERLINK(\"http://evil\")饭菜 太咸了"
    cell = next(cell for row in sheet.iter_rows(min_row=2) for cell in row if cell.value == text)
    assert cell.data_type == "s"

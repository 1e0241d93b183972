"""The one error format (app/errors.py): code, status, message and `errors` on every error, as API.md
promises (issue 21.10: 401 and 404 bodies had no `errors`)."""
from app.auth import issue_token

FORMAT = {"code", "status", "message", "errors", "request_id"}


def assert_error_format(response, status):
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == FORMAT, body
    assert body["code"] == status and isinstance(body["errors"], dict)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])
    return body


def test_401_404_405_and_409_carry_an_empty_errors_member(client, factories, plan):
    for response, status in (
        (client.get("/api/v1/me/complaints"), 401),
        (client.get("/api/v1/me/complaints", headers={"Authorization": "Bearer nonsense"}), 401),
        (client.get("/api/v1/projects/999999"), 404),
        (client.get("/api/v1/no-such-route"), 404),
        (client.put("/api/v1/projects"), 405),
    ):
        assert assert_error_format(response, status)["errors"] == {}, response.request.path
    resident = factories.resident()
    headers = {"Authorization": f"Bearer {issue_token('resident', resident.id, 1)}"}
    assert_error_format(client.get("/api/v1/me/complaints/999999", headers=headers), 404)


def test_field_errors_stay_under_errors(client):
    body = assert_error_format(client.post("/api/v1/staff/auth/login", json={"username": "x"}), 422)
    assert "password" in body["errors"]


def test_the_openapi_document_requires_every_member(client):
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Error"]
    assert {"code", "status", "message", "errors"} <= set(schema["required"])

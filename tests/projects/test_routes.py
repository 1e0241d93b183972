from tests.factories import auth


def test_projects_list_has_all_24_items(client, plan):
    response = client.get("/api/v1/projects?per_page=100")
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 24
    assert [p["code"] for p in body["items"]][:3] == ["1.1", "1.2", "2.1"]

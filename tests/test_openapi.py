"""The generated OpenAPI: every operation carries a unique operationId (client generators name functions by it)."""
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def test_every_operation_has_a_unique_operation_id(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    ids = [(path, method, operation.get("operationId"))
           for path, item in spec["paths"].items() for method, operation in item.items() if method in HTTP_METHODS]
    assert len(ids) > 40
    assert [(p, m) for p, m, i in ids if not i] == []
    seen = [i for _, _, i in ids]
    assert len(seen) == len(set(seen))
    by_path = {(p, m): i for p, m, i in ids}
    assert by_path[("/api/v1/me/complaints/{complaint_id}", "get")] == "get_feedback_MyComplaint"
    assert by_path[("/api/v1/uploads/{upload_id}", "get")] == "get_media_image"

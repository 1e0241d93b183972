"""Who may do what: every resident and staff endpoint × eight callers, the expected status written down as a
table. The world: resident A filed a ticket (with a photo and a phone number) on an item whose primary lead
unit is X; the item's second lead unit is the ticket's co-unit; Y is an unrelated unit. A stranger B, the
office and an administrator complete the callers. Each cell starts from a fresh world."""
import io

import pytest

from app.auth import issue_token
from app.extensions import db
from app.feedback import service as feedback
from app.media.models import Upload
from app.progress import service as progress
from tests.media.images import image_bytes

CALLERS = ("anon", "A", "B", "X", "Y", "co", "office", "admin")

# endpoint → (state the world is put in, method, path, body, expected status per caller in CALLERS order).
# Paths name the world's rows: {C} the ticket, {P} its item, {D} a draft update of X, {T} a rectification task
# of X, {M} another ticket (merge target), {photo} A's photo on the ticket, {reply_photo} X's photo on its
# reply, {draft_photo} X's photo on its draft, {pub_photo} a published update's photo.
def resident_row(a, b):
    # A staff token is no resident token: 401, like no token at all.
    return (401, a, b, 401, 401, 401, 401, 401)


def staff_row(x, y, co, office, admin):
    return (401, 401, 401, x, y, co, office, admin)


TABLE = {
    # ---------------------------------------------------------------- resident (mini-program)
    "my complaints": ("assigned", "GET", "/api/v1/me/complaints", None, resident_row(200, 200)),
    "my complaint": ("assigned", "GET", "/api/v1/me/complaints/{C}", None, resident_row(200, 404)),
    "evaluate": ("replied", "POST", "/api/v1/me/complaints/{C}/evaluation", {"level": 4, "resolved": True},
                 resident_row(200, 404)),
    "reopen": ("replied", "POST", "/api/v1/me/complaints/{C}/reopen", {"reason": "问题仍未解决，请再处理"},
               resident_row(200, 404)),
    "submit": ("assigned", "POST", "/api/v1/complaints",
               {"kind": "suggestion", "content": "建议在助餐点增加无糖餐品"}, resident_row(201, 201)),
    "get rating": ("rated", "GET", "/api/v1/projects/{P}/rating", None, resident_row(200, 404)),
    "rate": ("assigned", "PUT", "/api/v1/projects/{P}/rating", {"level": 5}, resident_row(200, 200)),
    "subscribe": ("assigned", "POST", "/api/v1/projects/{P}/subscriptions", {"template_ids": []},
                  resident_row(200, 200)),
    "unsubscribe": ("assigned", "DELETE", "/api/v1/projects/{P}/subscriptions", None, resident_row(204, 204)),
    "my subscriptions": ("assigned", "GET", "/api/v1/me/subscriptions", None, resident_row(200, 200)),
    "bind phone": ("assigned", "POST", "/api/v1/me/phone", {"code": "phone1"}, resident_row(200, 200)),
    "my data export": ("assigned", "GET", "/api/v1/me/export", None, resident_row(200, 200)),
    "erase me (注销)": ("assigned", "DELETE", "/api/v1/me", None, resident_row(204, 204)),
    "upload": ("assigned", "POST", "/api/v1/uploads", "FILE", (401, 201, 201, 201, 201, 201, 201, 201)),
    # ---------------------------------------------------------------- images (GET /api/v1/uploads/{id})
    "ticket photo": ("assigned", "GET", "/api/v1/uploads/{photo}", None, (404, 200, 404, 200, 404, 200, 200, 200)),
    "blocked ticket photo": ("blocked", "GET", "/api/v1/uploads/{photo}", None,
                             (404, 404, 404, 404, 404, 404, 200, 200)),
    "reply photo": ("replied", "GET", "/api/v1/uploads/{reply_photo}", None,
                    (404, 200, 404, 200, 404, 200, 200, 200)),
    "draft photo": ("draft", "GET", "/api/v1/uploads/{draft_photo}", None, (404, 404, 404, 200, 404, 404, 200, 200)),
    "published photo": ("published", "GET", "/api/v1/uploads/{pub_photo}", None, (200,) * 8),
    # ---------------------------------------------------------------- audit log: the auditor's alone (三员分立),
    # not even the administrator's (tests/accounts/test_audit.py has the auditor reading it)
    "audit log": ("assigned", "GET", "/api/v1/staff/audit", None, staff_row(403, 403, 403, 403, 403)),
    "audit export": ("assigned", "GET", "/api/v1/staff/audit.xlsx", None, staff_row(403, 403, 403, 403, 403)),
    # ---------------------------------------------------------------- staff: complaints
    "queue": ("assigned", "GET", "/api/v1/staff/complaints", None, staff_row(200, 200, 200, 200, 200)),
    "ticket": ("assigned", "GET", "/api/v1/staff/complaints/{C}", None, staff_row(200, 404, 200, 200, 200)),
    "reveal contact": ("assigned", "POST", "/api/v1/staff/complaints/{C}/reveal-contact", {"reason": "需电话核实"},
                       staff_row(200, 404, 403, 200, 200)),
    "sign": ("assigned", "POST", "/api/v1/staff/complaints/{C}/sign", None, staff_row(200, 404, 403, 403, 403)),
    "reply": ("signed", "POST", "/api/v1/staff/complaints/{C}/reply", {"content": "已安排专人处理，本周内整改完毕"},
              staff_row(200, 404, 403, 403, 403)),
    "return": ("assigned", "POST", "/api/v1/staff/complaints/{C}/return", {"reason": "不属于本单位职责"},
               staff_row(200, 404, 403, 403, 403)),
    "extension": ("signed", "POST", "/api/v1/staff/complaints/{C}/extension",
                  {"working_days": 3, "reason": "需要协调多个部门"}, staff_row(200, 404, 403, 403, 403)),
    "assign": ("assigned", "POST", "/api/v1/staff/complaints/{C}/assign", {"unit_id": "{Y_unit}"},
               staff_row(403, 403, 403, 200, 200)),
    "extension decision": ("extension", "POST", "/api/v1/staff/complaints/{C}/extension/decision",
                           {"approve": True}, staff_row(403, 403, 403, 200, 200)),
    "urge": ("assigned", "POST", "/api/v1/staff/complaints/{C}/urge", {"note": "请尽快办理"},
             staff_row(403, 403, 403, 200, 200)),
    "merge": ("assigned", "POST", "/api/v1/staff/complaints/{M}/merge", {"into_id": "{C}"},
              staff_row(403, 403, 403, 200, 200)),
    "rectifications": ("assigned", "GET", "/api/v1/staff/rectifications", None, staff_row(200, 200, 200, 200, 200)),
    "answer rectification": ("rectification", "POST", "/api/v1/staff/rectifications/{T}/answer",
                             {"result": "已约谈助餐点负责人并整改菜品"}, staff_row(200, 404, 404, 403, 403)),
    "overdue list": ("assigned", "GET", "/api/v1/staff/overdue", None, staff_row(200, 200, 200, 200, 200)),
    "stats": ("assigned", "GET", "/api/v1/staff/stats", None, staff_row(200, 200, 200, 200, 200)),
    "export": ("assigned", "GET", "/api/v1/staff/exports/complaints.xlsx", None, staff_row(200, 200, 200, 200, 200)),
    # ---------------------------------------------------------------- staff: progress updates
    "draft update": ("assigned", "POST", "/api/v1/staff/projects/{P}/updates", {"content": "助餐点已开工建设"},
                     staff_row(201, 404, 201, 403, 403)),
    "updates": ("assigned", "GET", "/api/v1/staff/updates", None, staff_row(200, 200, 200, 200, 200)),
    "update": ("draft", "GET", "/api/v1/staff/updates/{D}", None, staff_row(200, 404, 404, 200, 200)),
    "edit update": ("draft", "PATCH", "/api/v1/staff/updates/{D}", {"content": "助餐点主体完工"},
                    staff_row(200, 404, 404, 200, 200)),
    "reject update": ("draft", "POST", "/api/v1/staff/updates/{D}/reject", {"reason": "请补充现场照片"},
                      staff_row(403, 403, 403, 200, 200)),
    "publish update": ("draft", "POST", "/api/v1/staff/updates/{D}/publish", None,
                       staff_row(403, 403, 403, 200, 200)),
    "stale projects": ("assigned", "GET", "/api/v1/staff/stale-projects", None, staff_row(200, 200, 200, 200, 200)),
}


def _upload(client, token, name):
    response = client.post("/api/v1/uploads", data={"file": (io.BytesIO(image_bytes(color=name)), "p.jpg")},
                           headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    return response.json["id"]


def build(app, client, county, state):
    """The world in `state`; returns (tokens by caller, path values)."""
    c = county
    db.session.commit()
    tokens = {"anon": None, "A": issue_token("resident", c.resident.id),
              "B": issue_token("resident", c.stranger.id)}
    for name, user in (("X", c.lead), ("Y", c.other), ("co", c.co), ("office", c.office), ("admin", c.admin)):
        tokens[name] = issue_token("staff", user.id, user.token_version)
    values = {"P": c.project.id, "Y_unit": c.other_unit.id}
    values["photo"] = _upload(client, tokens["A"], "blue")
    with app.test_request_context():
        ticket, _ = feedback.submit_complaint(c.resident, "complaint", "助餐点饭菜太咸了，希望改进。",
                                              project_id=c.project.id, image_ids=[values["photo"]],
                                              phone="13800001111")
        values["C"] = ticket["id"]
        if state == "blocked":
            db.session.get(Upload, values["photo"]).check_status = "blocked"
            db.session.commit()
        if state in ("signed", "replied", "extension"):
            feedback.sign(values["C"], c.lead)
        if state == "replied":
            values["reply_photo"] = _upload(client, tokens["X"], "green")
            feedback.reply(values["C"], c.lead, "已要求助餐点减少用盐。", image_ids=[values["reply_photo"]])
        if state == "extension":
            feedback.request_extension(values["C"], c.lead, 3, "需要协调多个部门")
        if state in ("draft", "published"):
            values["draft_photo"] = values["pub_photo"] = _upload(client, tokens["X"], "yellow")
            values["D"] = progress.create_draft(c.project.id, c.lead, "助餐点已开工",
                                                image_ids=[values["draft_photo"]])["id"]
        if state == "published":
            progress.publish(values["D"], c.office)
        if state == "rated":
            feedback.rate_project(c.resident, c.project.id, 5)
        if state == "rectification":
            feedback.rate_project(c.stranger, c.project.id, 1, "饭菜太咸，老人吃不了")
            values["T"] = feedback.list_rectifications(c.office, {}, 1, 10)["items"][0]["id"]
        other, _ = feedback.submit_complaint(c.stranger, "complaint", "另一处助餐点也太咸了，请处理。",
                                             project_id=c.project.id)
        values["M"] = other["id"]
    return tokens, values


def _fill(value, values):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return values[value[1:-1]]
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def _cells():
    """(endpoint, callers) groups sharing one world: every caller of a read, and every refused caller of a
    write (a refusal must leave the world as it was); each caller a write lets in gets a world of its own."""
    cells = []
    for name, (_, method, _, _, expected) in TABLE.items():
        callers = list(CALLERS)
        if method == "GET":
            cells.append((name, tuple(callers)))
            continue
        cells.append((name, tuple(c for c in callers if expected[CALLERS.index(c)] >= 400)))
        cells.extend((name, (c,)) for c in callers if expected[CALLERS.index(c)] < 400)
    return cells


CELLS = _cells()


@pytest.mark.parametrize("endpoint, callers", CELLS, ids=[f"{e}-{'+'.join(c)}" for e, c in CELLS])
def test_authorization_matrix(app, client, county, endpoint, callers):
    state, method, path, body, expected = TABLE[endpoint]
    tokens, values = build(app, client, county, state)
    wrong = []
    for caller in callers:
        headers = {"Authorization": f"Bearer {tokens[caller]}"} if tokens[caller] else {}
        if body == "FILE":
            kwargs = {"data": {"file": (io.BytesIO(image_bytes(color="white")), "x.jpg")},
                      "content_type": "multipart/form-data"}
        else:
            kwargs = {"json": _fill(body, values)} if body is not None else {}
        response = client.open(_fill(path, values), method=method, headers=headers, **kwargs)
        want = expected[CALLERS.index(caller)]
        if response.status_code != want:
            wrong.append((caller, want, response.status_code, response.get_data(as_text=True)[:200]))
        elif response.status_code >= 400 and response.mimetype == "application/json":
            assert response.json["code"] == want and response.json["message"]
    assert not wrong, wrong


def test_each_unit_lists_only_the_tickets_it_handles(app, client, county):
    tokens, values = build(app, client, county, "assigned")

    def listed(caller):
        response = client.get("/api/v1/staff/complaints", headers={"Authorization": f"Bearer {tokens[caller]}"})
        return {item["id"] for item in response.json["items"]}

    both = {values["C"], values["M"]}
    assert listed("X") == both and listed("co") == both and listed("office") == both
    assert listed("Y") == set()


def test_the_console_serves_images_by_the_same_rule(app, client, county):
    from tests.console.conftest import Console

    tokens, values = build(app, client, county, "assigned")
    seen = {}
    for caller, user in (("X", county.lead), ("Y", county.other), ("co", county.co), ("office", county.office)):
        console = Console(app.test_client())
        console.login(user.username)
        seen[caller] = console.get(f"/console/uploads/{values['photo']}").status_code
    assert seen == {"X": 200, "Y": 404, "co": 200, "office": 200}

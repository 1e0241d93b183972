"""deploy/'s nginx site, rendered by `flask deploy nginx`, running in Debian's nginx in front of gunicorn on loopback.

The intranet is 127.0.0.1 and 127.0.0.3; a client on 127.0.0.2 is outside it. nginx talks to gunicorn from
127.0.0.1, so an address other than that in an audit row can only have come through X-Forwarded-For.
"""
import json
import uuid

import pytest
from click.testing import CliRunner

from app.accounts.models import AuditLog
from app.errors import MESSAGES, error_body
from app.extensions import db
from app.ops.deploy import OUTSIDE_INTRANET, DeployError, render_nginx
from tests import factories
from tests.ops.servers import Gunicorn, Nginx, app_env, free_port, https, make_certificate, nginx_missing, wait_until

INTRANET = ("127.0.0.1/32", "127.0.0.3/32", "127.0.0.5/32", "127.0.0.7/32")
INSIDE, OUTSIDE = "127.0.0.3", "127.0.0.2"
# Login throttling is per client address: the tests of it use addresses of their own (.5 and .7 inside, .6 outside)
# so that the other tests' logins never meet a limit.
THROTTLED_INSIDE, THROTTLED_OUTSIDE = "127.0.0.5", "127.0.0.6"

needs_nginx = pytest.mark.skipif(nginx_missing() is not None, reason=nginx_missing() or "")


@pytest.fixture(scope="module")
def front(app, _wechat_double, tmp_path_factory):
    """gunicorn (2 workers, TRUSTED_PROXIES=1) behind nginx; yields (gunicorn, nginx, certificate)."""
    directory = tmp_path_factory.mktemp("front")
    cert, key = make_certificate(directory)
    gunicorn = Gunicorn(directory, app_env(app, TRUSTED_PROXIES=1)).start()
    https_port = free_port()
    site = render_nginx(app.config, server_name="localhost", cert=cert, key=key, upstreams=[gunicorn.address],
                        intranet=INTRANET, https_listen=f"127.0.0.1:{https_port}",
                        http_listen=f"127.0.0.1:{free_port()}", access_log=directory / "access.log")
    nginx = Nginx(directory, site, https_port)
    try:
        nginx.start()
        yield gunicorn, nginx, cert
    finally:
        nginx.stop()
        gunicorn.stop()


def _call(front, method, path, source=INSIDE, **kwargs):
    _, nginx, cert = front
    return https(nginx.https_port, method, path, source=source, cafile=cert, **kwargs)


def _audit(action):
    db.session.expire_all()
    return db.session.execute(db.select(AuditLog).filter_by(action=action)).scalars().all()


def _request_id():
    return f"test-{uuid.uuid4().hex}"


def _reached_app(front, request_id):
    """Whether gunicorn's log has the app's JSON line for this request id (written as the response closes, so
    just after the client has it: waited for)."""
    try:
        wait_until(lambda: any(request_id in line and '"request"' in line for line in front[0].log().splitlines()),
                   5, "the app's log line")
    except TimeoutError:
        return False
    return True


def _answered_by_nginx(front, request_id):
    """nginx's access line for the request shows it never contacted gunicorn (no upstream time)."""
    path = front[1].directory / "access.log"

    def line():
        found = [json.loads(x) for x in path.read_text().splitlines() if request_id in x]
        return found[0] if found else None

    wait_until(line, 5, "nginx's access line")
    return line()["upstream_duration"] in ("", "-")  # escape=json writes an unset variable as ""


def _nginx_error(answer, status, message, request_id):
    """The answer is nginx's own, in the app's error format, carrying the request id."""
    assert answer.status == status, answer.body
    assert answer.headers["Content-Type"].startswith("application/json")
    # Exactly what the app's own error handler would have answered.
    assert answer.json() == dict(error_body(status, message), request_id=request_id)
    assert answer.headers["X-Request-ID"] == request_id


@needs_nginx
@pytest.mark.nginx
def test_audit_rows_record_the_address_nginx_saw_not_the_proxy_nor_a_claimed_one(front):
    office = factories.staff("office")
    answer = _call(front, "POST", "/api/v1/staff/auth/login", body={"username": office.username,
                                                                   "password": factories.PASSWORD},
                   headers={"X-Forwarded-For": "203.0.113.66"})
    assert answer.status == 200, answer.body
    assert [row.ip for row in _audit("staff.login")] == [INSIDE]


@needs_nginx
@pytest.mark.nginx
def test_a_resident_outside_the_intranet_signs_in_and_is_recorded_with_their_address(front, wechat):
    answer = _call(front, "POST", "/api/v1/auth/wechat/login", source=OUTSIDE, body={"code": "code-from-outside"})
    assert answer.status == 200, answer.body
    assert [row.ip for row in _audit("resident.register")] == [OUTSIDE]
    # The app's JSON line for it carries nginx's request id and the same address.
    gunicorn = front[0]
    request_id = answer.headers["X-Request-ID"]
    assert _reached_app(front, request_id)  # the line is written as the response closes: waited for
    lines = [json.loads(line) for line in gunicorn.log().splitlines() if request_id in line and '"request"' in line]
    assert [(e["route"], e["status"], e["client"]) for e in lines if e.get("event") == "request"] == [
        ("/api/v1/auth/wechat/login", 200, OUTSIDE)]


@needs_nginx
@pytest.mark.nginx
def test_an_oversize_upload_is_refused_by_nginx_with_the_projects_413_body(front, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    request_id = _request_id()
    boundary = "minsheng-test"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()
    body = head + b"\xff" * (limit + 1 - len(head))
    assert len(body) == limit + 1
    answer = _call(front, "POST", "/api/v1/uploads", source=OUTSIDE, body=body,
                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Request-ID": request_id})
    _nginx_error(answer, 413, MESSAGES[413], request_id)
    assert _answered_by_nginx(front, request_id)
    # At the limit the body passes nginx and is the app's to judge.
    request_id = _request_id()
    _call(front, "POST", "/api/v1/uploads", source=OUTSIDE, body=body[:-1],
          headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Request-ID": request_id})
    assert _reached_app(front, request_id)


@needs_nginx
@pytest.mark.nginx
@pytest.mark.parametrize("path", ["/api/v1/staff/complaints", "/api/v1/staff/auth/login", "/console/",
                                  "/console/login", "/api/v1/docs", "/api/v1/openapi.json", "/metrics", "/readyz"])
def test_staff_paths_from_outside_the_intranet_are_refused_by_nginx(front, path):
    request_id = _request_id()
    answer = _call(front, "GET", path, source=OUTSIDE, headers={"X-Request-ID": request_id})
    _nginx_error(answer, 403, OUTSIDE_INTRANET, request_id)
    assert _answered_by_nginx(front, request_id)
    # The same path from inside reaches the app (whatever it answers, it is not nginx's refusal).
    request_id = _request_id()
    inside = _call(front, "GET", path, source=INSIDE, headers={"X-Request-ID": request_id})
    assert _reached_app(front, request_id), (path, inside.status)


@needs_nginx
@pytest.mark.nginx
def test_the_wechat_callback_and_public_reads_are_open_from_outside(front):
    for path in ["/wechat/callback", "/api/v1/projects", "/healthz"]:
        request_id = _request_id()
        answer = _call(front, "GET", path, source=OUTSIDE, headers={"X-Request-ID": request_id})
        assert _reached_app(front, request_id), (path, answer.status)
        assert not _answered_by_nginx(front, request_id)


def _burst(front, path, source, count, body):
    answers = []
    for n in range(count):
        request_id = _request_id()
        # A name of its own each time: the app's own lock-out after 5 failures per account must not answer first.
        named = dict(body, username=f"{body['username']}{n}") if "username" in body else body
        answers.append((request_id, _call(front, "POST", path, source=source, body=named,
                                          headers={"X-Request-ID": request_id})))
    return answers


@needs_nginx
@pytest.mark.nginx
@pytest.mark.parametrize("path, source, burst, body", [
    ("/api/v1/staff/auth/login", THROTTLED_INSIDE, 5, {"username": "nobody", "password": "wrong-password"}),
    ("/api/v1/auth/wechat/login", THROTTLED_OUTSIDE, 20, {}),
    ("/console/login", "127.0.0.7", 5, {"username": "nobody", "password": "wrong-password"}),
])
def test_logins_are_throttled_per_address_by_nginx_before_the_app(front, path, source, burst, body):
    # burst + 1 back-to-back logins pass (the rate refills one per 6 s or 1 s, far slower than these requests
    # arrive, so at most a couple more slip through); everything past that is nginx's 429.
    answers = _burst(front, path, source, burst + 6, body)
    passed = [a for _, a in answers[:burst + 1]]
    assert all(a.status != 429 for a in passed), [a.status for a in passed]
    refused = [(rid, a) for rid, a in answers[burst + 1:] if a.status == 429]
    assert len(refused) >= 3, [a.status for _, a in answers]
    for request_id, answer in refused:
        _nginx_error(answer, 429, MESSAGES[429], request_id)
        assert answer.headers["Retry-After"] == "60"
        assert _answered_by_nginx(front, request_id)
    # Another address is not held back by this one's throttle.
    assert _call(front, "POST", path, source=INSIDE if source == THROTTLED_OUTSIDE else "127.0.0.1",
                 body=body).status != 429


def test_render_refuses_what_would_break_or_widen_the_site(app):
    common = dict(server_name="localhost", cert="/etc/ssl/c.pem", key="/etc/ssl/k.pem")
    with pytest.raises(DeployError, match="内网地址段无效"):
        render_nginx(app.config, intranet=["10.0.0.0/8", "everyone"], **common)
    with pytest.raises(DeployError, match="不允许的字符"):
        render_nginx(app.config, **dict(common, cert="/etc/ssl/c.pem; return 200"))
    with pytest.raises(DeployError, match="端口"):
        render_nginx(app.config, https_listen="127.0.0.1:https", **common)


def test_cli_renders_the_site_with_the_apps_body_limit(app):
    result = CliRunner().invoke(app.cli, ["deploy", "nginx", "--server-name", "minsheng.example.gov.cn",
                                          "--cert", "/etc/ssl/minsheng.pem", "--key", "/etc/ssl/minsheng.key",
                                          "--intranet", "10.0.0.0/8,192.168.1.0/24"])
    assert result.exit_code == 0, result.output
    assert f"client_max_body_size {app.config['MAX_CONTENT_LENGTH']};" in result.output
    assert "    10.0.0.0/8 1;\n    192.168.1.0/24 1;\n" in result.output
    assert "{{" not in result.output

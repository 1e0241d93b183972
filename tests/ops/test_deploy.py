"""deploy/'s nginx site, rendered by `flask deploy nginx`, running in Debian's nginx in front of gunicorn on loopback.

The intranet is 127.0.0.1 and 127.0.0.3; a client on 127.0.0.2 is outside it. nginx talks to gunicorn from
127.0.0.1, so an address other than that in an audit row can only have come through X-Forwarded-For.
"""
import json

import pytest
from click.testing import CliRunner

from app.accounts.models import AuditLog
from app.extensions import db
from app.ops.deploy import DeployError, render_nginx
from tests import factories
from tests.ops.servers import Gunicorn, Nginx, app_env, free_port, https, make_certificate, nginx_missing

INTRANET = ("127.0.0.1/32", "127.0.0.3/32")
INSIDE, OUTSIDE = "127.0.0.3", "127.0.0.2"

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
    lines = [json.loads(line) for line in gunicorn.log().splitlines() if request_id in line and '"request"' in line]
    assert [(e["route"], e["status"], e["client"]) for e in lines if e.get("event") == "request"] == [
        ("/api/v1/auth/wechat/login", 200, OUTSIDE)]


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

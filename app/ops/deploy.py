"""The nginx site of deploy/, rendered from the app's own settings: `flask --app wsgi deploy nginx …`.

Rendered rather than copied so that what nginx refuses matches what the app refuses: the body limit is the
app's MAX_CONTENT_LENGTH, and the errors nginx answers itself (403 outside the intranet, 413, 429, 502–504)
carry the app's error body, with nginx's request id in it.
"""
import ipaddress
import json
import re

import click
from flask import current_app
from flask.cli import with_appcontext

from app.errors import MESSAGES, error_body

TEMPLATE = "deploy/nginx/minsheng.conf.template"
DEFAULT_INTRANET = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
OUTSIDE_INTRANET = "仅限政务内网访问。"
_PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")
# What may go into a directive's argument unquoted: no whitespace, quotes, braces or semicolons.
_WORD = re.compile(r"^[^\s;{}'\"#]+$")
_RATE = re.compile(r"^\d+r/[sm]$")


class DeployError(ValueError):
    pass


def _word(name, value):
    value = str(value)
    if not _WORD.match(value):
        raise DeployError(f"{name} 含有不允许的字符：{value!r}")
    return value


def _listen(name, value):
    """A port, or address:port."""
    value = _word(name, value)
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise DeployError(f"{name} 应为 端口 或 地址:端口：{value!r}")
    return value, int(port)


def _networks(ranges):
    networks = []
    for item in ranges:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise DeployError(f"内网地址段无效：{item!r}") from None
    if not networks:
        raise DeployError("至少需要一个内网地址段。")
    return networks


def _nginx_json(status, message):
    """The app's error body for `status` as an nginx single-quoted string, with nginx's request id in it."""
    body = dict(error_body(status, message), request_id="$minsheng_request_id")
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\\", "\\\\").replace("'", "\\'")


def render_nginx(config, *, server_name, cert, key, upstreams=("127.0.0.1:8000",), intranet=DEFAULT_INTRANET,
                 https_listen="443", http_listen="80", access_log="/var/log/nginx/minsheng-access.log",
                 staff_login_rate="10r/m", staff_login_burst=5, resident_login_rate="60r/m",
                 resident_login_burst=20, template=None):
    """The site configuration as text; `config` is the app's (its MAX_CONTENT_LENGTH sets the body limit)."""
    from config import ROOT

    https_listen, https_port = _listen("--https-listen", https_listen)
    http_listen, _ = _listen("--http-listen", http_listen)
    for name, rate in (("staff login rate", staff_login_rate), ("resident login rate", resident_login_rate)):
        if not _RATE.match(str(rate)):
            raise DeployError(f"{name} 应形如 10r/m：{rate!r}")
    if not upstreams:
        raise DeployError("至少需要一个上游（gunicorn 地址）。")
    values = {
        "SERVER_NAME": " ".join(_word("--server-name", n) for n in str(server_name).split()),
        "TLS_CERT": _word("--cert", cert),
        "TLS_KEY": _word("--key", key),
        "UPSTREAM_SERVERS": "\n".join(f"    server {_word('--upstream', u)};" for u in upstreams),
        "INTRANET_RANGES": "\n".join(f"    {net} 1;" for net in _networks(intranet)),
        "HTTPS_LISTEN": https_listen,
        "HTTP_LISTEN": http_listen,
        "HTTPS_PORT_SUFFIX": "" if https_port == 443 else f":{https_port}",
        "ACCESS_LOG": _word("--access-log", access_log),
        "CLIENT_MAX_BODY_SIZE": str(int(config["MAX_CONTENT_LENGTH"])),
        "STAFF_LOGIN_RATE": staff_login_rate,
        "STAFF_LOGIN_BURST": str(int(staff_login_burst)),
        "RESIDENT_LOGIN_RATE": resident_login_rate,
        "RESIDENT_LOGIN_BURST": str(int(resident_login_burst)),
        "BODY_403": _nginx_json(403, OUTSIDE_INTRANET),
        "BODY_413": _nginx_json(413, MESSAGES[413]),
        "BODY_429": _nginx_json(429, MESSAGES[429]),
        "BODY_503": _nginx_json(503, MESSAGES[503]),
    }
    text = (template or (ROOT / TEMPLATE).read_text(encoding="utf-8"))
    missing = sorted(set(_PLACEHOLDER.findall(text)) - set(values))
    if missing:
        raise DeployError(f"模板中有未知的占位符：{', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


@click.group("deploy", help="部署配置（nginx 站点）")
def deploy_group():
    pass


@deploy_group.command("nginx", help="按本应用的配置生成 nginx 站点配置，输出到标准输出")
@click.option("--server-name", required=True, help="域名，如 minsheng.example.gov.cn")
@click.option("--cert", required=True, help="TLS 证书（含中间证书）路径")
@click.option("--key", required=True, help="TLS 私钥路径")
@click.option("--upstream", "upstreams", multiple=True, default=["127.0.0.1:8000"], show_default=True,
              help="gunicorn 地址，可多次给出")
@click.option("--intranet", default=",".join(DEFAULT_INTRANET), show_default=True,
              help="政务内网地址段，逗号分隔：控制台、工作人员接口、接口文档、/metrics 只对它们开放")
@click.option("--https-listen", default="443", show_default=True)
@click.option("--http-listen", default="80", show_default=True)
@click.option("--access-log", default="/var/log/nginx/minsheng-access.log", show_default=True)
@click.option("--staff-login-rate", default="10r/m", show_default=True, help="每个地址的工作人员登录速率")
@click.option("--resident-login-rate", default="60r/m", show_default=True, help="每个地址的居民登录速率")
@with_appcontext
def deploy_nginx(server_name, cert, key, upstreams, intranet, https_listen, http_listen, access_log,
                 staff_login_rate, resident_login_rate):
    try:
        text = render_nginx(current_app.config, server_name=server_name, cert=cert, key=key, upstreams=upstreams,
                            intranet=[r for r in intranet.split(",") if r.strip()], https_listen=https_listen,
                            http_listen=http_listen, access_log=access_log, staff_login_rate=staff_login_rate,
                            resident_login_rate=resident_login_rate)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(text, nl=False)


def init_app(app):
    app.cli.add_command(deploy_group)

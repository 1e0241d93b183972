"""The production front on loopback for tests: gunicorn with config/gunicorn.conf.py serving the test database,
and Debian's nginx with a site rendered from deploy/ in front of it (TLS with a certificate made here)."""
import datetime
import http.client
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.reliability.services import free_port, wait_for

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_missing():
    """Why the nginx tests cannot run here, or None."""
    if not os.path.exists(NGINX):
        return "Debian's nginx is not installed (apt-get install nginx)"
    return None


def _listening(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Process:
    """A child in a process group of its own, its output in a log file; stopped with everything it started."""

    def __init__(self, args, env, log_path):
        self.args, self.env, self.log_path = args, env, Path(log_path)
        self.popen = None

    def start(self):
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    def send(self, sig):
        os.killpg(self.popen.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.send(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.send(signal.SIGKILL)
                self.popen.wait(10)
        self.popen = None
        self._log.close()

    def log(self):
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


def app_env(app, **overrides):
    """The environment of a server process that serves the test app's database, Redis and uploads."""
    config = app.config
    env = dict(os.environ)
    env.update(
        APP_ENV="testing",
        TEST_DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
        TEST_REDIS_URL=config["REDIS_URL"],
        REDIS_KEY_PREFIX=config["REDIS_KEY_PREFIX"],
        RQ_QUEUE=config["RQ_QUEUE"],
        UPLOAD_DIR=config["UPLOAD_DIR"],
        PLAN_FILE=config["PLAN_FILE"],
        WECHAT_API_BASE=config["WECHAT_API_BASE"],
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class Gunicorn(Process):
    """`gunicorn -c config/gunicorn.conf.py wsgi:app` on a free loopback port."""

    def __init__(self, directory, env, workers=2):
        self.port = free_port()
        env = dict(env, GUNICORN_BIND=f"127.0.0.1:{self.port}", GUNICORN_WORKERS=str(workers))
        super().__init__([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"], env,
                         Path(directory) / f"gunicorn-{self.port}.log")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self, timeout=60):
        super().start()

        def up():
            if not self.running():
                raise RuntimeError(f"gunicorn exited:\n{self.log()[-3000:]}")
            return _listening(self.port)

        wait_for(up, timeout, "gunicorn listening")
        return self

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            return Answer(conn.getresponse())
        finally:
            conn.close()


class Answer:
    def __init__(self, response):
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    def json(self):
        return json.loads(self.body)

    def text(self):
        return self.body.decode()


def make_certificate(directory, host="127.0.0.1"):
    """A self-signed certificate for `host` (and localhost): (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


_MAIN_CONF = """\
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/minsheng.conf;
}}
"""


class Nginx(Process):
    """Debian's nginx running `site` (the rendered deploy/ template) inside a minimal nginx.conf of its own."""

    def __init__(self, directory, site, https_port):
        self.directory = Path(directory)
        self.https_port = https_port
        (self.directory / "minsheng.conf").write_text(site, encoding="utf-8")
        # As root the workers would switch to `nobody`, who cannot read pytest's private temporary directory.
        user = "user root;" if os.geteuid() == 0 else ""
        (self.directory / "nginx.conf").write_text(_MAIN_CONF.format(user=user, dir=self.directory),
                                                   encoding="utf-8")
        base = [NGINX, "-p", str(self.directory), "-e", str(self.directory / "error.log"),
                "-c", str(self.directory / "nginx.conf")]
        self.check_args = base + ["-t"]
        super().__init__(base + ["-g", "daemon off;"], dict(os.environ), self.directory / "nginx.out")

    def start(self, timeout=30):
        checked = subprocess.run(self.check_args, capture_output=True, text=True, timeout=30)
        if checked.returncode:
            raise RuntimeError(f"nginx -t refused the configuration:\n{checked.stderr}")
        super().start()
        wait_for(lambda: _listening(self.https_port), timeout, "nginx listening")
        return self

    def stop(self, sig=signal.SIGQUIT, timeout=30):
        super().stop(sig, timeout)

    def error_log(self):
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def https(port, method, path, *, source="127.0.0.1", cafile, body=None, headers=None):
    """One request over TLS to nginx on 127.0.0.1:port, from the loopback address `source`."""
    context = ssl.create_default_context(cafile=str(cafile))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, source_address=(source, 0),
                                       timeout=30)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers = {"Content-Type": "application/json", **(headers or {})}
    try:
        conn.request(method, path, body=body, headers=headers or {})
        return Answer(conn.getresponse())
    finally:
        conn.close()


def wait_until(check, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not reached within {timeout} s")

"""deploy/systemd's units and deploy/logrotate's file, checked by the tools that will read them.

The units name /opt/minsheng as the release; here it is this checkout (which has .venv/bin/gunicorn and flask),
so that `systemd-analyze verify` can check the commands exist too.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SYSTEMD = ROOT / "deploy" / "systemd"
LOGROTATE = ROOT / "deploy" / "logrotate" / "minsheng"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
LOGROTATE_BIN = shutil.which("logrotate") or ("/usr/sbin/logrotate" if Path("/usr/sbin/logrotate").exists() else None)


def _installed(tmp_path, name, instance=None):
    text = (SYSTEMD / name).read_text(encoding="utf-8").replace("/opt/minsheng", str(ROOT))
    target = tmp_path / (name.replace("@.", f"@{instance}.") if instance else name)
    target.write_text(text, encoding="utf-8")
    return target


def _verify(unit):
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # verify exits 0 on a directive it ignores (a misspelt signal, an unknown key) but says so on stderr.
    return result.returncode, [line for line in result.stderr.splitlines() if line.strip()]


def _settings(name):
    pairs = [line.split("=", 1) for line in (SYSTEMD / name).read_text(encoding="utf-8").splitlines()
             if "=" in line and not line.startswith("#")]
    return {k: v for k, v in pairs}


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name, instance", [("minsheng-web.service", None), ("minsheng-worker@.service", "1")])
def test_systemd_accepts_the_units_without_a_warning(tmp_path, name, instance):
    assert _verify(_installed(tmp_path, name, instance)) == (0, [])


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_the_verification_would_catch_a_broken_unit(tmp_path):
    unit = _installed(tmp_path, "minsheng-worker@.service", "1")
    unit.write_text(unit.read_text(encoding="utf-8").replace("KillSignal=SIGTERM", "KillSignal=SIGTERMINATE"))
    code, warnings = _verify(unit)
    assert any("SIGTERMINATE" in line for line in warnings), (code, warnings)


def test_the_units_run_what_the_readme_runs_with_the_metrics_directory_gunicorn_expects():
    web, worker = _settings("minsheng-web.service"), _settings("minsheng-worker@.service")
    assert web["ExecStart"] == "/opt/minsheng/.venv/bin/gunicorn -c config/gunicorn.conf.py wsgi:app"
    assert worker["ExecStart"] == "/opt/minsheng/.venv/bin/flask --app wsgi worker"
    # /run/minsheng is the web unit's alone: a worker stopping must not remove the live metrics files.
    assert web["RuntimeDirectory"] == "minsheng" and "RuntimeDirectory" not in worker
    assert web["Environment"] == "PROMETHEUS_MULTIPROC_DIR=/run/minsheng/metrics"
    # Each unit's log file is one the logrotate file rotates.
    assert web["StandardOutput"] == "append:/var/log/minsheng/web.log"
    assert worker["StandardOutput"] == "append:/var/log/minsheng/worker-%i.log"
    assert "/var/log/minsheng/*.log {" in LOGROTATE.read_text(encoding="utf-8")
    # gunicorn's graceful_timeout (30 s) fits in the stop timeout; a worker's warm shutdown gets minutes.
    assert int(web["TimeoutStopSec"]) > 30 and int(worker["TimeoutStopSec"]) >= 300


def _logrotate(tmp_path, *flags):
    logs = tmp_path / "log"
    logs.mkdir(exist_ok=True)
    config = tmp_path / "minsheng.logrotate"
    config.write_text(LOGROTATE.read_text(encoding="utf-8").replace("/var/log/minsheng", str(logs)))
    config.chmod(0o644)
    result = subprocess.run([LOGROTATE_BIN, *flags, "-s", str(tmp_path / "state"), str(config)],
                            capture_output=True, text=True, timeout=60)
    return logs, result


@pytest.mark.skipif(LOGROTATE_BIN is None, reason="logrotate is not installed")
def test_logrotate_reads_the_file_without_an_error(tmp_path):
    logs, result = _logrotate(tmp_path, "-d")
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower(), result.stderr
    assert f"rotating pattern: {logs}/*.log" in result.stderr


@pytest.mark.skipif(LOGROTATE_BIN is None, reason="logrotate is not installed")
def test_a_process_writing_in_append_mode_keeps_logging_into_the_rotated_file(tmp_path):
    logs, _ = _logrotate(tmp_path, "-d")
    path = logs / "web.log"
    with open(path, "a", encoding="utf-8") as log:  # as systemd's StandardOutput=append: holds it
        log.write('{"event": "request", "n": 1}\n')
        log.flush()
        _, result = _logrotate(tmp_path, "-f")
        assert result.returncode == 0, result.stderr
        log.write('{"event": "request", "n": 2}\n')
        log.flush()
    rotated = [p for p in logs.iterdir() if p.name.startswith("web.log-")]
    assert len(rotated) == 1, sorted(p.name for p in logs.iterdir())
    # delaycompress: the newest rotation stays plain until the next one.
    assert rotated[0].read_text() == '{"event": "request", "n": 1}\n'
    # No hole of NUL bytes where the old content was: the file starts at the line written after the rotation.
    assert path.read_bytes() == b'{"event": "request", "n": 2}\n'

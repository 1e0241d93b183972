"""The shipped gunicorn config loads and sizes itself from the machine and the environment."""
import multiprocessing
import os
import runpy

from config import ROOT


def test_workers_from_cpu_count_and_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    settings = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    assert settings["workers"] == multiprocessing.cpu_count() * 2 + 1
    assert settings["timeout"] == 30 and settings["accesslog"] == "-"
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("PORT", "9000")
    settings = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    assert settings["workers"] == 3 and settings["bind"] == "0.0.0.0:9000"


def test_metrics_directory_named_before_the_app_is_loaded(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))["_OWN_METRICS_DIR"] is None
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    settings = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    own = settings["_OWN_METRICS_DIR"]
    try:
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == own and os.path.isdir(own)
    finally:
        settings["on_exit"](None)
    assert not os.path.exists(own)

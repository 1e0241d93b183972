"""The shipped gunicorn config loads and sizes itself from the machine and the environment."""
import multiprocessing
import runpy

from config import ROOT


def test_workers_from_cpu_count_and_overrides(monkeypatch):
    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    settings = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    assert settings["workers"] == multiprocessing.cpu_count() * 2 + 1
    assert settings["timeout"] == 30 and settings["accesslog"] == "-"
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("PORT", "9000")
    settings = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    assert settings["workers"] == 3 and settings["bind"] == "0.0.0.0:9000"

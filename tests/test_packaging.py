"""Reproducible installs: the locks pin every requirement the requirements files name, with hashes, and agree.

`make` and .ci/run install requirements.lock / requirements-dev.lock with --require-hashes; this test fails when a
requirements file changed and `make lock` was not run.
"""
import re
import sys
import tomllib

import pytest

from tests.conftest import ROOT

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.M)


def _name(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path):
    return {_name(n): v for n, v in _PIN.findall((ROOT / path).read_text(encoding="utf-8"))}


def _entries(path):
    """A lock's entries: each `name==version \\` line with the hash lines that follow it."""
    text = (ROOT / path).read_text(encoding="utf-8")
    return re.findall(r"^([A-Za-z0-9][^\s=]*)==(\S+)((?: \\\n\s+--hash=sha256:[0-9a-f]{64})*)", text, re.M)


@pytest.mark.parametrize("requirements, lock", [("requirements.txt", "requirements.lock"),
                                                ("requirements-dev.txt", "requirements-dev.lock"),
                                                ("requirements.txt", "requirements-dev.lock")])
def test_the_lock_pins_every_direct_requirement_at_its_version(requirements, lock):
    wanted, locked = _pins(requirements), _pins(lock)
    assert wanted, requirements
    assert {n: (v, locked.get(n)) for n, v in wanted.items() if locked.get(n) != v} == {}, \
        f"{lock} is out of date with {requirements}: run `make lock`"


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_every_locked_package_has_hashes(lock):
    entries = _entries(lock)
    assert len(entries) == len(_pins(lock)) > 20
    assert [name for name, _, hashes in entries if "--hash=sha256:" not in hashes] == []


def test_production_and_development_install_the_same_versions():
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v} == {}


def test_pyproject_has_the_projects_metadata():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] and project["version"] and project["description"]
    assert project["requires-python"] == ">=3.11"
    assert sys.version_info >= (3, 11)
    assert "dependencies" in project["dynamic"]


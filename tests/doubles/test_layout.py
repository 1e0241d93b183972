"""Production code never reaches a double: no module of app/ imports doubles/ or calls a double's control API,
except the development server command (app/cli.py's `dev serve`), which starts and wires the WeChat double."""
import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
DEV_WIRING = {APP / "cli.py"}


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def test_app_imports_no_double_outside_the_dev_command():
    modules = sorted(APP.rglob("*.py"))
    assert len(modules) > 50
    offenders = {str(path.relative_to(APP)): name for path in modules if path not in DEV_WIRING
                 for name in _imports(path) if name == "doubles" or name.startswith("doubles.")}
    assert offenders == {}
    assert any(name.startswith("doubles.") for name in _imports(APP / "cli.py"))


def test_app_never_calls_a_double_control_api():
    offenders = [str(path.relative_to(APP)) for path in APP.rglob("*.py")
                 if "__double__" in path.read_text(encoding="utf-8")]
    assert offenders == []

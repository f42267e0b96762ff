"""The engine never imports Qt or the app: gradgraph/ works without PySide6."""
import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import gradgraph

ENGINE = Path(gradgraph.__file__).resolve().parent
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "gradgraph_gui")


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call):  # importlib.import_module("PySide6...") / __import__("...")
            func = node.func
            name = getattr(func, "attr", None) or getattr(func, "id", None)
            if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def test_no_engine_module_imports_qt_or_the_app():
    offenders = []
    for path in sorted(ENGINE.rglob("*.py")):
        for lineno, module in _imports(path):
            if module.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(ENGINE.parent)}:{lineno} imports {module}")
    assert not offenders, "the engine must not import Qt or gradgraph_gui:\n" + "\n".join(offenders)


def _engine_modules():
    names = ["gradgraph"]
    for info in pkgutil.walk_packages([str(ENGINE)], prefix="gradgraph."):
        if info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


def test_importing_every_engine_module_loads_no_qt():
    modules = _engine_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "assert not bad, bad\n"
        "print(len(sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_app_package_and_its_models_import_without_qt():
    """``gradgraph_gui``, its session model and its layout are Qt-free (views subscribe to them)."""
    code = (
        "import sys\n"
        "import gradgraph_gui, gradgraph_gui.models, gradgraph_gui.layout\n"
        "import gradgraph as gg\n"
        "s = gradgraph_gui.models.GraphSession(gg.Tensor(2.0, name='x') * 3.0)\n"
        "s.step()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

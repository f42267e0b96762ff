"""Packaging: every package folder is installed, under an unambiguous name."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    renames = {v: k for k, v in config["package-dir"].items()}  # folder -> import name
    found = set()
    for init in ROOT.glob("*/**/__init__.py"):
        parts = init.parent.relative_to(ROOT).parts
        if parts[0] in ("tests", "benchmarks", "tools", "build") or any(p.startswith(".") for p in parts):
            continue
        found.add(".".join((renames.get(parts[0], parts[0]),) + parts[1:]))
    assert found <= listed, f"add to pyproject.toml [tool.setuptools] packages: {sorted(found - listed)}"
    assert "gui" not in listed


def test_console_script_and_test_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["gradgraph"] == "gradgraph.cli:main"
    assert {re.split(r"[<>=]", d)[0] for d in project["optional-dependencies"]["test"]} >= {"pytest", "pytest-qt", "hypothesis"}


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- test-command -->(.*?)<!-- /test-command -->", readme, re.S)
    assert block and "pytest" in block.group(1)
    assert "test-command" in (ROOT / ".ci" / "run").read_text()


def test_readme_test_command_needs_no_torch_and_ci_keeps_the_oracle():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"<!-- test-command -->(.*?)<!-- /test-command -->", readme, re.S).group(1)
    assert "torch" not in command  # on a plain PyPI, torch on Linux is the multi-GB CUDA build
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("pip install -q torch==2.13.0") < ci.index('bash -c "set -e; $cmd"')
    assert '"$code" -eq 5' in ci  # pytest collecting nothing is a failure

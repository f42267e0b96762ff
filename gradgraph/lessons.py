"""Lessons: discovery, loading and the lesson protocol.

A lesson is a plain Python file ``lessons/NN_slug.py`` (``01_chain_rule.py``)::

    \"\"\"# 1. The chain rule: f = (x + y) z

    Markdown shown in the app: formulas, worked numbers, what to try.
    \"\"\"
    import gradgraph as gg

    SUMMARY = "One line for the lesson browser."
    EXERCISES = ["1.1"]              # optional: exercise ids this lesson uses

    def build():                     # the graph the app steps through -> output Tensor
        ...

    def run(quick=False):            # the terminal version -> dict of key results
        ...

    def trainer(quick=False, **options): ...   # optional: a gradgraph.train.Trainer
    def figures(quick=False): ...              # optional: list of matplotlib Figures

    if __name__ == "__main__":
        gg.lessons.main(run)

Listing lessons reads the files without running them (the title is the
docstring's first Markdown heading, ``SUMMARY`` and ``EXERCISES`` are read as
literals), so a lesson with a bug still shows up in the list. ``load`` executes
the file as a fresh module every time, so the app picks up a student's edits.

Lessons live in the ``gradgraph_lessons`` package folder (the repository's
``lessons/`` when installed editable); the environment variable
``GRADGRAPH_LESSONS`` points somewhere else.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import itertools
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .course import LESSONS_ENV, lessons_dir

__all__ = [
    "LESSONS_ENV", "Lesson", "LessonNotFoundError", "build", "build_with_report", "cli_list", "cli_run",
    "find_lesson", "lesson_from_file", "lessons_dir", "list_lessons", "load", "main",
]

_FILE = re.compile(r"^(\d{2})_([a-z0-9_]+)\.py$")
_counter = itertools.count(1)


class LessonNotFoundError(LookupError):
    """No lesson matches the id; the message lists the valid ones."""


@dataclass(frozen=True)
class Lesson:
    """One lesson file, described without running it."""

    id: str              # "01"
    number: int          # 1
    slug: str            # "chain_rule"
    title: str           # first Markdown heading of the docstring
    summary: str         # SUMMARY
    path: Path
    exercises: tuple = field(default_factory=tuple)   # EXERCISES, e.g. ("1.1", "1.2")

    @property
    def name(self) -> str:
        """The file stem, ``"01_chain_rule"``."""
        return f"{self.id}_{self.slug}"

    @property
    def text(self) -> str:
        """The lesson's Markdown (its module docstring)."""
        return _read(self.path)[0]


_read_cache: dict = {}  # (path, mtime, size) -> what _read found: listing is then cheap


def _read(path: Path) -> tuple[str, dict]:
    """The docstring and the literal module-level constants of a lesson file (cached until
    the file changes: the app lists and finds lessons on its GUI thread)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _read_cache:
        _read_cache[key] = _parse(path)
    return _read_cache[key]


def _parse(path: Path) -> tuple[str, dict]:
    source = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as error:
        return f"# {path.stem}\n\n(this lesson has a syntax error on line {error.lineno}: {error.msg})", {}
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return ast.get_docstring(tree) or "", constants


def _title(doc: str, fallback: str) -> str:
    for line in doc.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return fallback


def _describe(path: Path) -> Lesson:
    match = _FILE.match(path.name)
    doc, constants = _read(path)
    return Lesson(
        id=match.group(1),
        number=int(match.group(1)),
        slug=match.group(2),
        title=_title(doc, match.group(2).replace("_", " ")),
        summary=str(constants.get("SUMMARY", "")),
        path=path,
        exercises=tuple(str(e) for e in constants.get("EXERCISES", ()) or ()),
    )


def lesson_from_file(path) -> Lesson:
    """Any Python file as a Lesson (a lesson file keeps its number; another file gets 0)."""
    path = Path(path).expanduser().resolve()
    if _FILE.match(path.name):
        return _describe(path)
    doc, constants = _read(path)
    return Lesson(id=path.stem, number=0, slug=path.stem, title=_title(doc, path.name),
                  summary=str(constants.get("SUMMARY", "")), path=path,
                  exercises=tuple(str(e) for e in constants.get("EXERCISES", ()) or ()))


def list_lessons() -> list[Lesson]:
    """All lessons, in order of their number."""
    folder = lessons_dir()
    if not folder.is_dir():
        return []
    paths = sorted(p for p in folder.iterdir() if p.is_file() and _FILE.match(p.name))
    return [_describe(p) for p in paths]


def find_lesson(key) -> Lesson:
    """The lesson for ``1``, ``"1"``, ``"01"``, ``"chain_rule"`` or ``"01_chain_rule"``
    (a Lesson is returned as it is). A path to any Python file defining ``build()``
    (``"my_graph.py"``) is described as a lesson too (see :func:`lesson_from_file`)."""
    if isinstance(key, Lesson):
        return key
    lessons = list_lessons()
    text = str(key).strip()
    if text.endswith(".py"):
        text = text[:-3]
    for lesson in lessons:
        if text.isdigit() and int(text) == lesson.number:
            return lesson
        if text in (lesson.slug, lesson.name):
            return lesson
    if str(key).strip().endswith(".py") and Path(str(key).strip()).expanduser().is_file():
        return lesson_from_file(str(key).strip())
    valid = "\n".join(f"  {l.number:>2}  {l.slug:<22} {l.title}" for l in lessons) or "  (none found)"
    raise LessonNotFoundError(
        f"no lesson {key!r} in {lessons_dir()}. Use a number or a name:\n{valid}"
    )


def load(lesson):
    """Execute the lesson file as a fresh module (a new module on every call)."""
    lesson = find_lesson(lesson)
    name = f"gradgraph_lesson_{lesson.name}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, lesson.path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def build(lesson, mine: bool = False, **options):
    """The graph a lesson steps through: a fresh ``load(lesson).build(**options)``.

    ``mine=True`` builds it with the student's exercise gates where an exercise
    exists (``x * y`` uses the Multiply of ``exercises/ex01_1_multiply.py``), so
    a wrong backward shows in the lesson's numbers and in a gradcheck; an
    exercise not done yet keeps the built-in gate, and a warning says so.
    """
    output, report = build_with_report(lesson, mine, **options)
    if report is not None and report.fallbacks:
        warnings.warn("; ".join(line for line in report.lines() if line.startswith("the built-in")), stacklevel=2)
    return output


def build_with_report(lesson, mine: bool = False, **options):
    """``(output, report)``: like :func:`build`; ``report`` is the :class:`~gradgraph.exercises.MineReport`
    saying whose gates were used (None unless ``mine``). A lesson without ``build()`` raises
    LessonNotFoundError naming it."""
    lesson = find_lesson(lesson)
    module = load(lesson)
    if not callable(getattr(module, "build", None)):
        raise LessonNotFoundError(f"lesson {lesson.id} ({lesson.path.name}) has no build() function giving a graph")
    if not mine:
        return module.build(**options), None
    from . import exercises

    with exercises.mine() as report:
        return module.build(**options), report


# -- the command line ---------------------------------------------------------

def cli_list(args=None) -> int:
    """``gradgraph lessons``: one line per lesson."""
    lessons = list_lessons()
    if not lessons:
        print(f"no lessons found in {lessons_dir()}")
        return 1
    width = max(len(l.slug) for l in lessons)
    for lesson in lessons:
        print(f"{lesson.number:>3}  {lesson.slug:<{width}}  {lesson.summary or lesson.title}")
    print("\nRun one with `gradgraph run NUMBER` (add --quick for a short run).")
    return 0


def cli_run(args) -> int:
    """``gradgraph run ID [--quick]``: run a lesson in the terminal; ``gradgraph run SCRIPT.py``
    runs a Python file as ``python SCRIPT.py`` would (``gradgraph walk SCRIPT.py`` steps through
    the graph its ``build()`` returns)."""
    target = str(args.id)
    if target.endswith(".py") or os.sep in target:
        return _run_script(Path(target), bool(getattr(args, "quick", False)))
    try:
        lesson = find_lesson(target)
    except LessonNotFoundError as error:
        print(f"{error}\nOr run a Python file of your own: gradgraph run my_script.py", file=sys.stderr)
        return 2
    module = load(lesson)
    module.run(quick=bool(getattr(args, "quick", False)))
    return 0


def _run_script(path: Path, quick: bool) -> int:
    if not path.is_file():
        print(f"gradgraph run: no such file: {path}", file=sys.stderr)
        return 2
    import runpy

    saved = sys.argv
    sys.argv = [str(path)] + (["--quick"] if quick else [])
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exit:  # the script called sys.exit(code)
        return exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    finally:
        sys.argv = saved
    return 0


def main(run, argv=None) -> None:
    """What a lesson file does when run as a script: parse ``--quick``, call ``run``."""
    parser = argparse.ArgumentParser(description="Run this lesson in the terminal.")
    parser.add_argument("--quick", action="store_true", help="a shortened run (fewer samples or epochs)")
    args = parser.parse_args(argv)
    run(quick=args.quick)

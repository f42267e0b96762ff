"""Where the course lives: the folder of lessons, exercises and solutions.

``lessons_dir()`` is the ``gradgraph_lessons`` package folder (the repository's
``lessons/`` when installed editable); the environment variable
``GRADGRAPH_LESSONS`` points somewhere else. :mod:`.lessons` and
:mod:`.exercises` both read it (and so neither imports the other for it).
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["LESSONS_ENV", "lessons_dir"]

LESSONS_ENV = "GRADGRAPH_LESSONS"


def lessons_dir() -> Path:
    """The folder holding the lesson files (``GRADGRAPH_LESSONS`` overrides it)."""
    override = os.environ.get(LESSONS_ENV)
    if override:
        return Path(override).expanduser()
    import gradgraph_lessons

    return Path(gradgraph_lessons.__file__).resolve().parent

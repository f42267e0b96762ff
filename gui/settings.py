"""QSettings in one place. ``GRADGRAPH_SETTINGS_DIR`` points them at a folder
(tests use a temporary one, never the real home)."""
from __future__ import annotations

import os

from PySide6.QtCore import QSettings

SETTINGS_ENV = "GRADGRAPH_SETTINGS_DIR"


def settings() -> QSettings:
    folder = os.environ.get(SETTINGS_ENV)
    if folder:
        os.makedirs(folder, exist_ok=True)
        return QSettings(os.path.join(folder, "gradgraph.ini"), QSettings.IniFormat)
    return QSettings(QSettings.IniFormat, QSettings.UserScope, "gradgraph", "gradgraph")

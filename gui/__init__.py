"""gradgraph desktop app (PySide6), installed as the package ``gradgraph_gui``."""
from . import qtfix as _qtfix

_qtfix.apply()  # a PySide6 refcount bug on Python < 3.12 would otherwise abort the app

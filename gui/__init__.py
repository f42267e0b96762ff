"""gradgraph desktop app (PySide6), installed as the package ``gradgraph_gui``.

Importing the package loads no Qt: ``gradgraph_gui.models`` (the Qt-free session
model the views subscribe to) and ``gradgraph_gui.layout`` (row folding) work
without PySide6.
"""

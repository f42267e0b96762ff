"""gradgraph desktop app (PySide6), installed as the package ``gradgraph_gui``."""

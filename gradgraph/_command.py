"""Ctrl-C while the ``gradgraph`` command is still starting ends like any other Ctrl-C of it.

Importing numpy and Numba takes about half a second, before ``gradgraph.cli.main``
can catch anything; a Ctrl-C then would end in a KeyboardInterrupt traceback.
``gradgraph/__init__.py`` imports this module first. When this process is the
``gradgraph`` command (the console script or ``python -m gradgraph``) it installs
an exception hook that turns an uncaught KeyboardInterrupt into the command's
usual ending: "interrupted" and exit code 130. Anywhere else it does nothing.
"""
import os
import sys


def _is_the_command() -> bool:
    script = os.path.basename(sys.argv[0]) if sys.argv else ""
    return script == "gradgraph" or getattr(sys, "orig_argv", [])[1:3] == ["-m", "gradgraph"]


def _interrupted(kind, value, traceback):
    if issubclass(kind, KeyboardInterrupt):
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        os._exit(130)  # no second traceback from the shutdown either
    sys.__excepthook__(kind, value, traceback)


if sys.excepthook is sys.__excepthook__ and _is_the_command():
    sys.excepthook = _interrupted

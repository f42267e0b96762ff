"""Ctrl-C while the ``gradgraph`` command is still starting ends like any other Ctrl-C of it.

Importing numpy and Numba takes about half a second, before ``gradgraph.cli.main``
can catch anything. A KeyboardInterrupt raised in the middle of those imports
ends in a traceback, or worse: numpy turns it into an ImportError saying its
installation is broken. So ``gradgraph/__init__.py`` imports this module first,
and when this process is the ``gradgraph`` command (the console script or
``python -m gradgraph``) Ctrl-C only takes note until :func:`started` hands it
back to Python; ``main`` then ends with "interrupted" and exit code 130.
Imported by any other program, this module does nothing.
"""
import os
import signal
import sys
import threading

_pressed = False


def _remember(signum, frame):
    global _pressed
    _pressed = True


def _is_the_command() -> bool:
    script = os.path.basename(sys.argv[0]) if sys.argv else ""
    return script == "gradgraph" or getattr(sys, "orig_argv", [])[1:3] == ["-m", "gradgraph"]


def started() -> bool:
    """Give Ctrl-C back to Python (KeyboardInterrupt); True if it was pressed while starting."""
    if signal.getsignal(signal.SIGINT) is _remember:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return _pressed


def ending() -> None:
    """The command was interrupted and is ending: a second Ctrl-C (people press twice) must
    not raise KeyboardInterrupt on the way out, so it is ignored from here on."""
    if _is_the_command():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if (_is_the_command() and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
    signal.signal(signal.SIGINT, _remember)

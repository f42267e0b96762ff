"""Writing files that matter: atomically, and tidying up after a writer that was killed.

:func:`atomic_write` writes to a temporary file next to the real one, named
``.NAME.PID.RANDOM.SUFFIX``, flushes it to disk and renames it over the real
name with ``os.replace`` (atomic on one file system). A reader sees the old file
or the new one, never half of one; if the block raises, the real file is
untouched and the temporary file is removed.

A writer killed outright (``kill -9``, a closed laptop lid that never wakes)
cannot remove its temporary file. The process id in the name lets the next
writer of the same file see that the owner is gone and delete it
(:func:`remove_stale_temps`): an interrupted download leaves no ``.part`` file
behind once gradgraph runs again.

Checkpoints, run folders and dataset files all write through here.
"""
from __future__ import annotations

import contextlib
import glob
import os
import secrets
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text", "remove_stale_temps"]


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", suffix: str = ".tmp"):
    """Open a temporary file next to ``path``; when the block ends without error it replaces ``path``.

    ``mode`` is ``"wb"`` or ``"w"`` (UTF-8 text). The new file gets the
    permissions an ordinary new file would get (the umask), or keeps those of
    the file it replaces. Stale temporary files of ``path`` left by a killed
    writer are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    handle, tmp = _open_temp(path, mode, suffix)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path, "w") as f:
        f.write(text)


def _open_temp(path: Path, mode: str, suffix: str):
    """A new, exclusively created temp file next to ``path``: (open file, its path)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")
        try:
            # 0o666 minus the umask, like any new file (mkstemp would make it private)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o777)  # a replaced file keeps its mode
        return os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})), tmp
    raise FileExistsError(f"could not create a temporary file next to {path}")


def _process_exists(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":  # on Windows, os.kill(pid, 0) would send Ctrl-C
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else
        return True
    return True


def remove_stale_temps(path) -> list[Path]:
    """Delete the temporary files of ``path`` whose writing process no longer exists; returns them."""
    path = Path(path)
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*"):
        pid = candidate.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _process_exists(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed

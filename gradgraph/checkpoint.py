"""Checkpoints: a model's weights (and an optimizer's state) in one ``.npz`` file.

The file holds plain numeric arrays only:

``model/<name>``       each parameter, e.g. ``model/conv1.weight``
``optimizer/<key>``    the optimizer's buffers, e.g. ``optimizer/m.3``
``__meta__``           a JSON string (stored as a numpy unicode array): format
                       version, model class, optimizer type and scalars, ``extra``

It is read with ``np.load(..., allow_pickle=False)``: a checkpoint someone sent
you cannot run code, and one holding Python objects is refused. Writes are
atomic (:func:`gradgraph.files.atomic_write`), so an interrupted save leaves
the previous checkpoint intact and no partial file.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .files import atomic_write

__all__ = ["CheckpointError", "load_checkpoint", "read_checkpoint", "save_checkpoint"]

FORMAT = "gradgraph-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is unsafe, damaged, or does not fit the model/optimizer."""


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"checkpoint metadata must be JSON-serialisable; got {type(value).__name__}")


def save_checkpoint(path, model, optimizer=None, extra=None) -> Path:
    """Save ``model``'s parameters (and ``optimizer``'s state) to ``path`` (.npz), atomically.

    ``extra``: a JSON-serialisable dict (epoch, metrics, config ...) returned by
    :func:`load_checkpoint`. Returns the path.
    """
    arrays = {f"model/{name}": np.ascontiguousarray(value) for name, value in model.state_dict().items()}
    meta = {"format": FORMAT, "version": VERSION, "model": type(model).__name__, "extra": extra or {}}
    if optimizer is not None:
        scalars = {}
        for key, value in optimizer.state_dict().items():
            if isinstance(value, np.ndarray) and value.ndim > 0:
                arrays[f"optimizer/{key}"] = value
            else:
                scalars[key] = value
        meta["optimizer"] = {"type": type(optimizer).__name__, "scalars": scalars}
    arrays["__meta__"] = np.array(json.dumps(meta, default=_json_default))
    with atomic_write(path) as f:
        np.savez(f, **arrays)
    return Path(path)


def read_checkpoint(path):
    """Read a checkpoint without a model: ``(model_state, optimizer_state, meta)``.

    ``model_state`` maps parameter names to arrays; ``optimizer_state`` is what
    ``Optimizer.load_state_dict`` takes (None if none was saved); ``meta`` the
    metadata dict (``meta["extra"]`` is what was passed to ``save_checkpoint``).
    Raises :class:`CheckpointError` for object (pickled) arrays or a file that
    is not a gradgraph checkpoint.
    """
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable .npz checkpoint ({exc})") from None
    if not hasattr(archive, "files"):
        raise CheckpointError(f"{path}: not a .npz checkpoint (a single array)")
    arrays = {}
    with archive:
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError as exc:
                if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                    raise CheckpointError(
                        f"{path}: array {key!r} holds Python objects (it would need pickle to load); "
                        f"refusing to load it. gradgraph checkpoints contain numbers only."
                    ) from None
                raise CheckpointError(f"{path}: array {key!r} cannot be read ({exc})") from None
    if "__meta__" not in arrays:
        raise CheckpointError(f"{path}: no __meta__ entry; not a gradgraph checkpoint")
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: the metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a gradgraph checkpoint (format {meta.get('format') if isinstance(meta, dict) else meta!r})")
    for key, value in arrays.items():
        if value.dtype.kind not in "fiub":
            raise CheckpointError(f"{path}: array {key!r} has dtype {value.dtype}, expected numbers")
    model_state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    optimizer_state = None
    if "optimizer" in meta:
        optimizer_state = dict(meta["optimizer"].get("scalars", {}))
        optimizer_state.update({k[len("optimizer/"):]: v for k, v in arrays.items() if k.startswith("optimizer/")})
    return model_state, optimizer_state, meta


def load_checkpoint(path, model, optimizer=None) -> dict:
    """Load a checkpoint into ``model`` (and ``optimizer``); returns the metadata dict.

    Clear errors (:class:`CheckpointError`, :class:`gradgraph.nn.StateDictError`)
    for missing or unexpected parameters, shape mismatches, an optimizer of
    another type, or arrays that would need pickle.
    """
    model_state, optimizer_state, meta = read_checkpoint(path)
    model.load_state_dict(model_state)
    if optimizer is not None:
        if optimizer_state is None:
            raise CheckpointError(f"{path}: holds no optimizer state")
        saved = meta["optimizer"]["type"]
        if saved != type(optimizer).__name__:
            raise CheckpointError(f"{path}: holds the state of a {saved} optimizer, not {type(optimizer).__name__}")
        try:
            optimizer.load_state_dict(optimizer_state)
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{path}: the optimizer state does not fit: {exc}") from None
    return meta

"""Arrays for a model's inputs from a user's file: a `.npy` for a one-input model, or a
`.npz` keyed by input name. `--input` (verify, validate) and `--calib` read them alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyc.errors import TinycError, UsageError
from tinyc.ir import Graph


def read_input_arrays(path: Path, graph: Graph, what: str = "file") -> dict[str, np.ndarray]:
    """Input name -> the file's array for it. Whatever numpy cannot read (garbage, pickled
    objects, a header claiming more memory than there is) is one UsageError."""
    if not path.is_file():
        raise UsageError(f"no such {what}: {path}")
    try:
        return _arrays(path, graph)
    except TinycError:
        raise
    except Exception as exc:  # numpy raises several unrelated types, MemoryError included
        raise UsageError(f"{path}: not a .npy or .npz file ({type(exc).__name__})") from None


def _arrays(path: Path, graph: Graph) -> dict[str, np.ndarray]:
    data = np.load(path, allow_pickle=False)
    if isinstance(data, np.ndarray):
        if len(graph.inputs) != 1:
            names = ", ".join(v.name for v in graph.inputs)
            raise UsageError(f"{path}: the model has inputs {names}; use a .npz keyed by name")
        return {graph.inputs[0].name: data}
    with data:
        missing = [v.name for v in graph.inputs if v.name not in data.files]
        if missing:
            raise UsageError(f"{path}: no array for input(s) {', '.join(missing)}")
        return {v.name: data[v.name] for v in graph.inputs}

"""Store nested Python state (optimizer, scheduler, RNG) without pickle.

Trainer checkpoints keep optimizer, scheduler and RNG state as `torch.save` pickles. Before a
checkpoint leaves the machine, each such file becomes a safetensors file (every tensor and
numpy array) plus a JSON file (the structure around them, with tuples and non-string dict keys
marked); on resume the pickle is rebuilt locally from those two. Loading the local pickle
uses `torch.load(weights_only=True)` with transformers' numpy allowlist, which refuses
anything but tensors, numpy arrays and plain data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

_TENSOR, _ARRAY, _TUPLE, _DICT = "__tensor__", "__ndarray__", "__tuple__", "__dict__"


def encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able structure of `value`, with its tensors moved into `tensors`."""
    import torch

    if isinstance(value, torch.Tensor):
        return {_TENSOR: _keep(value.detach().cpu(), tensors)}
    if isinstance(value, np.ndarray):
        # ascontiguousarray makes a 0-d array 1-d; the reshape keeps the array's own shape.
        array = torch.from_numpy(np.ascontiguousarray(value).reshape(value.shape))
        return {_ARRAY: _keep(array, tensors), "dtype": str(value.dtype)}
    if isinstance(value, tuple):
        return {_TUPLE: [encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [encode(v, tensors) for v in value]
    if isinstance(value, dict):
        return {_DICT: [[encode(k, tensors), encode(v, tensors)] for k, v in value.items()]}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} without pickle")


def _keep(tensor: torch.Tensor, tensors: dict[str, torch.Tensor]) -> str:
    """Add a tensor for the safetensors file; its key. safetensors refuses tensors that share
    memory (torch.save does not), so one aliasing a tensor already kept is copied."""
    tensor = tensor.contiguous()
    storage = tensor.untyped_storage().data_ptr()
    if storage and any(t.untyped_storage().data_ptr() == storage for t in tensors.values()):
        tensor = tensor.clone()
    key = f"t{len(tensors)}"
    tensors[key] = tensor
    return key


def decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [decode(v, tensors) for v in value]
    if isinstance(value, dict):
        if _TENSOR in value:
            return tensors[value[_TENSOR]]
        if _ARRAY in value:
            return tensors[value[_ARRAY]].numpy().astype(value["dtype"])
        if _TUPLE in value:
            return tuple(decode(v, tensors) for v in value[_TUPLE])
        return {decode(k, tensors): decode(v, tensors) for k, v in value[_DICT]}
    return value


def pickle_to_safe(path: Path) -> None:
    """Replace a torch pickle (`x.pt`) by `x.pt.json` + `x.pt.safetensors`."""
    import torch
    from safetensors.torch import save_file
    from transformers.trainer_pt_utils import safe_globals

    tensors: dict[str, torch.Tensor] = {}
    with safe_globals():  # numpy arrays (RNG state) on top of the tensor-only allowlist
        state = torch.load(path, map_location="cpu", weights_only=True)
    structure = encode(state, tensors)
    save_file(tensors, str(path) + ".safetensors")
    Path(str(path) + ".json").write_text(json.dumps(structure))
    path.unlink()


def safe_to_pickle(json_path: Path) -> None:
    """Rebuild the torch pickle that `pickle_to_safe` replaced."""
    import torch
    from safetensors.torch import load_file

    original = Path(str(json_path).removesuffix(".json"))
    tensors = load_file(str(original) + ".safetensors")
    torch.save(decode(json.loads(json_path.read_text()), tensors), original)
    json_path.unlink()
    Path(str(original) + ".safetensors").unlink()

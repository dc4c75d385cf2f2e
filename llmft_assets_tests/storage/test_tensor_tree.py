"""Nested optimizer/scheduler/RNG state survives the trip through JSON + safetensors, and the
torch pickles of a checkpoint are replaced by files that hold no pickle, then rebuilt."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers.trainer_pt_utils import safe_globals

from llmft_assets.storage.tensor_tree import decode, encode, pickle_to_safe, safe_to_pickle


def assert_same(actual: Any, expected: Any, where: str = "value") -> None:
    """Deep equality that also insists on the same types, dtypes, shapes and key order."""
    assert type(actual) is type(expected), f"{where}: {type(actual)} != {type(expected)}"
    if isinstance(expected, torch.Tensor):
        assert actual.dtype == expected.dtype, where
        assert actual.shape == expected.shape, where
        assert torch.equal(actual, expected), where
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype, where
        assert actual.shape == expected.shape, where
        assert np.array_equal(actual, expected), where
    elif isinstance(expected, dict):
        assert list(actual) == list(expected), where
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, list | tuple):
        assert len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(a, e, f"{where}[{index}]")
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(actual), where
    else:
        assert actual == expected, where


def round_trip(value: Any, tmp_path: Path) -> Any:
    """encode -> JSON text + safetensors file on disk -> decode, as pickle_to_safe stores it."""
    tensors: dict[str, torch.Tensor] = {}
    structure = encode(value, tensors)
    text = json.dumps(structure)
    save_file(tensors, str(tmp_path / "tree.safetensors"))
    return decode(json.loads(text), load_file(str(tmp_path / "tree.safetensors")))


def test_nested_state_round_trips_with_types_intact(tmp_path: Path) -> None:
    value = {
        0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(4, 3)},
        1: [torch.arange(6, dtype=torch.int64).reshape(2, 3), (1, 2.5, "x")],
        "dtypes": [
            torch.randn(5).to(torch.float16),
            torch.randn(5).to(torch.bfloat16),
            torch.randn(2, 2, dtype=torch.float64),
            torch.tensor([1, -2], dtype=torch.int32),
            torch.tensor([0, 255], dtype=torch.uint8),
            torch.tensor([True, False]),
            torch.empty(0, 3),
        ],
        "numpy": {
            "uint32": np.random.RandomState(7).get_state()[1],
            "float64": np.linspace(0, 1, 7),
            "int8_2d": np.arange(-4, 4, dtype=np.int8).reshape(2, 4),
            "bool": np.array([True, False, True]),
            "scalar_array": np.array(3.5),  # 0-d: must not come back as shape (1,)
            "transposed": np.arange(6, dtype=np.float32).reshape(2, 3).T,  # not C-contiguous
        },
        (1, "a"): "tuple key",
        2.5: "float key",
        None: None,
        "bools": {True: "yes", "flag": False},
        "text": "naïve ✓",
        "float": 1e-300,
        "nan": float("nan"),
        "inf": float("-inf"),
        "big": 2**70,
        "empty": ({}, [], ()),
        "param_groups": [{"betas": (0.9, 0.999), "params": [0, 1], "foreach": None}],
    }
    assert_same(round_trip(value, tmp_path), value)


def test_a_marker_like_user_key_is_not_mistaken_for_a_tensor(tmp_path: Path) -> None:
    value = {"__tensor__": "t0", "__tuple__": [1], "__ndarray__": "t1", "dtype": "x"}
    assert_same(round_trip([value, torch.ones(2)], tmp_path), [value, torch.ones(2)])


def test_numpy_scalars_keep_their_value(tmp_path: Path) -> None:
    value = [np.float32(0.1), np.int64(-5), np.uint32(2**32 - 1), np.bool_(True), np.float64(2.5)]
    back = round_trip(value, tmp_path)
    assert back == [float(np.float32(0.1)), -5, 2**32 - 1, True, 2.5]
    assert isinstance(back[3], bool)


def test_the_same_tensor_twice_and_overlapping_views_can_be_stored(tmp_path: Path) -> None:
    """torch.save accepts aliased tensors; so must its replacement."""
    shared = torch.arange(8.0)
    array = np.arange(4, dtype=np.uint32)
    value = {"a": shared, "again": shared, "view": shared[2:6], "array": array, "same": array}
    back = round_trip(value, tmp_path)
    assert_same(back, value)


def test_encode_moves_tensors_out_and_leaves_plain_json(tmp_path: Path) -> None:
    tensors: dict[str, torch.Tensor] = {}
    structure = encode({"w": torch.ones(2, requires_grad=True), "a": np.zeros(3)}, tensors)
    assert sorted(tensors) == ["t0", "t1"]
    assert not tensors["t0"].requires_grad
    assert "tensor(" not in json.dumps(structure)


class Opaque:
    pass


@pytest.mark.parametrize(
    "value",
    [
        Opaque(),
        {1, 2},
        b"bytes",
        {"nested": [1, {"deep": object()}]},
        np.array(["text"]),
        np.array([object()], dtype=object),
        1 + 2j,
    ],
    ids=["object", "set", "bytes", "nested-object", "str-array", "object-array", "complex"],
)
def test_unsupported_values_raise_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        encode(value, {})


def _adamw_after_a_step(seed: int = 0) -> tuple[torch.nn.Module, torch.optim.AdamW]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.99))
    model(torch.randn(5, 4)).square().sum().backward()
    optimizer.step()
    optimizer.zero_grad()
    return model, optimizer


def _rng_state() -> dict[str, Any]:
    """What transformers' Trainer writes as rng_state.pth (on a CPU machine)."""
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "cpu": torch.random.get_rng_state(),
    }


def _load(path: Path) -> Any:
    with safe_globals():
        return torch.load(path, map_location="cpu", weights_only=True)


def test_optimizer_state_file_is_replaced_and_rebuilt_identically(tmp_path: Path) -> None:
    model, optimizer = _adamw_after_a_step()
    path = tmp_path / "optimizer.pt"
    torch.save(optimizer.state_dict(), path)
    original = _load(path)

    pickle_to_safe(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "optimizer.pt.json",
        "optimizer.pt.safetensors",
    ]
    json.loads((tmp_path / "optimizer.pt.json").read_text())  # plain JSON, no pickle anywhere
    assert not (tmp_path / "optimizer.pt.safetensors").read_bytes().startswith(b"PK")

    safe_to_pickle(tmp_path / "optimizer.pt.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["optimizer.pt"]
    rebuilt = _load(path)
    assert_same(rebuilt, original)

    # The rebuilt state resumes the optimizer exactly where the original left off.
    resumed_model, resumed = _adamw_after_a_step()
    resumed.load_state_dict(rebuilt)
    inputs = torch.randn(5, 4)
    for m, o in ((model, optimizer), (resumed_model, resumed)):
        m(inputs).square().sum().backward()
        o.step()
    for a, b in zip(model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(a, b)


def _bnb_adamw_8bit_after_a_step() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """bitsandbytes' 8-bit AdamW (what paged_adamw_8bit is on CPU) on a layer large enough for
    8-bit state (4096 elements) and a bias below that, which keeps 32-bit state."""
    import bitsandbytes as bnb

    torch.manual_seed(0)
    model = torch.nn.Linear(64, 64)
    optimizer = bnb.optim.PagedAdamW8bit(model.parameters(), lr=1e-2)
    model(torch.randn(5, 64)).square().sum().backward()
    optimizer.step()
    optimizer.zero_grad()
    return model, optimizer


def test_bitsandbytes_8bit_optimizer_state_is_rebuilt_identically_and_resumes(
    tmp_path: Path,
) -> None:
    model, optimizer = _bnb_adamw_8bit_after_a_step()
    path = tmp_path / "optimizer.pt"
    torch.save(optimizer.state_dict(), path)
    original = _load(path)
    weight_state = original["state"][0]["__bnb_optimizer_quant_state__"]
    assert weight_state["state1"].dtype == torch.uint8  # quantized moments, their map and scales
    assert {"qmap1", "absmax1", "state2", "qmap2", "absmax2"} <= set(weight_state)
    bias_state = original["state"][1]["__bnb_optimizer_quant_state__"]
    assert bias_state["state1"].dtype == torch.float32

    pickle_to_safe(path)
    safe_to_pickle(tmp_path / "optimizer.pt.json")
    assert_same(_load(path), original)

    resumed_model, resumed = _bnb_adamw_8bit_after_a_step()
    resumed.load_state_dict(_load(path))
    inputs = torch.randn(5, 64)
    for m, o in ((model, optimizer), (resumed_model, resumed)):
        m(inputs).square().sum().backward()
        o.step()
    for a, b in zip(model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_rng_state_file_is_replaced_and_rebuilt_identically(tmp_path: Path) -> None:
    state = _rng_state()
    path = tmp_path / "rng_state.pth"
    torch.save(state, path)
    original = _load(path)
    assert original["numpy"][1].dtype == np.uint32

    pickle_to_safe(path)
    assert not path.exists()
    stored = load_file(str(tmp_path / "rng_state.pth.safetensors"))
    assert any(t.dtype == torch.uint32 for t in stored.values())  # the MT19937 key, as is
    safe_to_pickle(tmp_path / "rng_state.pth.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rng_state.pth"]
    rebuilt = _load(path)
    assert_same(rebuilt, original)

    # Restoring the rebuilt state replays the same random numbers in all three generators.
    random.setstate(rebuilt["python"])
    np.random.set_state(rebuilt["numpy"])
    torch.random.set_rng_state(rebuilt["cpu"])
    replay = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist())
    _rng_state()
    assert replay == (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist())


def test_a_pickle_with_arbitrary_objects_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.pt"
    torch.save({"fn": Opaque()}, path)
    with pytest.raises(Exception, match=r"(?i)weights_only|unsupported|global"):
        pickle_to_safe(path)
    assert path.is_file()
    assert not (tmp_path / "scheduler.pt.json").exists()

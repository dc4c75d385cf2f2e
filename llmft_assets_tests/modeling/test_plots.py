"""The loss-curve PNG is a real image of the curves it was given."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from llmft_assets.modeling.plots import loss_curves_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TRAIN = [(1, 3.2), (2, 2.9), (3, 2.5), (4, 2.4), (5, 2.1), (6, 2.0)]
EVAL = [(2, 3.0), (4, 2.6), (6, 2.3)]


def decode(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(png))
    image.verify()  # a truncated or corrupt file fails here
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (600, 320)  # figsize 6 x 3.2 inches at 100 dpi
    return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("evaluation", [EVAL, []], ids=["with-eval", "train-only"])
def test_loss_curves_png_is_a_valid_image(evaluation: list[tuple[int, float]]) -> None:
    pixels = decode(loss_curves_png(TRAIN, evaluation, "lora_adapter"))
    assert (pixels < 250).any()  # something is drawn on the white canvas


def test_the_eval_curve_is_drawn_when_there_are_eval_points() -> None:
    with_eval = decode(loss_curves_png(TRAIN, EVAL, "run"))
    train_only = decode(loss_curves_png(TRAIN, [], "run"))
    assert with_eval.shape == train_only.shape
    assert (with_eval != train_only).any(axis=-1).sum() > 500  # the second line and its markers


def test_eval_points_alone_still_plot() -> None:
    decode(loss_curves_png([], EVAL, "evaluated before any training step was logged"))

"""The training and validation loss curves as a PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence


def loss_curves_png(
    train: Sequence[tuple[int, float]], evaluation: Sequence[tuple[int, float]], title: str
) -> bytes:
    # A bare Figure draws with the Agg canvas and needs neither pyplot nor a backend choice.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.2), dpi=100)
    axes = figure.subplots()
    if train:
        axes.plot(*zip(*train, strict=True), label="train loss", linewidth=1.2)
    if evaluation:
        axes.plot(*zip(*evaluation, strict=True), "o-", label="validation loss", linewidth=1.5)
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats/token)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()

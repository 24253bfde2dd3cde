"""`train.py --eval FILE --plot out.png`: see where the thresholds sit.

Left: coverage vs wrong-answer rate as the answer threshold moves (the trade-off the model
chose a point on). Right: confidence histograms of in-scope queries whose best candidate is
right or wrong, and of out-of-scope queries, with the answer threshold marked. (The clarify
threshold applies to the summed confidence of the leading candidates, so it has no place on
these axes.)
matplotlib is an optional extra, imported lazily (Agg backend: no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

MISSING = "matplotlib is not installed: pip install -e '.[plot]'"


class PlotUnavailable(RuntimeError):
    """matplotlib is missing (the message says how to install it)."""


def require_matplotlib():
    """The pyplot module with the Agg backend, or PlotUnavailable."""
    try:
        import matplotlib
    except ImportError as exc:
        raise PlotUnavailable(MISSING) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def coverage_curve(in_scope: Sequence[tuple[float, bool]], out_of_scope: Sequence[float],
                   thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """For each threshold: share of in-scope queries answered, answered wrongly, and share of
    out-of-scope queries answered."""
    conf = np.array([c for c, _ in in_scope], dtype=float)
    right = np.array([r for _, r in in_scope], dtype=bool)
    oos = np.array(out_of_scope, dtype=float)
    thresholds = np.asarray(thresholds, dtype=float)
    answered = conf[None, :] >= thresholds[:, None]
    return {"coverage": answered.mean(1) if len(conf) else np.zeros(len(thresholds)),
            "wrong": (answered & ~right).mean(1) if len(conf) else np.zeros(len(thresholds)),
            "oos": (oos[None, :] >= thresholds[:, None]).mean(1) if len(oos)
            else np.zeros(len(thresholds))}


def plot_report(in_scope: Sequence[tuple[float, bool]], out_of_scope: Sequence[float], *,
                answer: float, path: str | Path, title: str = "") -> Path:
    """Draw the two panels to `path` (PNG); raises PlotUnavailable without matplotlib."""
    plt = require_matplotlib()
    grid = np.round(np.arange(0.0, 1.0001, 0.01), 2)
    curve = coverage_curve(in_scope, out_of_scope, grid)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2), dpi=110)

    left.plot(curve["coverage"] * 100, curve["wrong"] * 100, color="#1f77b4", lw=2,
              label="in-scope answered wrongly")
    left.plot(curve["coverage"] * 100, curve["oos"] * 100, color="#d62728", lw=1.5, ls="--",
              label="out-of-scope answered")
    i = int(np.argmin(np.abs(grid - answer)))
    x, y = curve["coverage"][i] * 100, curve["wrong"][i] * 100
    left.plot(x, y, "o", color="black", ms=9, zorder=5, label=f"answer threshold {answer:.2f}")
    note = (f"answer ≥ {answer:.2f}: coverage {curve['coverage'][i]:.0%}, wrong "
            f"{curve['wrong'][i]:.1%}, out-of-scope answered {curve['oos'][i]:.0%}")
    left.text(0.02, 0.62, note, transform=left.transAxes, fontsize=9, va="top",
              bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.9})
    top = max(10.0, min(100.0, 2.5 * float(curve["wrong"].max()) * 100))
    left.set_ylim(0, top)
    left.set_xlabel("coverage: in-scope queries answered outright (%)")
    left.set_ylabel("% of in-scope (wrong) or out-of-scope (answered)")
    left.set_title("Coverage vs wrong answers (moving the answer threshold)")
    left.set_xlim(0, 100)
    left.grid(alpha=0.3)
    left.legend(loc="upper left", fontsize=9)

    bins = np.linspace(0, 1, 26)
    groups = [([c for c, r in in_scope if r], "in-scope, best candidate right", "#2ca02c"),
              ([c for c, r in in_scope if not r], "in-scope, best candidate wrong", "#d62728"),
              (list(out_of_scope), "out-of-scope", "#7f7f7f")]
    for values, label, colour in groups:
        right.hist(values, bins=bins, alpha=0.55, color=colour, edgecolor="white",
                   label=f"{label} (n={len(values)})")
    right.axvline(answer, color="black", ls="--", lw=1.5)
    right.text(answer + 0.01, 0.5, f"answer {answer:.2f}", transform=right.get_xaxis_transform(),
               fontsize=9, rotation=90, va="center", ha="left")
    right.set_xlabel("confidence of the best candidate")
    right.set_ylabel("queries")
    right.set_title("Confidence by outcome")
    right.set_xlim(0, 1)
    right.legend(loc="upper left", fontsize=9, framealpha=0.9)
    right.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path

"""Plots of a mixture search: the predictor against the proxy runs, and (3 domains) its simplex heat map."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_predicted_vs_observed(predictor, W: np.ndarray, y: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Scatter of the predictor's in-sample prediction against each run's observed target score."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pred = predictor.predict(W)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    lo, hi = float(min(pred.min(), y.min())), float(max(pred.max(), y.max()))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=1, ls="--", label="y = x")
    ax.scatter(y, pred, s=30, color="C0", zorder=3, label=f"proxy runs (n={len(y)})")
    ax.set_xlabel("observed target score")
    ax.set_ylabel("predicted target score")
    ax.set_title(f"{predictor.kind} predictor (ridge {predictor.ridge:.2g})")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _to_xy(W: np.ndarray) -> np.ndarray:
    """Barycentric (k, 3) -> plane (k, 2) in an equilateral triangle with vertices at domains 0, 1, 2."""
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
    return W @ corners


def plot_simplex(predictor, W: np.ndarray, y: np.ndarray, domains: list[str], best: np.ndarray | None,
                 path: str | os.PathLike[str], resolution: int = 60, note: str = "") -> Path:
    """Heat map of the predictor over the 3-domain simplex, observed runs as points coloured by their score on
    the same scale, and the optimiser's mixture as a star; `note` is a second title line."""
    import matplotlib.tri as mtri

    if len(domains) != 3:
        raise ValueError(f"a simplex heat map needs exactly 3 domains, got {len(domains)}")
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ij = [(i, j) for i in range(resolution + 1) for j in range(resolution + 1 - i)]
    grid = np.array([[i, j, resolution - i - j] for i, j in ij], dtype=float) / resolution  # (g, 3)
    z = predictor.predict(grid)
    xy = _to_xy(grid)
    vmin, vmax = float(min(z.min(), y.min())), float(max(z.max(), y.max()))
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    tri = mtri.Triangulation(xy[:, 0], xy[:, 1])
    levels = np.linspace(vmin, vmax, 21) if vmax > vmin else np.linspace(vmin - 0.5, vmin + 0.5, 3)
    cs = ax.tricontourf(tri, z, levels=levels, cmap="viridis")
    pts = _to_xy(W)
    ax.scatter(pts[:, 0], pts[:, 1], c=y, cmap="viridis", vmin=vmin, vmax=vmax, edgecolors="white", s=45,
               zorder=3, label="proxy runs")
    if best is not None:
        b = _to_xy(np.asarray(best)[None])[0]
        ax.scatter([b[0]], [b[1]], marker="*", s=220, color="red", edgecolors="black", zorder=4,
                   label="optimised")
    for (cx, cy), name, (dx, dy) in zip(_to_xy(np.eye(3)), domains, [(-0.04, -0.06), (0.04, -0.06), (0, 0.04)]):
        ax.annotate(name, (cx + dx, cy + dy), ha="center", fontsize=9)
    fig.colorbar(cs, ax=ax, label="target score (predicted; points: observed)", format="%.2f")
    ax.set_xlim(-0.12, 1.12)
    ax.set_ylim(-0.12, 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("quadratic predictor over the mixture simplex" + (f"\n{note}" if note else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

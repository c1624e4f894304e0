"""Plotting helpers for the chapters' static figures (matplotlib)."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from .checks import ExponentFit


def subplots(ncols: int = 1, *, width: float = 6.4, height: float = 3.2):
    """``plt.subplots`` with the book's default size and a constrained layout."""
    return plt.subplots(1, ncols, figsize=(width, height), layout="constrained")


def power_law(ax: Axes, sizes: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray,
              fit: ExponentFit, *, label: str, color: str | None = None, marker: str = "o") -> None:
    """Measured ``values`` against ``sizes`` on log-log axes, with the fitted power law dashed."""
    sizes = np.asarray(sizes, dtype=float)
    line, = ax.loglog(sizes, values, marker, color=color, label=f"{label} (measured)")
    ax.loglog(sizes, fit.prefactor * sizes**fit.exponent, "--", color=line.get_color(),
              label=f"fit: exponent {fit.exponent:.3f}")

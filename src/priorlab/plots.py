"""Figures people would rather look at than read (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_passk(rows: list[dict], path: str | Path, split: str | None = None) -> Path:
    """pass@k vs k (log2 axis) per depth: verified solid with 95% CI band, answer dashed,
    uniform-guessing chance dotted grey. One panel per split."""
    rows = [r for r in rows if r["format"] == "all" and r["context"] == "all"]
    splits = sorted({r["split"] for r in rows}) if split is None else [split]
    fig, axes = plt.subplots(1, len(splits), figsize=(6.5 * len(splits), 4.5), squeeze=False)
    depths = sorted({r["depth"] for r in rows})
    cmap = plt.get_cmap("viridis", max(2, len(depths)))
    for ax, sp in zip(axes[0], splits):
        for i, d in enumerate(depths):
            for metric, style in (("verified", "-"), ("answer", "--")):
                sel = sorted((r for r in rows if r["split"] == sp and r["depth"] == d and r["metric"] == metric),
                             key=lambda r: r["k"])
                if not sel:
                    continue
                ks = [r["k"] for r in sel]
                tag = "" if sel[0]["in_distribution"] else " (OOD)"
                ax.plot(ks, [r["pass_at_k"] for r in sel], style, color=cmap(i), marker="o", ms=3,
                        label=f"depth {d}{tag}" if metric == "verified" else None)
                if metric == "verified":
                    ax.fill_between(ks, [r["ci_low"] for r in sel], [r["ci_high"] for r in sel],
                                    color=cmap(i), alpha=0.15)
                else:
                    ax.plot(ks, [r["chance"] for r in sel], ":", color="grey", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("k (samples)")
        ax.set_ylabel("pass@k")
        ax.set_title(f"{sp}: verified (solid, 95% CI) vs answer-only (dashed); chance dotted")
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    return save(fig, path)


def save(fig, path: str | Path, dpi: int = 120) -> Path:
    """Tight layout, write PNG, close the figure; return the path."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)

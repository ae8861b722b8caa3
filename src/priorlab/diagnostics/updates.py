"""What an update changed between two checkpoints: sparsity, rank, and overlap of two runs.

Source: Mukherjee et al., "RL updates sparse subnetworks" (arXiv 2505.11711), as read in their
``src/check_sparsity.py`` / ``src/update_rank.py`` (shared/research/claims.md §5), plus the
RL's Razor caveat that the reported sparsity may be bf16 rounding. So every measurement is made
twice: on the fp32 values and after casting *both* checkpoints to bf16.

- changed: ``|Δ| > tol`` with ``Δ = θ_B − θ_A`` (tol 0 = exactly equal counts as unchanged;
  the paper's ``isclose(Δ, 0, atol=1e-5)`` is the complement at tol 1e-5).
- update rank of a 2-D matrix: ``torch.linalg.matrix_rank(Δ)`` (singular values above
  ``rtol · σ_max``, default ``rtol = max(shape) · eps_fp32`` as in ``update_rank.py``), reported
  as ``rank / min(shape)``.
- overlap of two runs from the same start A (run 1: A→B, run 2: A→C) with changed sets I1, I2:
  ``o1 = |I1∩I2| / |I1|``, ``o2 = |I1∩I2| / |I2|``. Independent random masks of the same
  densities d1, d2 overlap in expectation ``o1 = d2``, ``o2 = d1`` (the random baseline).

Checkpoints are HF directories (``*.safetensors``, sharded or not), a single ``.safetensors``
file, or an in-memory ``{name: tensor}`` mapping. Tensors are read one at a time (memory-mapped).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import torch

from priorlab.diagnostics import DiagnosticInputError

TOLERANCES = (0.0, 1e-8, 1e-6, 1e-5, 1e-4)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


class SafetensorsCheckpoint(Mapping):
    """Read-only ``{tensor name: tensor}`` over the ``*.safetensors`` files of a directory."""

    def __init__(self, path: str | Path):
        from safetensors import SafetensorError, safe_open

        self.path = Path(path)
        files = [self.path] if self.path.is_file() else sorted(self.path.glob("*.safetensors"))
        if not files:
            raise DiagnosticInputError(f"{self.path}: no *.safetensors file found; pass an HF model "
                                       f"directory saved with safetensors (save_pretrained) or a .safetensors file")
        self._file: dict[str, Path] = {}
        for f in files:
            try:
                with safe_open(str(f), framework="pt") as h:
                    self._file.update({k: f for k in h.keys()})
            except (SafetensorError, OSError) as e:
                raise DiagnosticInputError(f"{f}: not a readable safetensors file ({e}); the checkpoint is "
                                           f"truncated or corrupt") from None

    def __getitem__(self, name: str) -> torch.Tensor:
        from safetensors import safe_open

        with safe_open(str(self._file[name]), framework="pt") as h:
            return h.get_tensor(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._file)

    def __len__(self) -> int:
        return len(self._file)

    def __str__(self) -> str:
        return str(self.path)


def as_checkpoint(src) -> Mapping:
    """A path becomes a :class:`SafetensorsCheckpoint`; a mapping of tensors is used as is."""
    return src if isinstance(src, Mapping) else SafetensorsCheckpoint(src)


def _label(ckpt: Mapping, default: str) -> str:
    return str(ckpt) if isinstance(ckpt, SafetensorsCheckpoint) else default


def aligned(*ckpts: Mapping) -> Iterator[tuple[str, list[torch.Tensor]]]:
    """``(name, [tensor per checkpoint])`` in name order; a clear error when the checkpoints hold
    different tensor names or shapes."""
    labels = [_label(c, f"checkpoint {i + 1}") for i, c in enumerate(ckpts)]
    names = sorted(ckpts[0])
    for c, label in zip(ckpts[1:], labels[1:]):
        missing, extra = sorted(set(names) - set(c)), sorted(set(c) - set(names))
        if missing or extra:
            raise DiagnosticInputError(
                f"{label} and {labels[0]} hold different tensors (only in {labels[0]}: {missing[:3]}; "
                f"only in {label}: {extra[:3]}); compare checkpoints of the same architecture")
    for name in names:
        ts = [c[name] for c in ckpts]
        for t, label in zip(ts[1:], labels[1:]):
            if t.shape != ts[0].shape:
                raise DiagnosticInputError(
                    f"tensor {name!r} has shape {tuple(ts[0].shape)} in {labels[0]} but "
                    f"{tuple(t.shape)} in {label}; compare checkpoints of the same architecture")
        yield name, ts


def delta(a: torch.Tensor, b: torch.Tensor, dtype: str) -> torch.Tensor:
    """``b − a`` in fp32 after casting both to ``dtype`` ("fp32" or "bf16"), same shape."""
    cast = DTYPES[dtype]
    return b.to(cast).float() - a.to(cast).float()


def layer_of(name: str) -> str:
    """``model.layers.3.mlp.up_proj.weight`` -> ``model.layers.3``; tensors outside the
    transformer blocks (embeddings, final norm, head) are their own group."""
    m = re.match(r"^(.*?\.(?:layers|h|blocks)\.\d+)\.", name)
    return m.group(1) if m else name.removesuffix(".weight")


def _frac(num: int, den: int) -> float:
    return num / den if den else float("nan")


def update_sparsity(a, b, tols=TOLERANCES, dtypes=tuple(DTYPES)) -> list[dict]:
    """Fraction of entries changed from checkpoint ``a`` to ``b``.

    Rows ``{scope, name, dtype, tol, changed_frac, n_changed, n_params}``; scope is
    "overall" (name "all"), "layer" (see :func:`layer_of`) or "tensor" (every named tensor,
    1-D norms included). ``changed_frac`` is unitless in [0, 1].
    """
    a, b = as_checkpoint(a), as_checkpoint(b)
    counts: dict[tuple[str, str, str], np.ndarray] = {}  # (scope, name, dtype) -> [n_params, n per tol]
    for name, (ta, tb) in aligned(a, b):
        for dt in dtypes:
            absd = delta(ta, tb, dt).abs()
            c = np.array([absd.numel()] + [int((absd > t).sum()) for t in tols], dtype=np.int64)
            for key in (("overall", "all"), ("layer", layer_of(name)), ("tensor", name)):
                counts[key + (dt,)] = counts.get(key + (dt,), 0) + c
    order = {"overall": 0, "layer": 1, "tensor": 2}
    return [{"scope": scope, "name": name, "dtype": dt, "tol": t, "changed_frac": _frac(int(c[i + 1]), int(c[0])),
             "n_changed": int(c[i + 1]), "n_params": int(c[0])}
            for (scope, name, dt), c in sorted(counts.items(), key=lambda kv: (order[kv[0][0]], kv[0][1:]))
            for i, t in enumerate(tols)]


def update_ranks(a, b, dtypes=tuple(DTYPES), rtol: float | None = None) -> list[dict]:
    """Rank of ``Δ`` for every 2-D tensor. Rows ``{name, dtype, rows, cols, rank, full_rank,
    rank_ratio}``; ``full_rank = min(rows, cols)``; ``rank = 0`` for an unchanged matrix."""
    a, b = as_checkpoint(a), as_checkpoint(b)
    out = []
    for name, (ta, tb) in aligned(a, b):
        if ta.ndim != 2:
            continue
        for dt in dtypes:
            r = int(torch.linalg.matrix_rank(delta(ta, tb, dt), rtol=rtol))
            full = min(ta.shape)
            out.append({"name": name, "dtype": dt, "rows": int(ta.shape[0]), "cols": int(ta.shape[1]),
                        "rank": r, "full_rank": full, "rank_ratio": r / full})
    return out


def update_overlap(base, run1, run2, tols=TOLERANCES, dtypes=tuple(DTYPES)) -> list[dict]:
    """Overlap of the changed sets of two runs from the same ``base``, vs the random baseline.

    Rows ``{dtype, tol, density_1, density_2, o1, o2, o1_random, o2_random, n_params}``;
    ``o1_random = density_2`` and ``o2_random = density_1`` (module docstring). NaN where a
    run changed nothing.
    """
    base, run1, run2 = as_checkpoint(base), as_checkpoint(run1), as_checkpoint(run2)
    n_total, n1, n2, both = 0, {}, {}, {}
    for _, (t0, t1, t2) in aligned(base, run1, run2):
        n_total += t0.numel()
        for dt in dtypes:
            d1, d2 = delta(t0, t1, dt).abs(), delta(t0, t2, dt).abs()
            for t in tols:
                m1, m2 = d1 > t, d2 > t
                key = (dt, t)
                n1[key] = n1.get(key, 0) + int(m1.sum())
                n2[key] = n2.get(key, 0) + int(m2.sum())
                both[key] = both.get(key, 0) + int((m1 & m2).sum())
    rows = []
    for (dt, t) in n1:
        dens1, dens2 = n1[(dt, t)] / n_total, n2[(dt, t)] / n_total
        rows.append({"dtype": dt, "tol": t, "density_1": dens1, "density_2": dens2,
                     "o1": _frac(both[(dt, t)], n1[(dt, t)]), "o2": _frac(both[(dt, t)], n2[(dt, t)]),
                     "o1_random": dens2, "o2_random": dens1, "n_params": n_total})
    return rows


def plot_updates(sparsity: list[dict], ranks: list[dict], path: str | Path,
                 layer_tol: float = 1e-5) -> Path:
    """Three panels: overall changed fraction vs tolerance (fp32 vs bf16); per-layer changed
    fraction at ``layer_tol``; histogram of per-matrix rank ratios."""
    from priorlab.plots import plt, save

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    dts = sorted({r["dtype"] for r in sparsity}, reverse=True)
    tols = sorted({r["tol"] for r in sparsity})
    for dt in dts:
        sel = {r["tol"]: r["changed_frac"] for r in sparsity if r["scope"] == "overall" and r["dtype"] == dt}
        axes[0].plot(range(len(tols)), [sel[t] for t in tols], marker="o", label=dt)
    axes[0].set_xticks(range(len(tols)), [f"{t:g}" for t in tols])
    axes[0].set(xlabel="tolerance (|Δ| > tol counts as changed)", ylabel="fraction changed", ylim=(-0.02, 1.02),
                title="all parameters")
    layers = sorted({r["name"] for r in sparsity if r["scope"] == "layer"})
    width = 0.8 / max(1, len(dts))
    for i, dt in enumerate(dts):
        sel = {r["name"]: r["changed_frac"] for r in sparsity
               if r["scope"] == "layer" and r["dtype"] == dt and r["tol"] == layer_tol}
        axes[1].bar(np.arange(len(layers)) + i * width, [sel.get(n, np.nan) for n in layers], width, label=dt)
    axes[1].set_xticks(np.arange(len(layers)) + width * (len(dts) - 1) / 2, layers, rotation=60, ha="right", fontsize=7)
    axes[1].set(ylabel="fraction changed", ylim=(0, 1.02), title=f"per layer, tol {layer_tol:g}")
    for dt in dts:
        axes[2].hist([r["rank_ratio"] for r in ranks if r["dtype"] == dt], bins=20, range=(0, 1), alpha=0.6, label=dt)
    axes[2].set(xlabel="rank(Δ) / min(shape)", ylabel="matrices", title="update rank per matrix")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save(fig, path)

import pytest
import torch
from safetensors.torch import save_file

from priorlab.diagnostics import DiagnosticInputError
from priorlab.diagnostics.updates import (
    layer_of, plot_updates, update_overlap, update_ranks, update_sparsity,
)


def _state(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"model.embed_tokens.weight": torch.randn(20, 10, generator=g),
            "model.layers.0.mlp.up_proj.weight": torch.randn(40, 30, generator=g),
            "model.layers.0.input_layernorm.weight": torch.ones(30),
            "model.layers.1.mlp.up_proj.weight": torch.randn(40, 30, generator=g)}


def _perturb(state: dict, frac: float, seed: int, scale: float = 0.1) -> dict:
    """A copy with exactly ``frac`` of the entries of every tensor changed by ``scale``."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, t in state.items():
        flat = t.clone().flatten()
        idx = torch.randperm(flat.numel(), generator=g)[: round(frac * flat.numel())]
        flat[idx] += scale
        out[k] = flat.view_as(t)
    return out


def _row(rows, scope="overall", name="all", dtype="fp32", tol=0.0):
    return next(r for r in rows if (r["scope"], r["name"], r["dtype"], r["tol"]) == (scope, name, dtype, tol))


def test_exactly_30_percent_changed_overall_per_layer_and_per_tensor(tmp_path):
    a = _state()
    b = _perturb(a, 0.3, seed=1)
    save_file(a, tmp_path / "a.safetensors")
    (tmp_path / "b").mkdir()
    save_file(b, tmp_path / "b" / "model.safetensors")
    rows = update_sparsity(tmp_path / "a.safetensors", tmp_path / "b")
    for scope, name in (("overall", "all"), ("layer", "model.layers.0"), ("tensor", "model.embed_tokens.weight")):
        for dtype in ("fp32", "bf16"):
            assert _row(rows, scope, name, dtype)["changed_frac"] == pytest.approx(0.3, abs=1e-12)
    assert _row(rows, tol=1e-4)["changed_frac"] == pytest.approx(0.3)  # 0.1 steps survive every tol
    assert _row(rows)["n_params"] == 200 + 1200 + 30 + 1200
    assert {r["name"] for r in rows if r["scope"] == "layer"} == {
        "model.embed_tokens", "model.layers.0", "model.layers.1"}
    assert plot_updates(rows, update_ranks(a, b), tmp_path / "u.png").stat().st_size > 1000


def test_tiny_updates_are_changes_in_fp32_but_vanish_in_bf16():
    g = torch.Generator().manual_seed(0)
    # bf16-representable weights nudged by 1e-7 relative: ~1 fp32 ulp, far inside a bf16 ulp
    a = {"w": (torch.rand(50, 50, generator=g) + 0.5).bfloat16().float()}
    b = {"w": a["w"] * (1 + 1e-7 * torch.randn(50, 50, generator=g).sign())}
    rows = update_sparsity(a, b)
    assert _row(rows, dtype="fp32")["changed_frac"] > 0.9
    assert _row(rows, dtype="bf16")["changed_frac"] == 0.0
    assert _row(rows, dtype="fp32", tol=1e-6)["changed_frac"] == 0.0


def test_planted_rank_3_update_has_rank_3():
    g = torch.Generator().manual_seed(0)
    a = {"w": torch.randn(64, 48, generator=g), "v": torch.randn(48, generator=g)}
    upd = 0.1 * torch.randn(64, 3, generator=g) @ torch.randn(3, 48, generator=g)
    rows = update_ranks(a, {"w": a["w"] + upd, "v": a["v"]}, dtypes=("fp32",))
    assert rows == [{"name": "w", "dtype": "fp32", "rows": 64, "cols": 48, "rank": 3, "full_rank": 48,
                     "rank_ratio": 3 / 48}]


def test_overlap_of_identical_masks_is_one_and_random_baseline_matches_density():
    a = _state()
    b = _perturb(a, 0.3, seed=1)
    same = update_overlap(a, b, b, dtypes=("fp32",))
    assert all(r["o1"] == 1.0 and r["o2"] == 1.0 for r in same)
    c = _perturb(a, 0.5, seed=2)  # independent random mask of density 0.5
    r = next(r for r in update_overlap(a, b, c, dtypes=("fp32",)) if r["tol"] == 0.0)
    assert (r["density_1"], r["density_2"]) == pytest.approx((0.3, 0.5), abs=2e-3)
    assert (r["o1_random"], r["o2_random"]) == (r["density_2"], r["density_1"])
    assert r["o1"] == pytest.approx(r["o1_random"], abs=0.05) and r["o2"] == pytest.approx(r["o2_random"], abs=0.05)


def test_mismatched_checkpoints_name_the_tensor_and_the_fix():
    a = _state()
    with pytest.raises(DiagnosticInputError, match=r"'model.layers.1.mlp.up_proj.weight' has shape \(40, 30\)"):
        update_sparsity(a, a | {"model.layers.1.mlp.up_proj.weight": torch.zeros(40, 31)})
    with pytest.raises(DiagnosticInputError, match="different tensors"):
        update_sparsity(a, {k: v for k, v in a.items() if "embed" not in k})


def test_missing_safetensors_is_a_clear_error(tmp_path):
    with pytest.raises(DiagnosticInputError, match="no \\*.safetensors"):
        update_sparsity(tmp_path, tmp_path)


def test_layer_names():
    assert layer_of("model.layers.12.self_attn.q_proj.weight") == "model.layers.12"
    assert layer_of("lm_head.weight") == "lm_head"

"""The CUDA path: pretraining, sampling and one RL step on a GPU (skipped without one; run by
``benchmarks/gpu.sh``). Each asserts behaviour that must hold on any device: positive finite
losses, the sampler's shapes and seeded reproducibility, an RL run end to end."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import TINY

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (benchmarks/gpu.sh runs these)")]


@pytest.fixture(scope="module")
def cuda_prior(tmp_path_factory):
    from priorlab.config import load_config
    from priorlab.pretrain import pretrain

    out = tmp_path_factory.mktemp("cuda_prior")
    return out, pretrain(load_config(None, [s for s in TINY if "precision" not in s] + ["pretrain.precision=auto"]),
                         out, show=False)


def test_pretraining_runs_on_the_gpu(cuda_prior):
    from priorlab.runs import read_jsonl

    out, model_dir = cuda_prior
    rows = [r for r in read_jsonl(out / "metrics.jsonl") if "loss" in r]
    assert rows and all(r["loss"] is not None and r["loss"] > 0 for r in rows)
    assert (model_dir / "model.safetensors").exists()


def test_sampling_on_the_gpu(cuda_prior):
    from priorlab.evaluate import world_for
    from priorlab.model import load_model
    from priorlab.sampling import sample
    from priorlab.tokenizer import load_tokenizer

    _, model_dir = cuda_prior
    model, tok = load_model(model_dir, torch.device("cuda")), load_tokenizer(model_dir)
    world = world_for(model_dir)
    prompts = [world.model_input(p) for p in world.problems("eval", 2, 4)]
    s = sample(model, tok, prompts, 3, max_new_tokens=16, seed=0)
    assert len(s.ids) == 12 and all(0 < len(x) <= 16 for x in s.ids)
    again = sample(model, tok, prompts, 3, max_new_tokens=16, seed=0)
    assert [list(a) for a in s.ids] == [list(b) for b in again.ids]  # seeded draws: the same on a GPU too


def test_one_rl_run_on_the_gpu(cuda_prior, tmp_path):
    from priorlab.config import load_config
    from priorlab.rl import trainer
    from priorlab.rl.config import RLConfig
    from priorlab.runs import read_jsonl

    _, model_dir = cuda_prior
    sets = [f"prior={model_dir}", "allow_unclicked_prior=true", "steps=2", "data.depths=[2]", "data.n_prompts=4",
            "rollout.prompts_per_step=2", "rollout.group_size=4", "rollout.max_new_tokens=24", "probe.every=0",
            "final.depths=[2]", "final.n_problems=2", "final.n_samples=2", "final.bootstrap=10", "algo.mini_batches=2",
            "checkpoint_every=2", "precision=fp32"]
    trainer.train(load_config(None, sets, model=RLConfig), tmp_path, show=False)
    train = [r for r in read_jsonl(tmp_path / "metrics.jsonl") if r.get("kind") == "train"]
    assert len(train) == 2 and all(r["loss"] is not None for r in train)


def test_checkpoint_rng_state_holds_the_cuda_generators():
    """A checkpoint's RNG state restores every CUDA device's generator, not only the CPU one."""
    from priorlab.checkpoint import decode_state, encode_state, rng_state, set_rng_state

    torch.cuda.manual_seed_all(7)
    tensors: dict = {}
    saved = encode_state(rng_state(), tensors)
    first = torch.rand(4, device="cuda")
    set_rng_state(decode_state(saved, tensors))
    assert torch.equal(torch.rand(4, device="cuda"), first)

"""Shared fixtures: a tiny world, config and prior, trained once per test session."""

from __future__ import annotations

import pytest
import torch

from priorlab.config import load_config
from priorlab.worlds import make_world

TINY = [
    "model.preset=tiny", "pretrain.tokens=16384", "pretrain.batch_size=8", "pretrain.seq_len=128",
    "pretrain.warmup_steps=2", "pretrain.checkpoint_every=8", "pretrain.log_every=4",
    "pretrain.threads=1", "pretrain.precision=fp32", "pretrain.probe_every=0",
    "eval.depths=[2,6]", "eval.n_problems=3", "eval.n_samples=4", "eval.bootstrap=50",
]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def world():
    return make_world("arith_dag")


@pytest.fixture
def tiny_cfg():
    return load_config(None, TINY)


@pytest.fixture(scope="session")
def tiny_prior(tmp_path_factory):
    """A pretrained tiny prior: (run dir, model dir)."""
    from priorlab.pretrain import pretrain

    out = tmp_path_factory.mktemp("prior")
    model_dir = pretrain(load_config(None, TINY), out, show=False)
    return out, model_dir


@pytest.fixture(scope="session")
def tiny_conf_prior(tmp_path_factory):
    """A tiny prior that states a confidence: every document answer-only at depth 2 with a
    ``<conf>`` field (uniform 50..100%), 64k tokens at lr 0.01 (~2 s): its model dir."""
    from priorlab.pretrain import pretrain

    sets = TINY + ["corpus.confidence_prob=1.0", "corpus.formats={answer: 1.0}", "corpus.depths={2: 1.0}",
                   "pretrain.tokens=65536", "pretrain.lr=0.01"]
    return pretrain(load_config(None, sets), tmp_path_factory.mktemp("conf_prior"), show=False)


@pytest.fixture(scope="session")
def tiny_rl_run(tiny_prior, tmp_path_factory):
    """A finished 2-step RL run on the tiny prior (checkpoints at steps 1 and 2, probe rows,
    before/after evaluations at depths 2 and 3): its run directory."""
    from priorlab.rl import trainer
    from priorlab.rl.config import RLConfig

    out = tmp_path_factory.mktemp("rl")
    sets = ["threads=1", "steps=2", "data.depths=[2]", "data.n_prompts=4", "rollout.prompts_per_step=2",
            "rollout.group_size=4", "rollout.max_new_tokens=24", "probe.every=1", "probe.n_problems=2",
            "probe.n_samples=2", "final.depths=[2,3]", "final.n_problems=3", "final.n_samples=2",
            "final.bootstrap=10", "algo.mini_batches=2", "checkpoint_every=1", "optim.lr=0.001"]
    trainer.train(load_config(None, [f"prior={tiny_prior[1]}", *sets], model=RLConfig), out, show=False)
    return out

"""Shared fixtures: a tiny world, config and prior, trained once per test session."""

from __future__ import annotations

import pytest
import torch

from priorlab.config import load_config
from priorlab.worlds import make_world

TINY = [
    "model.preset=tiny", "pretrain.tokens=16384", "pretrain.batch_size=8", "pretrain.seq_len=128",
    "pretrain.warmup_steps=2", "pretrain.checkpoint_every=8", "pretrain.log_every=4",
    "pretrain.threads=1", "pretrain.precision=fp32",
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

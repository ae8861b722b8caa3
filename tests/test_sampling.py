import tomllib
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from packaging.requirements import Requirement

from priorlab.model import load_model
from priorlab.sampling import encode, sample
from priorlab.tokenizer import load_tokenizer


def _setup(tiny_prior, world):
    _, model_dir = tiny_prior
    return load_model(model_dir), load_tokenizer(model_dir), [world.model_input(world.problem("eval", i, 3))
                                                              for i in range(3)]


def test_shapes_stop_and_batching_independence(tiny_prior, world):
    model, tok, prompts = _setup(tiny_prior, world)
    s = sample(model, tok, prompts, 5, max_new_tokens=12, seed=3, bf16=False)
    assert len(s) == 15 and list(s.prompt_index) == [i for i in range(3) for _ in range(5)]
    for ids, lp, ent, fin in zip(s.ids, s.logprobs, s.entropies, s.finished):
        assert 1 <= len(ids) <= 12 and len(lp) == len(ids) == len(ent)
        assert fin == (ids[-1] == tok.eos_token_id) and tok.eos_token_id not in ids[:-1]
        assert (lp <= 0).all() and (ent >= 0).all()
    rebatched = sample(model, tok, prompts, 5, max_new_tokens=12, seed=3, bf16=False, max_rows=2)
    assert rebatched.ids == s.ids and rebatched.text == s.text
    assert sample(model, tok, prompts, 5, max_new_tokens=12, seed=4, bf16=False).ids != s.ids


def test_logprobs_match_a_teacher_forced_pass(tiny_prior, world):
    model, tok, prompts = _setup(tiny_prior, world)
    s = sample(model, tok, prompts, 2, max_new_tokens=10, seed=0, bf16=False, temperature=0.7)
    for r in range(len(s)):
        prefix = encode(tok, prompts[s.prompt_index[r]])["input_ids"]
        x = torch.tensor([prefix + s.ids[r]])
        with torch.no_grad():
            logp = torch.log_softmax(model(x).logits[0, len(prefix) - 1:-1].float() / 0.7, -1)
        want = logp.gather(1, torch.tensor(s.ids[r])[:, None]).squeeze(1).numpy()
        np.testing.assert_allclose(s.logprobs[r], want, atol=1e-4)


def test_tiny_top_p_is_greedy(tiny_prior, world):
    model, tok, prompts = _setup(tiny_prior, world)
    s = sample(model, tok, prompts[:1], 3, max_new_tokens=6, seed=1, top_p=1e-6, bf16=False)
    assert s.ids[0] == s.ids[1] == s.ids[2]
    prefix = encode(tok, prompts[0])["input_ids"]
    with torch.no_grad():
        first = model(torch.tensor([prefix])).logits[0, -1].argmax().item()
    assert s.ids[0][0] == first


def test_sampling_uses_the_supported_cache_api_and_warns_nothing(tiny_prior, world, capfd):
    """transformers 5.24 deprecates ``past_key_values`` ("will be removed in version 5.40"): one
    sampling call under ``-W error``-like filters raises no warning and prints nothing."""
    model, tok, prompts = _setup(tiny_prior, world)
    capfd.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sample(model, tok, prompts[:2], 3, max_new_tokens=8, seed=5, bf16=False)
    assert len(s) == 6 and capfd.readouterr().err == ""


def test_library_deprecations_stay_out_of_the_users_output():
    """After :func:`quiet_hf` (every model load calls it) transformers' deprecation notices are
    not shown; other warnings are."""
    import logging

    from transformers.utils import logging as hf_logging
    from transformers.utils.deprecation import deprecate_kwarg

    from priorlab.model import quiet_hf

    @deprecate_kwarg("old", "99.0", new_name="new")
    def f(new=None):
        return new

    quiet_hf()
    with warnings.catch_warnings(record=True) as seen:  # the filters as they are, recording
        assert f(old=1) == 1
        warnings.warn("something else", FutureWarning)
    assert [str(w.message) for w in seen] == ["something else"]
    handlers = hf_logging.get_logger().handlers  # transformers' own stderr handler
    record = lambda msg: logging.LogRecord("transformers.x", logging.WARNING, "", 0, msg, None, None)  # noqa: E731
    assert handlers and all(not h.filter(record("`cache_params` are deprecated. Use `cache` instead."))
                            and h.filter(record("Some weights were not initialized")) for h in handlers)


def test_dependencies_are_bounded_above_and_admit_the_installed_versions():
    """A fresh install gets the versions the project was tested with, not the newest release
    (transformers removes deprecated arguments within a major version)."""
    deps = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in map(Requirement, deps):
        assert any(s.operator in ("<", "<=", "==", "~=") for s in dep.specifier), f"{dep}: no upper bound"
        assert dep.specifier.contains(version(dep.name), prereleases=True), f"{dep}: installed {version(dep.name)}"


def test_priorlab_attention_is_sdpa_with_its_masks_and_runs_fp32_under_cpu_autocast(tiny_prior, monkeypatch):
    """load_model's attention (model.ATTENTION) keeps SDPA's padding masks (an unregistered
    implementation would silently get none) and, under bf16 autocast on CPU, runs SDPA in fp32."""
    from transformers import AutoModelForCausalLM

    _, model_dir = tiny_prior
    ours = load_model(model_dir)
    plain = AutoModelForCausalLM.from_pretrained(str(model_dir), attn_implementation="sdpa").eval()
    x = torch.tensor([[0, 0, 5, 6, 7], [4, 5, 6, 7, 8]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    with torch.no_grad():
        assert torch.equal(ours(x, attention_mask=mask).logits, plain(x, attention_mask=mask).logits)
        assert not torch.equal(ours(x).logits, ours(x, attention_mask=mask).logits)
    seen = []  # (input dtype, would autocast recast it to bf16) per SDPA call
    sdpa = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention",
                        lambda q, *a, **k: seen.append((q.dtype, torch.is_autocast_enabled("cpu"))) or sdpa(q, *a, **k))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        ours(x, attention_mask=mask)
        plain(x, attention_mask=mask)
    n = len(seen) // 2
    assert n and set(seen[:n]) == {(torch.float32, False)} and set(seen[n:]) == {(torch.float32, True)}


def test_shared_prompt_cache_samples_what_a_repeated_cache_samples(tiny_prior, world, monkeypatch):
    """The prompt KV kept once per prompt (sampling._PromptLayer, with uneven samples per prompt
    and finished rows compacted away) gives the tokens and log-probs of the per-row cache."""
    import priorlab.sampling as S

    model, tok, prompts = _setup(tiny_prior, world)
    kw = dict(max_new_tokens=16, seed=7, bf16=False, max_rows=4, temperature=1.5)
    assert S._shares_prompts(model)
    shared = sample(model, tok, prompts, 5, **kw)
    monkeypatch.setattr(S, "_shares_prompts", lambda model: False)
    repeated = sample(model, tok, prompts, 5, **kw)
    assert shared.ids == repeated.ids and any(shared.finished) and not all(shared.finished)
    for a, b in zip(shared.logprobs, repeated.logprobs):
        np.testing.assert_allclose(a, b, atol=1e-5)
    monkeypatch.undo()
    bf16 = sample(model, tok, prompts, 5, **kw | {"bf16": True})  # CPU autocast: bf16 values beside fp32 keys
    assert len(bf16) == 15 and all(np.isfinite(lp).all() for lp in bf16.logprobs)


def test_lean_decode_step_samples_what_the_models_forward_samples(tiny_prior, world, monkeypatch):
    """The sampler's decode step without transformers' modules (priorlab.lean) gives the tokens
    of the model's own forward and its log-probs within float rounding, in fp32 and bf16 autocast."""
    import priorlab.sampling as S

    model, tok, prompts = _setup(tiny_prior, world)
    assert S.lean_decoder(model) is not None
    for bf16 in (False, True):
        kw = dict(max_new_tokens=16, seed=3, bf16=bf16, max_rows=4, temperature=1.5)
        lean = sample(model, tok, prompts, 5, **kw)
        with monkeypatch.context() as m:
            m.setattr(S, "lean_decoder", lambda *a, **kw: None)
            forward = sample(model, tok, prompts, 5, **kw)
        assert lean.ids == forward.ids and any(lean.finished) and not all(lean.finished)
        for a, b in zip(lean.logprobs, forward.logprobs):
            np.testing.assert_allclose(a, b, atol=1e-5 if not bf16 else 1e-3)


def test_checking_for_finished_rows_less_often_samples_the_same(tiny_prior, world, monkeypatch):
    """The host reads finished rows only every few steps on CUDA (sampling.CHECK_EVERY): rows that
    finish in between decode unrecorded tokens, so every completion is what a check per step gives."""
    import priorlab.sampling as S

    model, tok, prompts = _setup(tiny_prior, world)
    kw = dict(max_new_tokens=16, seed=5, bf16=False, max_rows=8, temperature=1.5)
    every = sample(model, tok, prompts, 6, **kw)
    monkeypatch.setitem(S.CHECK_EVERY, "cpu", 5)
    sparse = sample(model, tok, prompts, 6, **kw)
    assert sparse.ids == every.ids and list(sparse.finished) == list(every.finished)
    assert any(every.finished) and not all(every.finished)
    for a, b, c, d in zip(sparse.logprobs, every.logprobs, sparse.entropies, every.entropies):
        np.testing.assert_allclose(a, b, atol=1e-5)
        np.testing.assert_allclose(c, d, atol=1e-5)


def test_lean_decoder_declines_models_it_does_not_reproduce():
    """A Llama with biases or grouped key/value heads decodes through its own forward."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from priorlab.lean import lean_decoder

    base = dict(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4)
    assert lean_decoder(LlamaForCausalLM(LlamaConfig(**base))) is not None
    assert lean_decoder(LlamaForCausalLM(LlamaConfig(**base, attention_bias=True))) is None
    assert lean_decoder(LlamaForCausalLM(LlamaConfig(**base, num_key_value_heads=2))) is None


def test_rotated_projection_rows_give_ropes_rotate_half():
    """The lean step folds RoPE's rotate_half into the projection weights (permuted, negated rows)."""
    from transformers.models.llama.modeling_llama import rotate_half

    from priorlab.lean import _rotated

    torch.manual_seed(0)
    w, x = torch.randn(4 * 8, 16), torch.randn(5, 16)
    want = rotate_half((x @ w.T).view(5, 4, 8)).reshape(5, 32)
    torch.testing.assert_close(x @ _rotated(w, 4).T, want)

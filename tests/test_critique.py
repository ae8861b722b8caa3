"""Critique-GRPO (arXiv 2506.03106): critiques from the verifier round-trip through it, refinement
documents, the shaped off-policy loss against hand-computed gradients, refinements entering the
group, and the preset end to end on the tiny prior."""

import random

import pytest
import torch

from priorlab.config import ConfigError, load_config
from priorlab.corpus import document_texts, refine_doc
from priorlab.rl.config import RLConfig
from priorlab.worlds import make_world
from priorlab.worlds.critique import KINDS, critique, first_wrong_step, read_critique, refine_input
from priorlab.worlds.formats import CRITIQUE_TOKENS, parse_line
from tests.test_rl_trainer import parts, rl_cfg

CRIT = ["critique.enabled=true", "critique.refinements=2", "data.depths=[4]", "final.depths=[4]",
        "reward.weights={correct: 1.0}"]


def attempts(world, n=24):
    """(problem, wrong attempt, its verdict) at depths 2-5, wrong in several ways."""
    out = []
    for i in range(n):
        p = world.problem("rl", i, 2 + i % 4)
        gold = world.render_solution(p, "steps")
        text = [world.wrong_solution(p, random.Random(i)), gold.split("<ans>")[0], "x = 1 + 2 = x 3 ; " + gold,
                gold.rsplit(" ", 1)[0]][i % 4]
        out.append((p, text, world.verify(p, text)))
    return out


@pytest.fixture(scope="module")
def refine_prior(tmp_path_factory):
    """The tiny prior's recipe with 10% refinement documents: its model dir (critique markers known)."""
    from priorlab.pretrain import pretrain
    from tests.conftest import TINY

    cfg = load_config(None, TINY + ["corpus.refine.share=0.1", "pretrain.seq_len=256"])
    return pretrain(cfg, tmp_path_factory.mktemp("refine"), show=False)


def test_critique_markers_come_with_refinement_documents_only(world, tiny_prior, refine_prior):
    from priorlab.tokenizer import load_tokenizer

    assert not set(CRITIQUE_TOKENS) & set(world.vocabulary())
    plain, refine = load_tokenizer(tiny_prior[1]).get_vocab(), load_tokenizer(refine_prior).get_vocab()
    assert not set(CRITIQUE_TOKENS) & set(plain)  # every other prior keeps its tokenizer (and weights)
    assert set(CRITIQUE_TOKENS) <= set(refine) and all(refine[w] == i for w, i in plain.items())


def test_a_continued_stage_with_refinement_documents_extends_the_vocabulary(tiny_prior):
    from priorlab.model import build_model, load_model
    from priorlab.pretrain import init_weights
    from priorlab.tokenizer import build_tokenizer

    world = make_world("arith_dag")
    tok = build_tokenizer(world.vocabulary() + list(CRITIQUE_TOKENS))
    model = build_model(load_config(None, ["model.preset=tiny"]).model, tok)
    fresh = model.get_input_embeddings().weight.detach().clone()
    init_weights(model, tok, str(tiny_prior[1]))
    old = load_model(tiny_prior[1]).get_input_embeddings().weight
    emb = model.get_input_embeddings().weight
    assert torch.equal(emb[:len(old)], old) and torch.equal(emb[len(old):], fresh[len(old):])
    assert model.get_output_embeddings().weight.shape[0] == len(tok)


@pytest.mark.parametrize("kind", KINDS)
def test_critiques_round_trip_through_the_verifier(world, kind):
    for p, text, v in attempts(world):
        assert not v.verified
        right, body = read_critique(critique(world, p, v, kind))
        assert right is False
        step = first_wrong_step(world, p, v)
        if kind == "none":
            assert body == ""
        elif kind == "step" and step is not None:  # the named step is the verifier's expected one
            assert parse_line(body.split()) == ("steps", step)
            assert world.verify(p, body).steps == [{"target": step.target, "status": "ok"}]
            assert step in world.gold_steps(p) and all(
                s["status"] == "ok" for s in v.steps if s["target"] in
                {g.target for g in world.gold_steps(p)[:world.gold_steps(p).index(step)]})
        else:  # the gold answer, parsed back by the verifier
            back = world.verify(p, body)
            assert back.parsed_answer == p.answer and back.answer_correct


def test_a_right_attempt_gets_the_right_verdict_only(world):
    p = world.problem("rl", 0, 3)
    v = world.verify(p, world.render_solution(p, "steps"))
    for kind in KINDS:
        assert read_critique(critique(world, p, v, kind)) == (True, "")


def test_wrong_solutions_slip_once_and_are_never_verified(world):
    for i in range(40):
        p = world.problem("pretrain", i, 2 + i % 4)
        v = world.verify(p, world.wrong_solution(p, random.Random(i)))
        assert v.format == "steps" and v.well_formed and not v.verified and v.n_value_mismatch >= 1


def test_refinement_documents_hold_attempt_critique_solution_and_leave_the_rest_alone(world):
    cfg = load_config(None, ["corpus.refine.share=0.3"]).corpus
    docs, _ = document_texts(world, cfg, 4000)
    refine = [t for t, tags in docs if tags["format"] == "refine"]
    assert 0 < len(refine) < len(docs)
    for text in refine:
        toks = text.split()
        assert toks.count("<sol>") == 2 and toks.count("<crit>") == 1 and toks[-1] == "<eos>"
    plain = load_config(None, []).corpus
    assert document_texts(world, plain, 4000) == document_texts(world, plain.model_copy(
        update={"refine": plain.refine.model_copy(update={"critiques": {"step": 1.0}})}), 4000)


def test_refinement_document_layout_and_loss_on_the_last_solution_only(world):
    from priorlab.corpus import build_corpus
    from priorlab.tokenizer import build_tokenizer

    p = world.problem("pretrain", 3, 3)
    doc = refine_doc(world, p, random.Random(0), {"step": 1.0})
    attempt = doc.split(" <sol> ")[1].split(" <crit>")[0]
    v = world.verify(p, attempt)
    assert doc == f"{refine_input(world, p, attempt, critique(world, p, v, 'step'))} " \
                  f"{world.render_solution(p, 'steps')} <eos>"
    tok = build_tokenizer(world.vocabulary() + list(CRITIQUE_TOKENS))
    cfg = load_config(None, ["corpus.refine.share=0.99", "corpus.depths={3: 1.0}"]).corpus
    c = build_corpus(world, cfg, tok.get_vocab(), 512, 256)
    inv = {i: w for w, i in tok.get_vocab().items()}
    row, sol = c.tokens[0], c.sol[0]
    first = [inv[int(t)] for t, s in zip(row, sol) if s][:12]
    ends = [i for i, t in enumerate(row) if inv[int(t)] == "<eos>"]
    seg = [inv[int(t)] for t in row[:ends[0] + 1]]
    last_sol = len(seg) - 1 - seg[::-1].index("<sol>")
    assert sol[:ends[0] + 1].nonzero()[0].min() == last_sol + 1  # nothing before the last <sol> is trained
    assert "<crit>" not in first


def test_priors_without_critique_markers_refuse_critiques_but_not_gold_traces(tiny_prior):
    from priorlab.rl.config import check_critique

    with pytest.raises(ConfigError, match="critique.enabled.*<crit>.*corpus.refine.share"):
        check_critique(rl_cfg(tiny_prior[1], *CRIT))
    check_critique(rl_cfg(tiny_prior[1], *CRIT, "critique.kind=gold"))  # a gold trace needs no marker


# ---------------------------------------------------------------- the loss


def test_shaped_term_gradient_is_gamma_over_p_plus_gamma_squared_times_grad_p():
    from priorlab.rl.losses import shaped_offpolicy

    torch.manual_seed(0)
    B, T, V, gamma = 2, 3, 5, 0.1
    logits = torch.randn(B, T, V, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(V, (B, T))
    adv = torch.tensor([1.5, -0.5], dtype=torch.float64)
    logp = torch.log_softmax(logits, -1).gather(-1, targets[..., None]).squeeze(-1)
    loss, low, high = shaped_offpolicy(logp, torch.zeros_like(logp), adv, gamma=gamma)
    loss.sum().backward()
    soft = torch.softmax(logits.detach(), -1)
    p = soft.gather(-1, targets[..., None]).squeeze(-1)
    grad_p = p[..., None] * (torch.nn.functional.one_hot(targets, V) - soft)  # dp/dlogits of each token
    want = -adv[:, None, None] * (gamma / (p + gamma) ** 2)[..., None] * grad_p
    torch.testing.assert_close(logits.grad, want)
    torch.testing.assert_close(loss.detach(), -adv[:, None] * p / (p + gamma))
    assert not low.any() and not high.any()


def test_policy_loss_routes_off_policy_rows_to_the_shaped_term_and_keeps_the_clip_elsewhere():
    from priorlab.rl.losses import clipped_surrogate, policy_loss, shaped_offpolicy

    torch.manual_seed(1)
    logp, logp_old = -torch.rand(3, 4), -torch.rand(3, 4)
    adv, mask = torch.tensor([1.0, -1.0, 0.5]), torch.ones(3, 4)
    off = torch.tensor([False, True, False])
    got, _ = policy_loss("clipped", logp, logp_old, adv, mask, off_policy=off, gamma=0.3, agg="constant",
                         normaliser=1.0)
    on = clipped_surrogate(logp, logp_old, adv)[0]
    shaped = shaped_offpolicy(logp, logp_old, adv, gamma=0.3)[0]
    torch.testing.assert_close(got, on[[0, 2]].sum() + shaped[1].sum())
    plain, _ = policy_loss("clipped", logp, logp_old, adv, mask, agg="constant", normaliser=1.0)
    torch.testing.assert_close(plain, on.sum())


def test_refinement_tokens_can_take_the_likelihood_which_reaches_tokens_the_shaping_cannot():
    """critique.loss=reinforce: −A·log p on refinement rows, whose gradient in log p is −A whatever p;
    the shaped term's is −A·γp/(p+γ)², ≈ p/γ of it at a token with p = 1e-6 (C12's wall)."""
    from priorlab.rl.losses import policy_loss

    logp = torch.tensor([[-0.1, -13.8]], requires_grad=True)
    adv, mask, off = torch.tensor([2.0]), torch.ones(1, 2), torch.tensor([True])
    for name in ("shaped_offpolicy", "reinforce"):
        logp.grad = None
        loss, _ = policy_loss("clipped", logp, logp.detach(), adv, mask, off_policy=off, gamma=0.1,
                              offpolicy_loss=name, agg="constant", normaliser=1.0)
        loss.backward()
        p = logp.detach().exp()
        want = -2.0 * (0.1 * p / (p + 0.1) ** 2 if name == "shaped_offpolicy" else torch.ones_like(p))
        torch.testing.assert_close(logp.grad, want)
    assert RLConfig(**{"critique": {"loss": "reinforce"}}).critique.loss == "reinforce"
    with pytest.raises(ValueError):
        RLConfig(**{"critique": {"loss": "likelihood"}})


# ---------------------------------------------------------------- refinements in the group


@pytest.mark.parametrize("kind", ["step", "gold"])
def test_the_best_refinement_replaces_the_first_sample_of_each_failed_group(refine_prior, tmp_path, kind):
    from priorlab.rl.refine import failed_prompts, refine
    from priorlab.rl.rollout import collect, step_prompts

    p = parts(refine_prior, tmp_path, *CRIT, f"critique.kind={kind}")
    idx = step_prompts(len(p.pool), 0, 2, p.cfg.seed)
    ro = collect(p.model, p.tok, p.world, p.pool, idx, p.cfg, 0, p.max_new)
    failed = failed_prompts(ro)
    assert failed  # the tiny prior never clicked: it fails depth 4
    new, stats = refine(p.model, p.tok, p.world, ro, [None, None], p.cfg, 0, p.max_new)
    firsts = [int((ro.group == g).nonzero()[0, 0]) for g in failed]
    assert sorted(new.off_policy.nonzero()[0].tolist()) == firsts
    for r in range(len(ro)):
        if r not in firsts:
            assert new.ids[r] == ro.ids[r] and new.verdicts[r] is ro.verdicts[r]
    assert new.prompt_ids == ro.prompt_ids  # the question alone: log-probs are taken without the critique
    assert stats["refine_prompts"] == len(failed) / 2
    if kind == "gold":
        assert all(new.verdicts[r].verified and new.rewards[r] == 1 for r in firsts) and stats["refine_success"] == 1
        assert all(p.tok.decode(new.ids[r]).split()[-1] == "<eos>" for r in firsts)


def test_refinements_are_pure_functions_of_seed_step_prompt_and_sample(refine_prior, tmp_path):
    from priorlab.rl.refine import candidates
    from priorlab.rl.rollout import collect, step_prompts

    p = parts(refine_prior, tmp_path, *CRIT)
    ro = collect(p.model, p.tok, p.world, p.pool, step_prompts(len(p.pool), 0, 2, p.cfg.seed), p.cfg, 0, p.max_new)
    both = candidates(p.model, p.tok, p.world, ro, [0, 1], p.cfg, 0, p.max_new)
    one = candidates(p.model, p.tok, p.world, ro, [1], p.cfg, 0, p.max_new)
    assert [both.ids[i] for i in (2, 3)] == one.ids  # prompt 1's refinements whether or not prompt 0 failed
    other = candidates(p.model, p.tok, p.world, ro, [1], p.cfg, 1, p.max_new)
    assert other.ids != one.ids or not any(one.ids)  # another step, other draws


def test_config_fields_fail_with_dotted_names():
    with pytest.raises(ConfigError, match="critique.knd"):
        load_config(None, ["critique.knd=step"], model=RLConfig)
    with pytest.raises(ConfigError, match="critique.kind"):
        load_config(None, ["critique.kind=stepp"], model=RLConfig)
    with pytest.raises(ConfigError, match="critique.refinements=9.*rollout.group_size=8"):
        load_config(None, ["critique.enabled=true", "critique.refinements=9"], model=RLConfig)


def test_critique_grpo_preset_runs_end_to_end(refine_prior, tmp_path):
    import json

    from typer.testing import CliRunner

    from priorlab.cli import app
    from priorlab.runs import read_jsonl
    from tests.test_rl_trainer import SMALL

    out = tmp_path / "run"
    sets = [s for x in [*SMALL, *CRIT, "critique.kind=answer"] for s in ("--set", x)]
    res = CliRunner().invoke(app, ["rl", "-c", "critique_grpo", "--prior", str(refine_prior), "--out", str(out),
                                   "--quiet", *sets])
    assert res.exit_code == 0, res.output
    rows = [r for r in read_jsonl(out / "metrics.jsonl") if r.get("kind") == "train"]
    assert len(rows) == 2 and all(r["refine_prompts"] > 0 and r["loss_tokens"] > 0 for r in rows)
    assert json.loads((out / "summary.json").read_text())["after"]


def test_refinement_log_probs_are_taken_under_the_question_alone(refine_prior, tmp_path):
    """One update on a batch with gold traces in the group: the ratio starts at 1 on every token,
    so the refinements' old log-probs are the policy's under the question (not the sampler's)."""
    from priorlab.rl import trainer as T

    p = parts(refine_prior, tmp_path, *CRIT, "critique.kind=gold", "algo.mini_batches=1")
    row = T.rl_step(p, 0)
    assert row["refine_prompts"] > 0 and abs(row["ratio_absdev"]) < 1e-4 and row["optimizer_steps"] == 1


def test_versus_resampling_compares_equal_numbers_of_refinements_and_fresh_samples(refine_prior, tmp_path):
    from priorlab.rl.refine import versus_resampling

    p = parts(refine_prior, tmp_path, *CRIT)
    res = versus_resampling(p.model, p.tok, p.world, p.pool, p.cfg, kinds=("step", "gold"))
    assert res["failed"] > 0 and res["per_prompt"] == 2
    assert res["gold"] == {"sample": 1.0, "prompt": 1.0}
    assert all(0 <= res[k][m] <= 1 for k in ("resample", "step") for m in ("sample", "prompt"))

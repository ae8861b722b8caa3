import json

import numpy as np
import pytest
import torch

from priorlab.config import load_config
from priorlab.diagnostics import DiagnosticInputError
from priorlab.diagnostics.contamination import (
    ProbeItem, contains, jsonl_items, plot_contamination, probe_contamination, rouge_l, summarize, truncate,
    world_items,
)
from priorlab.model import load_model
from priorlab.tokenizer import load_tokenizer
from tests.conftest import TINY

CONTAMINATED = ["corpus.contamination.n_items=4", "corpus.contamination.repeats=100",
                "corpus.contamination.depths=[2]", "corpus.depths={2: 1.0}", "pretrain.tokens=32768",
                "pretrain.lr=0.01"]


def test_rouge_l_by_hand():
    ref = "the cat sat on the mat".split()
    assert rouge_l(ref, ref) == 1.0
    assert rouge_l("a b c".split(), "x y".split()) == 0.0
    # LCS("the cat on mat", ref) = 4: P = 4/4, R = 4/6 -> F1 = 0.8
    assert rouge_l("the cat on mat".split(), ref) == pytest.approx(0.8)
    # LCS("b a c", "a b c") = 2 ("a c" or "b c"): P = R = 2/3
    assert rouge_l("b a c".split(), "a b c".split()) == pytest.approx(2 / 3)


def test_truncate_counts_whitespace_tokens_and_keeps_both_sides_nonempty():
    q = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9"
    assert truncate(q, 0.4) == ("w0 w1 w2 w3".split(), "w4 w5 w6 w7 w8 w9".split())
    assert len(truncate(q, 0.99)[1]) == 1 and len(truncate("a b", 0.1)[0]) == 1
    with pytest.raises(DiagnosticInputError):
        truncate("single", 0.5)
    assert contains("x = t 4 ; t 41".split(), ["t", "4"]) and not contains("t 41".split(), ["t", "4"])


class Memoriser(torch.nn.Module):
    """A hand-built 'model' that has memorised some questions: given ``<bos>`` + a prefix of one,
    it emits the rest of that question, ``<sol>`` and the answer; otherwise it stops at once."""

    def __init__(self, tok, items: list[ProbeItem]):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.tok = tok
        self.known = [self._ids(it.question) for it in items]
        self.tails = [self._ids("<sol> <ans> " + " ".join(it.answers)) for it in items]

    def _ids(self, text):
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def generate(self, input_ids, attention_mask, generation_config):
        assert not generation_config.do_sample and generation_config.num_beams == 1
        max_new_tokens = generation_config.max_new_tokens
        eos_token_id, pad_token_id = generation_config.eos_token_id, generation_config.pad_token_id
        out = []
        for ids, m in zip(input_ids.tolist(), attention_mask.tolist()):
            prefix = [i for i, keep in zip(ids, m) if keep][1:]  # drop padding and <bos>
            new = next((q[len(prefix):] + t for q, t in zip(self.known, self.tails) if q[:len(prefix)] == prefix), [])
            new = (new + [eos_token_id])[:max_new_tokens]
            out.append(ids + new + [pad_token_id] * (max_new_tokens - len(new)))
        return torch.tensor(out)


def test_probe_mechanics_with_a_memorising_model(tiny_prior, tiny_cfg, tmp_path):
    tok = load_tokenizer(tiny_prior[1])
    world = tiny_cfg.world.build()
    items = world_items(world, ["eval-contaminated", "eval"], [2, 3], 3, ["letters"])
    model = Memoriser(tok, [it for it in items if it.split == "eval-contaminated"])
    rows = probe_contamination(model, tok, items, batch_size=4)
    assert len(rows) == 3 * len(items)
    summary = {(s["split"], s["fraction"]): s for s in summarize(rows)}
    for f in (0.4, 0.6, 0.8):
        hit, clean = summary[("eval-contaminated", f)], summary[("eval", f)]
        assert (hit["exact_match"], hit["rouge_l"], hit["answer_contained"]) == (1.0, 1.0, 1.0)
        assert (clean["exact_match"], clean["rouge_l"], clean["answer_contained"]) == (0.0, 0.0, 0.0)
    assert rows[0]["continuation"].split()[:rows[0]["n_remainder_words"]] == items[0].question.split()[
        rows[0]["n_prefix_words"]:]
    assert plot_contamination(summarize(rows), tmp_path / "c.png").stat().st_size > 1000


def test_contaminated_prior_scores_higher_than_clean(tmp_path):
    from priorlab.pretrain import pretrain

    cfg = load_config(None, TINY + CONTAMINATED)
    model_dir = pretrain(cfg, tmp_path / "run", show=False)
    model, tok = load_model(model_dir), load_tokenizer(model_dir)
    items = world_items(cfg.world.build(), ["eval-contaminated", "eval"], [2], 4, ["letters"])
    for mode in ("continue", "solve"):
        summary = summarize(probe_contamination(model, tok, items, mode=mode))
        mean = {s: np.mean([r["answer_contained"] for r in summary if r["split"] == s]) for s in ("eval", "eval-contaminated")}
        assert mean["eval-contaminated"] >= mean["eval"] + 0.4, (mode, summary)
    assert all(np.isnan(r["exact_match"]) for r in summary)  # solve mode scores answers only


def test_jsonl_items_and_their_errors(tmp_path):
    p = tmp_path / "items.jsonl"
    p.write_text(json.dumps({"question": "what is 2 + 2 ?", "answer": 4, "split": "math"}) + "\n\n"
                 + json.dumps({"question": "a b c", "answer": ["x", "y z"]}) + "\n")
    a, b = jsonl_items(p)
    assert (a.split, a.id, a.answers) == ("math", "0", ("4",)) and (b.split, b.id, b.answers) == ("items", "2", ("x", "y z"))
    p.write_text(json.dumps({"prompt": "x"}) + "\n")
    with pytest.raises(DiagnosticInputError, match="line 1: needs fields 'question' and 'answer'"):
        jsonl_items(p)

"""Claims: the registry, the scales and horizons, each redesigned claim's set-up, and the
end-to-end `retest --scale tiny`. The statistics are in test_claims_stats.py, the constructed
tables (controls, the null simulation) in test_claims_null.py."""

from pathlib import Path

import pytest

from priorlab.claims import CLAIMS, SCALES
from priorlab.claims.retest import chosen, plan
from priorlab.claims.stats import t_quantile


def test_t_quantile_matches_the_normal_limit_and_is_symmetric():
    assert t_quantile(0.975, 100000) == pytest.approx(1.96, abs=0.001)
    assert t_quantile(0.025, 3) == pytest.approx(-t_quantile(0.975, 3))
    assert t_quantile(0.975, 2) > t_quantile(0.975, 5) > t_quantile(0.975, 50)


def test_registry_plan_shares_arms_and_priors_between_claims():
    scale = SCALES["small"]
    priors, arms = plan(chosen(None), scale)
    assert len(arms) == len({a for c in chosen(None) for a in (x.name for x in c.arms(scale))})
    assert "grpo-correct" in arms and "demo" in priors
    with pytest.raises(KeyError, match="Did you mean 'C4'"):
        CLAIMS.get("C44")


def test_medium_scale_runs_each_claims_horizon_with_5_seeds_and_n_256():
    medium = SCALES["medium"]
    assert len(medium.seeds) == 5 and medium.n_large == 256 and medium.horizons
    for c in chosen(None):  # horizons are RL's: an SFT arm runs its preset's steps
        assert c.horizon.steps > 0 and c.horizon.epochs > 0 and c.horizon.source
        for a in c.arms(medium):
            assert a.kind != "rl" or any(s.startswith("steps=") for s in a.sets), (c.id, a.name)
        assert not any(s.startswith("steps=") and s != "steps=30" for a in c.arms(SCALES["small"]) if a.kind == "rl"
                       for s in a.sets)
    steps = {s.split("=")[1] for a in CLAIMS.get("C4")().arms(medium) for s in a.sets if s.startswith("steps=")}
    assert steps == {"450"}  # Yue et al.'s step 450


def test_medium_rl_arms_make_their_horizons_epochs_over_the_pool(tmp_path):
    """At `medium` an RL arm's pool is sized for its claim's declared epochs (data.epochs), not a
    fixed 128 prompts per cell: 450 steps over a fixed pool made 28 epochs where C4 declares 30."""
    from priorlab.claims.c07_sparsity import LOUD, LOUD_HORIZON
    from priorlab.claims.retest import arm_config, horizon_note

    medium = SCALES["medium"]
    own = {("C7", LOUD): LOUD_HORIZON}  # a control arm with a horizon of its own, declared beside it
    for c in chosen(None):
        for a in (a for a in c.arms(medium) if a.kind == "rl"):
            cfg = arm_config(a, 0, tmp_path)
            pool = cfg.data.n_prompts * cfg.data.cells
            epochs = cfg.steps * cfg.rollout.prompts_per_step / pool
            want = own.get((c.id, a.name), c.horizon)
            assert cfg.steps == want.steps and abs(epochs - want.epochs) <= 0.05 * want.epochs, (c.id, a.name, epochs)
    assert "this scale runs 450 steps, 30 epochs" in horizon_note(CLAIMS.get("C4")(), medium)
    assert "this scale runs 30 steps, 1.88 epochs" in horizon_note(CLAIMS.get("C4")(), SCALES["small"])  # a departure, said


def test_c2_has_the_papers_same_minibatch_no_clip_arm():
    arms = {a.name: a for a in CLAIMS.get("C2")().arms(SCALES["small"])}
    noclip, clip = arms["random-noclip"].sets, arms["random"].sets

    def mini_batches(sets):
        return [s for s in sets if s.startswith("algo.mini_batches")][-1:]

    assert mini_batches(noclip) == mini_batches(clip) == ["algo.mini_batches=16"]  # the same mini-batches
    eps = [float(s.split("=")[1]) for s in noclip if s.startswith(("algo.eps_low", "algo.eps_high"))]
    assert len(eps) == 2 and min(eps) > 1e6  # no ratio can reach the clip
    assert [s for s in noclip if not s.startswith("algo.eps")] == [s for s in clip if not s.startswith("algo.eps")]


def test_c2_reads_each_runs_clipped_share_and_judges_without_it(tmp_path):
    """The clipped share is the mean over train steps of clip_low + clip_high (probe rows skipped);
    its rows (one per run, no problem) leave the judged statistic unchanged."""
    import json

    from priorlab.claims.c02_clipping import clip_share

    lines = [{"step": 0, "kind": "probe", "probe_verified": 0.5},
             {"step": 1, "kind": "train", "clip_low": 0.01, "clip_high": 0.03},
             {"step": 2, "kind": "train", "clip_low": 0.0, "clip_high": 0.02}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert clip_share(tmp_path) == pytest.approx(0.03)
    rows = [{"arm": a, "seed": s, "problem": f"p{i}", "d_answer": (0.1 if a == "random" else 0.0) + 0.01 * i * s,
             "d_mode": (0.2 if a == "random" else 0.0) - 0.01 * i * s}
            for a in ("random", "random-noclip", "random-1-update", "random-rloo") for s in range(3) for i in range(4)]
    clipped = [{"arm": "random", "seed": s, "clip_share": 0.02} for s in range(3)]
    c2 = CLAIMS.get("C2")()
    assert [p.effect for p in c2.judge(clipped + rows).parts] == [p.effect for p in c2.judge(rows).parts]
    v = c2.judge(rows)
    assert v.primary.effect == pytest.approx(0.2 - 0.01 * 1.5 * 1.0)  # the drift under the clip: mean over i, s
    assert {p.name: p.effect for p in v.parts}["clip vs no clip, same mini-batches"] == pytest.approx(0.2)

def test_c3_pays_every_format_on_priors_with_three_formats():
    from priorlab.rl.rewards import REWARDS

    c3 = CLAIMS.get("C3")()
    for a in c3.arms(SCALES["small"]):
        assert "reward.weights={answer: 1.0}" in a.sets
    assert REWARDS.get("answer").__doc__.startswith("1 if the final answer is right, whatever the trace")
    for p in c3.priors(SCALES["small"]):
        mix = next(s for s in p.sets if s.startswith("corpus.formats="))
        assert all(f in mix for f in ("steps", "code", "answer")), mix


def test_c8_prior_states_neighbouring_confidences_within_a_format():
    """The Brier reward must be able to move the stated confidence within a format: with a value fixed
    by (format, depth), both rewards can change calibration only by changing the format."""
    import random
    from pathlib import Path

    from priorlab.claims.retest import prior_config
    from priorlab.corpus import stated_confidence
    from priorlab.worlds.formats import confidence_token

    scale = SCALES["small"]
    spec = next(p for p in CLAIMS.get("C8")().priors(scale) if p.name == "confident")
    cfg = prior_config(spec, scale, Path("demo")).corpus
    rng, noise = random.Random(0), random.Random(1)
    for depth in (2, 4):  # as written in the documents: the nearest 10%
        stated = {confidence_token(stated_confidence(cfg, rng, "steps", depth, noise)) for _ in range(200)}
        assert len(stated) >= 3, (depth, sorted(stated))


def test_a_continued_priors_own_sets_win_and_its_budget_scales_the_scales_tokens():
    """A continued prior gets the scale's continuation (tokens, learning rate, no first phase), then its
    own sets on top, and ``budget`` times the scale's tokens at every scale (a stronger teacher stays cheap at tiny)."""
    from pathlib import Path

    from priorlab.claims.base import PriorSpec
    from priorlab.claims.retest import prior_config

    plain = PriorSpec("plain", ("corpus.depths={4: 1.0}",), base="demo")
    strong = PriorSpec("strong", ("corpus.depths={4: 1.0}", "pretrain.lr=0.0015"), base="demo", budget=3.0)
    for scale in (SCALES["tiny"], SCALES["small"]):
        a, b = prior_config(plain, scale, Path("demo")), prior_config(strong, scale, Path("demo"))
        assert b.pretrain.tokens == 3 * a.pretrain.tokens and b.pretrain.lr == 0.0015 != a.pretrain.lr
        assert str(b.pretrain.init_from) == "demo" and dict(b.corpus.depths) == {4: 1.0}
        assert a.corpus.curriculum.share == 0  # the demo recipe's modulus-7 phase is for priors from scratch


def test_c6_compares_with_grpo_as_the_papers_baseline():
    assert "grpo-correct" in {a.name for a in CLAIMS.get("C6")().arms(SCALES["small"])}


def test_every_claim_states_its_paper_effect_or_why_not():
    for c in chosen(None):
        assert c.paper_effect is not None or any("not retrieved" in n for n in c.notes), c.id
        assert any("Paper effect" in n for n in c.notes) or c.id == "C3", c.id


def test_retest_tiny_runs_shares_and_reuses_runs_and_writes_the_report(tmp_path):
    """End to end at the tiny scale: C4 and C7 share one prior and one arm (3 seeds), C7 adds its
    masked positive-control arm and its large-learning-rate negative-control arm, C9 a continued prior
    and its arm; a second call reuses every run and gives the same effect; the report and verdicts.json
    follow the contract."""
    import json

    from priorlab.claims.result import PART_KEYS, VERDICT_KEYS, VERDICTS
    from priorlab.claims.retest import retest

    store, out = tmp_path / "store", tmp_path / "retest"
    results = retest(["C4", "C7", "C9"], "tiny", out, workers=2, store=store, show=False)
    assert [r.id for r in results] == ["C4", "C7", "C9"] and all(r.verdict in VERDICTS for r in results)
    assert all("measurement failed" not in r.reason for r in results), [r.reason for r in results]
    verdicts = json.loads((out / "verdicts.json").read_text())
    assert [set(v) >= set(VERDICT_KEYS) for v in verdicts] == [True, True, True]
    assert all(list(p) == list(PART_KEYS) for v in verdicts for p in v["parts"]) and verdicts[0]["parts"]
    assert all(v["negative_control"] is not None and isinstance(v["negative_control"]["detected"], bool)
               for v in verdicts)
    assert (out / "report.html").stat().st_size > 1000
    # C7's run-level control read its masked arm (at tiny scale nothing moves: every share is 1.0)
    assert verdicts[1]["positive_control"]["description"].startswith("run-level")
    masked = [r for r in results[1].table if r.get("arm") == "grpo-correct-masked"]
    assert len(masked) == 3 and all(r["unchanged_fp32"] >= 0.5 for r in masked)
    assert verdicts[1]["negative_control"]["description"].startswith("run-level")
    assert len([r for r in results[1].table if r.get("arm") == "grpo-correct-lr100"]) == 3
    # C9's probe read the contaminated prior on planted, never-planted and clean items
    probe = [r for r in results[2].table if r.get("kind") == "probe"]
    assert {r["set"] for r in probe} == {"planted", "unplanted", "clean"} and all(0 <= r["rouge_l"] <= 1 for r in probe)
    assert {r["seed"] for r in probe} == set(SCALES["tiny"].seeds)  # every replica of the contaminated prior probed
    # one prior and one arm x 3 seeds shared by C4 and C7, C7's two control arms x 3 seeds, C9's prior
    # (one replica per seed) and arm x 3
    assert len(list(store.iterdir())) == 1 + 3 + 3 + 3 + 3 + 3
    again = retest(["C4"], "tiny", out, workers=2, store=store, show=False)
    assert all(r["reused"] for r in again[0].runs)
    assert again[0].effect == results[0].effect


def test_c9_plants_every_seeds_evaluation_problems():
    """Each seed is evaluated on its own problems; the contaminated prior must hold all of them."""
    from pathlib import Path

    from priorlab.claims.retest import arm_config, prior_config

    scale, c9 = SCALES["tiny"], CLAIMS.get("C9")()
    spec = next(p for p in c9.priors(scale) if p.name == "contaminated")
    planted = prior_config(spec, scale, Path("demo")).corpus.contamination
    arm = next(a for a in c9.arms(scale) if a.prior == "contaminated")
    for seed in scale.seeds:
        final = arm_config(arm, seed, Path("prior")).final
        assert "eval-contaminated" in final.splits and set(final.depths) <= set(planted.depths)
        assert final.problem_offset + final.n_problems <= planted.n_items, (seed, planted.n_items)
    assert planted.n_items == scale.n_problems * len(scale.seeds)
    # the paper's probe continues questions, so they are trained on; its negative control's
    # "unplanted" items start right after the planted ones
    from priorlab.claims.common import evaluated_items

    assert planted.whole_document and evaluated_items(scale) == planted.n_items


def test_band_evaluation_stays_inside_the_rl_pool_at_every_seed():
    """Per-seed offsets run past the RL pool at medium (5 seeds × 32 problems > 128 prompts): the
    band evaluation (training problems) wraps inside the pool; the held-out one keeps its offset."""
    from pathlib import Path

    from priorlab.claims.retest import arm_config
    from priorlab.rl.trainer import band_config, final_evals

    scale = SCALES["medium"]
    arm = CLAIMS.get("C4")().arms(scale)[0]
    offsets = set()
    for seed in scale.seeds:
        cfg = arm_config(arm, seed, Path("prior"))
        evals = final_evals(cfg)
        assert set(evals) == {"eval"}  # no claim reads the band: retest arms skip it (band_eval=false)
        band = band_config(cfg)
        assert band.splits == [cfg.data.split] and band.depths == cfg.data.depths
        assert band.problem_offset + band.n_problems <= cfg.data.n_prompts, (seed, band.problem_offset)
        assert evals["eval"].problem_offset == seed * cfg.final.n_problems
        offsets.add(band.problem_offset)
    assert max(s * scale.n_problems for s in scale.seeds) + scale.n_problems > cfg.data.n_prompts  # the case
    assert len(offsets) == len(scale.seeds)  # still a different window per seed
    tiny_pool = cfg.model_copy(update={"data": cfg.data.model_copy(update={"n_prompts": 4})})
    band = band_config(tiny_pool)
    assert (band.problem_offset, band.n_problems) == (0, 4)  # never more problems than the pool holds


def test_composition_priors_are_replicated_from_scratch_one_per_rl_seed(tmp_path):
    """C3's priors are trained once per seed (pretrain.seed = corpus.seed = seed, no init_from) and
    RL seed s runs on prior seed s: the unit of replication is the (prior seed, RL seed) pair."""
    import yaml

    from priorlab.claims.retest import prior_config, prior_job, retest
    from priorlab.config import default_config_path, load_config

    c3 = CLAIMS.get("C3")()
    demo = load_config(default_config_path("demo"))  # the demo prior's recipe and budget, slips as asked
    for spec in c3.priors(SCALES["small"]):
        assert spec.replicated and spec.base is None
        replicas = spec.replicas(SCALES["small"])
        assert [r.name for r in replicas] == [f"{spec.name}@s{s}" for s in (0, 1, 2)]
        for r in replicas:
            corpus, budget = (c := prior_config(r, SCALES["small"])).corpus, c.pretrain.tokens
            assert budget == demo.pretrain.tokens and corpus.curriculum.world == {"modulus": 7}
            assert corpus.curriculum.format_accuracy == ({} if corpus.format_accuracy else None)
        assert all("pretrain.compile=auto" in r.sets for r in replicas)  # compiled where it pays (long runs)
        # replicas run side by side at one thread each; a single prior (the demo) at the scale's threads
        assert [prior_job(r, SCALES["small"], {}).threads for r in replicas] == [1, 1, 1]
    demo = next(p for p in plan(chosen(["C4"]), SCALES["small"])[0].values() if p.name == "demo")
    assert prior_job(demo, SCALES["small"], {}).threads == SCALES["small"].prior_threads == 2
    results = retest(["C3"], "tiny", tmp_path / "out", workers=2, store=tmp_path / "store", show=False)
    rl = [r for r in results[0].runs if r["kind"] == "rl"]
    assert len([r for r in results[0].runs if r["kind"] == "prior"]) == 2 * 3 and len(rl) == 2 * 3
    for r in rl:
        seed = int(r["name"].rsplit(" ", 1)[1])
        prior = yaml.safe_load((Path(r["path"]) / "config.yaml").read_text())["prior"]
        prior_cfg = yaml.safe_load((Path(prior).parent / "config.yaml").read_text())
        assert prior_cfg["pretrain"]["seed"] == prior_cfg["corpus"]["seed"] == seed
        assert prior_cfg["pretrain"]["init_from"] is None


def test_only_mid_training_stages_continue_a_prior():
    """A composition is trained from scratch (the issue on priors: continued pretraining is its own
    factor, not a workaround); what continues another prior is a stage whose claim is about that
    stage: C11's teacher (stronger than the prior by design) and C13's RLP stage and its matched
    continuations."""
    for scale in SCALES.values():
        continued = {n for n, p in plan(chosen(None), scale)[0].items() if p.base}
        assert continued == {"teacher-deep", "rlp", "cpt-flops", "cpt-tokens"}, scale.name


def test_every_prior_but_the_demo_prior_is_made_once_per_seed():
    """Every prior a claim declares other than the one demo prior (its variants continued from the
    demo prior, compositions from scratch, the RLP stage and its matched priors) is replicated, so
    that each claim's interval covers the variance between two priors of one recipe; a continued
    prior's replica s continues seed s's replica of its base when the base is replicated too."""
    from priorlab.claims.base import prior_replicas

    for name, scale in SCALES.items():
        priors = plan(chosen(None), scale)[0]
        assert [n for n, p in priors.items() if not p.replicated] == ["demo"], name
        made = prior_replicas(priors, scale)
        assert len(made) == 1 + (len(priors) - 1) * len(scale.seeds)
        for n, (declared, r) in made.items():
            assert r.base is None or r.base in made  # every replica continues a prior that is made
            if r.base not in (None, "demo"):
                assert r.base == f"{priors[declared].base}@s{n.rsplit('@s', 1)[1]}"


def test_a_replica_that_never_clicked_is_refused_and_its_seed_left_out(tmp_path):
    """An arm seed whose replicated prior never clicked is not started (a rerun would refuse it
    again): it is recorded as refused, not failed, and the other seeds run."""
    import json

    from priorlab.claims.retest import _failed, _run_arms, _run_row
    from priorlab.sweep import JobResult

    scale, c1 = SCALES["small"], CLAIMS.get("C1")()
    priors = {p.name: p for p in c1.priors(scale)}
    arms = {a.name: a for a in c1.arms(scale) if a.name == "random-answer-heavy"}
    dirs = {}
    for r in priors["answer-heavy"].replicas(scale):
        d = tmp_path / r.name / "model"
        d.mkdir(parents=True)
        (d / "priorlab.json").write_text(json.dumps({"clicked": not r.name.endswith("@s1"), "click_threshold": 0.5}))
        dirs[r.name] = d
    started = []

    def run(jobs, stage):
        started.extend(j.name for j in jobs)
        return [JobResult(j, tmp_path / j.name, "finished") for j in jobs]

    out = _run_arms(arms, scale, priors, dirs, run)
    assert started == ["random-answer-heavy seed 0", "random-answer-heavy seed 2"]
    rows = [_run_row("rl", a, s, r, a) for a, s, r in out]
    refused = _failed(rows, refused=True)
    assert len(refused) == 1 and "seed 1" in refused[0] and "never clicked" in refused[0] and not _failed(rows)
    assert [r["wall_s"] for r in rows if r["status"] == "refused"] == [0.0]

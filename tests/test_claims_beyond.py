"""Claims beyond selection (C11 distillation, C14 squeeze/expand): trajectory counting on constructed
completions, C11's held-out halves, the judges on constructed tables, and retest's arms on arms."""

import sys
from pathlib import Path

import numpy as np
import pytest

import priorlab.claims.stats.bootstrap as B
from priorlab.claims import CLAIMS, SCALES
from priorlab.diagnostics.trajectories import count_trajectories, record_trajectories, trajectory

sys.path.insert(0, str(Path(__file__).parent))
from claim_tables import Gen, c11, c13, c14  # noqa: E402


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(B, "N_BOOT", 400)


@pytest.fixture
def problem(world):
    return world.problem("eval", 0, 3, "letters")


def _wrong_value(world, problem, node: int, by: int) -> str:
    """The gold steps solution with node ``node``'s result shifted by ``by``."""
    gold = problem.gold["nodes"][node]
    text = world.render_solution(problem, "steps")
    return text.replace(f"= {gold.target} {gold.result} ;", f"= {gold.target} {(gold.result + by) % 23} ;", 1)


def _drop_line(world, problem, node: int) -> str:
    lines = world.render_solution(problem, "steps").split(" ; ")
    return " ; ".join(lines[:node] + lines[node + 1:])


def test_a_trajectory_is_the_format_and_the_computed_nodes_with_their_status(world, problem):
    targets = tuple(n.target for n in problem.gold["nodes"])
    steps = world.verify(problem, world.render_solution(problem, "steps"))
    code = world.verify(problem, world.render_solution(problem, "code"))
    assert steps.verified and code.verified
    assert trajectory(steps) == ("steps", tuple((t, "ok") for t in targets))
    assert trajectory(code) == ("code", trajectory(steps)[1])  # same nodes, another format: another trajectory
    wrong = trajectory(world.verify(problem, _wrong_value(world, problem, 1, 1)))
    assert wrong[1][1] == (targets[1], "wrong_value") and wrong[1][0] == (targets[0], "ok")
    assert trajectory(world.verify(problem, world.render_solution(problem, "answer"))) == ("answer", ())


def test_distinct_trajectories_count_surface_variants_once_and_split_correct_from_incorrect(world, problem):
    texts = [world.render_solution(problem, "steps"), "  " + world.render_solution(problem, "steps") + " <eos>",
             world.render_solution(problem, "code"),
             _wrong_value(world, problem, 1, 1), _wrong_value(world, problem, 1, 5),  # the same error shape
             _wrong_value(world, problem, 2, 1), _drop_line(world, problem, 0),
             world.render_solution(problem, "answer")]
    items = [("p", trajectory(v), v.verified) for v in (world.verify(problem, t) for t in texts)]
    items.append(("q", ("answer", ()), False))
    counts = count_trajectories(items)
    assert counts["p"] == {"correct": 2, "incorrect": 4, "samples": len(texts)}
    assert counts["q"] == {"correct": 0, "incorrect": 1, "samples": 1}
    assert list(counts) == ["p", "q"]


def test_record_trajectories_recover_the_trace_from_a_samples_record(world, problem):
    rec = {"split": "eval", "index": 0, "depth": 3, "context": "letters", "truncated": False,
           "text": world.render_solution(problem, "code") + " <eos>"}
    [(k, traj, ok)] = record_trajectories(world, [rec], lambda r: f"{r['split']}/{r['index']}")
    assert k == "eval/0" and ok and traj == trajectory(world.verify(problem, rec["text"]))
    [(_, _, ok)] = record_trajectories(world, [rec | {"truncated": True}], lambda r: "x")
    assert not ok  # a truncated completion is never verified


def _recs(correct: dict[int, list[bool]], depth: int = 4) -> list[dict]:
    """Records of problems ``{index: [verified per sample]}``."""
    return [{"split": "eval", "context": "letters", "depth": depth, "index": i, "sample": j, "verified": v}
            for i, vs in correct.items() for j, v in enumerate(vs)]


def test_c11_selects_on_the_first_half_and_compares_only_the_second():
    from priorlab.claims.c11_distillation import ARMS, problem_values

    # problem 0: rare in A (0/4), solved in B; problem 1: solved in A
    prior = _recs({0: [False] * 4 + [True, False, False, False], 1: [True] * 4 + [False] * 4})
    cols, k = problem_values(prior, {name: prior for name in ARMS})
    assert k == 4
    p0, p1 = "eval/letters/4/0", "eval/letters/4/1"
    assert cols["rare"] == {p0: 1.0, p1: 0.0}
    assert all(v == 0.0 for c in ("d_grpo", "d_distill", "d_distill_grpo") for v in cols[c].values())
    assert cols["new_prior"] == {p0: 1.0, p1: 0.0} == cols["new_distill"]  # B solves 0, A never did
    better = _recs({0: [True] * 4 + [False] * 4, 1: [True] * 4 + [True, False, False, False]})
    cols, _ = problem_values(prior, {name: better for name in ARMS})  # the arm's first half is never read
    assert cols["d_distill"] == {p0: -1.0, p1: 1.0}
    assert cols["new_distill"] == {p0: 0.0, p1: 0.0}  # problem 1 was in the prior's solvable set already
    assert cols["quarters"][p0] == 1.0  # B's first quarter solves it, the second does not


def test_c11_judge_holds_on_an_expansion_and_fails_the_instrument_without_one():
    claim = CLAIMS.get("C11")()
    v = claim.judge(c11(Gen(3), 0.3))
    assert v.verdict == "holds", v.reason
    assert v.positive_control["detected"] and v.positive_control["description"].startswith("run-level")
    assert not v.negative_control["detected"]
    v = claim.judge(c11(Gen(3), 0.3, expansion=0.0))  # distillation moved nothing
    assert v.verdict == "instrument failed" and not v.positive_control["detected"], v.reason
    v = claim.judge(c11(Gen(3), -0.3, expansion=0.3))  # RL expands more than distillation does
    assert v.primary.verdict == "contradicted", v.reason


def test_c11_is_judged_without_its_second_stage_when_no_seed_of_it_ran(tmp_path):
    """GRPO on the distilled model is read by one part only: with every seed of it refused (a
    student that lost its click) the claim used to be `not run`; now it is judged and that part
    alone has no units."""
    from priorlab.claims.base import Evidence
    from priorlab.claims.c11_distillation import BOTH, DISTILL, GRPO, problem_values
    from priorlab.claims.retest import _missing

    claim, scale = CLAIMS.get("C11")(), SCALES["tiny"]
    assert [a.name for a in claim.arms(scale) if not a.required] == [BOTH]
    arms = {GRPO: {0: tmp_path}, DISTILL: {0: tmp_path}, BOTH: {}}
    priors = {r.name: tmp_path for p in claim.priors(scale) for r in p.replicas(scale)}
    assert _missing(claim, Evidence(priors, arms, tmp_path, scale)) == []
    assert _missing(claim, Evidence(priors, arms | {DISTILL: {}}, tmp_path, scale)) == [f"arm {DISTILL}"]
    recs = _recs({0: [False] * 4 + [True, False, False, False]})
    cols, _ = problem_values(recs, {GRPO: recs, DISTILL: recs})
    assert "d_distill" in cols and "d_distill_grpo" not in cols and "new_distill_grpo" not in cols
    rows = [{k: v for k, v in r.items() if k != "d_distill_grpo"} for r in c11(Gen(3), 0.3)]
    v = claim.judge(rows)
    assert v.verdict == "holds", v.reason
    assert v.parts[-1].units == 0 and v.parts[-1].ci_low is None and v.parts[-1].verdict == "not run"


def test_c14_judge_holds_when_sft_keeps_more_correct_trajectories_and_is_contradicted_otherwise():
    claim = CLAIMS.get("C14")()
    v = claim.judge(c14(Gen(4), 1.0))
    assert v.verdict == "holds" and not v.negative_control["detected"], v.reason
    assert v.positive_control["detected"]
    assert claim.judge(c14(Gen(4), -1.0)).verdict == "contradicted"


def test_c13_judges_the_ceiling_at_the_edge_depths_on_priors_made_from_the_edge_prior():
    """A gain planted at the band depths only (where pass@n sits near its ceiling) leaves the primary
    quiet and moves its own part; planted at the edge depths, the primary holds."""
    claim = CLAIMS.get("C13")()
    rows = [r | {"rlp_n": min(1.0, r["rlp_n"] + 0.3)} if r["region"] == "band" else r for r in c13(Gen(5), 0.0)]
    v = claim.judge(rows)
    assert v.verdict != "holds" and v.parts[0].ci_low <= 0 <= v.parts[0].ci_high, v.reason
    assert "depths 4-5" in v.parts[2].name and v.parts[2].effect > v.parts[0].effect + 0.05
    assert claim.judge(c13(Gen(5), 0.3)).verdict == "holds"
    scale = SCALES["small"]
    assert {p.name: p.base for p in claim.priors(scale)}["rlp"] == "edge"
    assert all("final.depths=[4,5,6,7]" in a.sets for a in claim.arms(scale))


def test_rarefaction_matches_enumeration_and_removes_the_accuracy_artefact():
    """Expected distinct trajectories in m of N samples, checked by enumerating every subset; a model
    that fails half as often with the same spread of failures is not "squeezed" at matched counts."""
    from itertools import combinations

    from priorlab.claims.c14_squeeze import matched_incorrect
    from priorlab.diagnostics.trajectories import rarefied

    labels = ["a"] * 3 + ["b"] * 2 + ["c"]
    subsets = list(combinations(range(len(labels)), 3))
    assert rarefied([3, 2, 1], 3) == pytest.approx(np.mean([len({labels[i] for i in c}) for c in subsets]))
    assert rarefied([3, 2, 1], 6) == 3 and rarefied([3, 2, 1], 1) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rarefied([1], 2)
    bad = [("x", ("steps", ((node, "wrong_value"),)), False) for node in "nmop"]  # 4 ways to fail
    items = {"prior": bad * 2, "grpo": bad[:2] + [("x", ("steps", ()), True)] * 6}  # fails 8 times vs 2
    raw = {m: count_trajectories(items[m])["x"]["incorrect"] for m in items}
    cols = matched_incorrect(items, "grpo", "prior")
    assert raw["grpo"] < raw["prior"]  # "squeezed" by accuracy alone
    assert cols["grpo_incorrect_matched"]["x"] >= cols["prior_incorrect_matched"]["x"]  # not at 2 failures each


def test_c11_arms_distil_from_the_teacher_and_continue_the_distilled_models_seed_by_seed():
    from priorlab.claims.c11_distillation import BOTH, DISTILL, TEACHER
    from priorlab.claims.retest import _run_arms, chosen, plan
    from priorlab.sweep import JobResult

    scale = SCALES["tiny"]
    priors, arms = plan(chosen(["C11"]), scale)
    assert arms[DISTILL].kind == "sft" and arms[DISTILL].teacher == TEACHER.name and TEACHER.name in priors
    assert arms[BOTH].prior == DISTILL and arms[BOTH].kind == "rl"
    stages = []

    def run(jobs, stage):  # no training: seed 1 of the distillation fails
        stages.append([j.name for j in jobs])
        return [JobResult(j, Path(f"/runs/{j.name.replace(' ', '-')}"), "failed" if j.name == f"{DISTILL} seed 1"
                          else "finished") for j in jobs]

    teachers = {f"{TEACHER.name}@s{s}": Path(f"/teacher{s}/model") for s in scale.seeds}  # one replica per seed
    done = _run_arms(arms, scale, priors, {"demo": Path("/demo/model"), **teachers}, run)
    assert [n.split(" seed")[0] for n in stages[1]] == [BOTH, BOTH]  # the second stage, seeds 0 and 2 only
    both = {s: r.job.config for a, s, r in done if a == BOTH}
    assert set(both) == {0, 2} and str(both[2].prior) == f"/runs/{DISTILL}-seed-2/model"
    distill = {s: r.job.config for a, s, r in done if a == DISTILL}
    assert all(str(c.teacher) == f"/teacher{s}/model" and str(c.prior) == "/demo/model" for s, c in distill.items())
    names = []
    _run_arms(arms, scale, priors, {"demo": Path("/demo/model")},  # the teacher failed: nothing distils from it
              lambda jobs, stage: names.extend(j.name for j in jobs) or [JobResult(j, Path("/r"), "finished")
                                                                          for j in jobs])
    assert names and not [n for n in names if n.startswith(DISTILL)]


def test_c11_runs_end_to_end_at_tiny(tmp_path, monkeypatch):
    """The smoke scale runs C11 through: its teacher, the distilled arm (which keeps every sample at
    tiny: a tiny teacher verifies none, and a verified filter stops on an empty set), GRPO and GRPO
    on the distilled models (the first seed's refused, as for a student that lost its click), then
    the judge with every part and both controls."""
    import priorlab.claims.retest as R
    from priorlab.claims.result import VERDICTS

    first = SCALES["tiny"].seeds[0]
    refused = R._refused
    monkeypatch.setattr(R, "_refused", lambda cfg, start: "lost its click (test)" if start.parts[-2].startswith(
        "sft-") and cfg.seed == first else refused(cfg, start))
    [r] = R.retest(["C11"], "tiny", tmp_path / "out", workers=2, store=tmp_path / "store", show=False)
    assert r.verdict in VERDICTS and r.verdict != "not run", r.reason
    assert "measurement failed" not in r.reason and len(r.parts) == 6
    assert r.positive_control is not None and r.negative_control is not None
    assert r.parts[-1]["units"] == r.parts[0]["units"] - 1 and any("lost its click (test)" in n for n in r.notes)


def test_c13_replicates_the_edge_prior_the_rlp_stage_and_its_matched_priors_one_per_seed(tmp_path, tiny_prior):
    """C13's edge prior, its RLP stage and both continued priors are made once per seed: seed s's edge
    replica is trained from scratch with the seed's initialisation and data order, its RLP
    stage continues that replica with the seed's thought draws and documents, each matched prior
    continues it too, reading the documents of the seed's RLP replica for that replica's budget; and
    RL seed s runs on the seed-s priors. A continuation left unreplicated on a replicated base, or a
    replicated prior matched to an unreplicated one, is refused."""
    import json
    from dataclasses import replace

    import yaml

    from priorlab.claims.base import prior_replicas
    from priorlab.claims.retest import _prior_dir, _run_priors, plan
    from priorlab.config import ConfigError
    from priorlab.sweep import JobResult

    scale = SCALES["tiny"]
    priors = plan([CLAIMS.get("C13")()], scale)[0]
    replicas = {n: r for n, (_, r) in prior_replicas(priors, scale).items()}
    assert {"edge@s1", "rlp@s1", "cpt-flops@s1", "cpt-tokens@s1", "demo"} <= set(replicas)
    assert not {"edge", "rlp"} & set(replicas)
    jobs = {}

    def run(batch, stage):
        out = []
        for j in batch:
            name = j.name.removeprefix("prior ")
            jobs[name] = j.config
            d = tmp_path / name
            if j.kind == "rlp":  # what matched_sets reads of a finished RLP run
                d.mkdir()
                (d / "summary.json").write_text(json.dumps({"prior": str(j.config.prior), "matched": {
                    "tokens": 1000 + j.config.seed, "flops_tokens": 2000 + j.config.seed}}))
                (d / "config.yaml").write_text(yaml.safe_dump({"data": {"corpus": j.config.data.corpus.model_dump()}}))
            out.append(JobResult(j, tiny_prior[0] if name == "demo" else d, "finished"))
        return out

    _run_priors(replicas, scale, run)
    for s in scale.seeds:
        edge, edge_model = jobs[f"edge@s{s}"], str(tmp_path / f"edge@s{s}" / "model")
        assert edge.pretrain.seed == edge.corpus.seed == s and edge.pretrain.init_from is None
        rlp = jobs[f"rlp@s{s}"]
        assert rlp.seed == rlp.data.corpus.seed == s and rlp.prior == edge_model
        for name, tokens in ((f"cpt-flops@s{s}", 2000 + s), (f"cpt-tokens@s{s}", 1000 + s)):
            cpt = jobs[name]
            assert cpt.pretrain.seed == cpt.corpus.seed == s and cpt.pretrain.init_from == edge_model
            assert cpt.pretrain.tokens == tokens  # the seed's own RLP replica's budget
        assert _prior_dir("rlp", s, priors, {f"rlp@s{s}": tmp_path}) == tmp_path

    def refused(*extra):
        return plan([type("C", (), {"priors": lambda self, sc: [*priors.values(), *extra],
                                    "arms": lambda self, sc: []})()], scale)

    with pytest.raises(ConfigError, match="replicated but matched to 'demo', which is not"):
        refused(replace(priors["cpt-flops"], name="cpt-unmatched", match=("demo", "flops")))
    with pytest.raises(ConfigError, match="continues 'edge', which is replicated"):
        refused(replace(priors["cpt-flops"], name="cpt-once", match=None, replicated=False))

"""Spare prior seeds (`claims/spares.py`): a from-scratch replica that never clicked is replaced by the
scale's next spare seed, in the first stage when the store already knows it never clicked, and the
claim's notes name the spare beside the verdict."""

import json

from priorlab import store as S
from priorlab.claims import CLAIMS, SCALES
from priorlab.claims.base import PriorSpec, prior_replicas
from priorlab.claims.retest import _run_priors, prior_job, run_all
from priorlab.claims.spares import plateaued_in_store, spare_note, spares
from priorlab.sweep import JobResult
from priorlab.sweep import plan as name_runs


def fake_runner(root, plateau, stages):
    """A stage runner that "trains" each job into ``root/NAME`` (a prior clicks unless its name is in
    ``plateau``) and appends each stage's jobs to ``stages``."""
    def run(jobs, stage):
        stages.append(jobs)
        out = []
        for j in jobs:
            name = j.name.removeprefix("prior ")
            (root / name / "model").mkdir(parents=True, exist_ok=True)
            (root / name / "model" / "priorlab.json").write_text(json.dumps({"clicked": name not in plateau}))
            out.append(JobResult(j, root / name, "finished"))
        return out
    return run


def test_a_from_scratch_replica_that_never_clicked_is_replaced_by_the_scales_spare_seeds(tmp_path):
    """A from-scratch replica that finished on the plateau gets the scale's next spare seed (and the next
    while the spare does not click either); its name then holds the spare, so what continues it waits for
    it and continues it; a continued prior that did not click, or a scale without spares, is not replaced."""
    priors = {"mix": PriorSpec("mix", ("corpus.formats={steps: 1.0}",), replicated=True),
              "cont": PriorSpec("cont", ("corpus.formats={answer: 1.0}",), base="mix", replicated=True)}
    plateau = {"mix@s1", "mix@s3", "cont@s2"}
    for scale in (SCALES["small"], SCALES["tiny"]):
        stages = []
        run = fake_runner(tmp_path / scale.name, plateau, stages)
        replicas = prior_replicas(priors, scale)
        done, replaced = _run_priors({n: r for n, (_, r) in replicas.items()}, scale, run,
                                     spares(replicas, priors, scale))
        made = {j.name.removeprefix("prior "): j.config for jobs in stages for j in jobs}
        if not scale.spare_seeds:
            assert not replaced and done["mix@s1"].run_dir.name == "mix@s1"
            continue
        assert scale.spare_seeds[:2] == (3, 4)
        assert [(n, r.run_dir.name) for n, r in replaced] == [("mix@s1", "mix@s1"), ("mix@s1", "mix@s3")]
        assert done["mix@s1"].run_dir.name == "mix@s4" and made["mix@s4"].pretrain.seed == 4
        assert made["mix@s4"].corpus.seed == 4 and made["mix@s4"].corpus.formats == {"steps": 1.0}
        assert str(made["cont@s1"].pretrain.init_from).endswith("mix@s4/model")  # continues the spare
        assert done["cont@s2"].run_dir.name == "cont@s2"  # a continued prior has no spare


def test_the_spare_of_a_stored_replica_that_never_clicked_trains_in_the_first_stage(tmp_path):
    """A replica the store already holds finished on the plateau (a `medium` re-test after `small`) used
    to be looked up in the first stage and its spare trained alone in a second, one core idle for a
    whole prior; now the spare trains in the first stage beside the others, and a spare that does not
    click either still gets the next one in a later stage."""
    priors = {"mix": PriorSpec("mix", ("corpus.formats={steps: 1.0}",), replicated=True)}
    scale = SCALES["small"]
    replicas = prior_replicas(priors, scale)
    for plateau in ({"mix@s1"}, {"mix@s1", "mix@s3"}):
        stages = []
        run = fake_runner(tmp_path / str(len(plateau)), plateau, stages)
        done, replaced = _run_priors({n: r for n, (_, r) in replicas.items()}, scale, run,
                                     spares(replicas, priors, scale), lambda job: job.name == "prior mix@s1")
        stages = [[j.name.removeprefix("prior ") for j in jobs] for jobs in stages]
        assert stages[0] == ["mix@s0", "mix@s1", "mix@s2", "mix@s3"]
        assert [(n, r.job.name) for n, r in replaced][0] == ("mix@s1", "prior mix@s1")
        if plateau == {"mix@s1"}:
            assert len(stages) == 1 and done["mix@s1"].job.name == "prior mix@s3"
        else:
            assert stages[1:] == [["mix@s4"]] and done["mix@s1"].job.name == "prior mix@s4"
    # what the store says: a finished run that never clicked is plateaued, a clicked or missing one is not
    job = prior_job(replicas["mix@s1"][1], scale, {})
    d = name_runs([job], tmp_path / "store")[0].run_dir
    assert not plateaued_in_store(job, tmp_path / "store")
    (d / "model").mkdir(parents=True)
    S.write_record(d, {"status": "finished"})
    for clicked in (True, False):
        (d / "model" / "priorlab.json").write_text(json.dumps({"clicked": clicked}))
        assert plateaued_in_store(job, tmp_path / "store") is (not clicked)


def test_a_claim_that_ran_on_a_spare_prior_seed_says_which_beside_its_verdict(tmp_path):
    """The run rows of a spare replica carry the seed it stands in for (``spare_for``), and the claim's
    notes name it, so the report says beside the verdict which unit ran on another prior seed."""
    run = fake_runner(tmp_path / "runs", {"confident@s0"}, [])
    _, _, rows = run_all([CLAIMS.get("C8")()], SCALES["small"], "local", 2, tmp_path / "store", False, run=run)
    assert [(r["name"], r["spare_for"]) for r in rows if "spare_for" in r] == [("confident@s3 (spare for seed 0)", 0)]
    assert "seed 0 on confident@s3" in spare_note(rows)[0]
    assert spare_note([r for r in rows if "spare_for" not in r]) == []

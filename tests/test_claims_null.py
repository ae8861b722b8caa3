"""Every claim on constructed tables (tests/claim_tables.py): with a planted effect the verdict
holds, the positive control is detected and the negative control is quiet; under the null the
false 'holds' and false 'contradicted' rates are each at most 5%."""

import sys
from pathlib import Path

import pytest

import priorlab.claims.stats.bootstrap as B
from priorlab.claims import CLAIMS

sys.path.insert(0, str(Path(__file__).parent))
from claim_tables import TABLES, table  # noqa: E402

IDS = list(TABLES)
REPS = 200
#: Binomial slack: with a true rate of 5%, 200 replicates have SD 1.5%; the assertion allows the
#: nominal 5% plus 2 SD (8%, i.e. 16 of 200), so it fails only for a real excess.
LIMIT = 16


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(B, "N_BOOT", 200)


@pytest.mark.parametrize("cid", IDS)
def test_planted_effect_holds_with_controls_passing(cid):
    v = CLAIMS.get(cid)().judge(table(cid, 0.3, seed=1))
    assert v.verdict == "holds", v.reason
    assert v.positive_control is None or v.positive_control["detected"] is True
    assert v.negative_control is not None and v.negative_control["detected"] is False
    assert v.primary.ci_low is not None and (v.primary.ci_low > 0 or v.primary.ci_high < 0)


@pytest.mark.parametrize("cid", IDS)
def test_null_false_verdict_rates_are_at_most_5_percent(cid):
    """REPS independent null experiments (seeded; half share problems across seeds, half do not);
    the negative control, a 5% test itself, fires at most as often."""
    claim = CLAIMS.get(cid)()
    judged = [claim.judge(table(cid, 0.0, seed=100 + i, shared=i % 2 == 0)) for i in range(REPS)]
    verdicts = [v.verdict for v in judged]
    assert verdicts.count("holds") <= LIMIT and verdicts.count("contradicted") <= LIMIT, \
        {v: verdicts.count(v) for v in set(verdicts)}
    assert sum(v.negative_control["detected"] for v in judged) <= LIMIT

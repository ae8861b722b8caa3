"""Entropy by token role on crafted completions."""

import numpy as np
import pytest

from priorlab.diagnostics.entropy import role_entropy


def test_role_entropy_means_and_shares():
    toks = "e = s 7 * 3 = e 5 ; <ans> e 5".split()  # plan: e s; compute: 7 3 5; answer: e 5
    ent = np.array([1.0, 0.0, 3.0, 0.5, 0.0, 0.25, 0.0, 0.0, 0.75, 0.0, 0.0, 2.0, 4.0])
    rows = {r["role"]: r for r in role_entropy([ent], [toks])}
    assert rows["plan"]["mean_entropy"] == pytest.approx(2.0) and rows["plan"]["n_tokens"] == 2
    assert rows["compute"]["mean_entropy"] == pytest.approx(0.5) and rows["compute"]["n_tokens"] == 3
    assert rows["answer"]["mean_entropy"] == pytest.approx(3.0)
    assert rows["other"]["n_tokens"] == 6 and rows["unparsed"]["n_tokens"] == 0
    assert np.isnan(rows["unparsed"]["mean_entropy"])
    assert sum(r["token_share"] for r in rows.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        role_entropy([ent[:3]], [toks])

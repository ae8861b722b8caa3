"""Stated confidence in the corpus: corpus.confidence_noise (confidence_op_acc: tests/test_pretrain.py)."""

import numpy as np
import pytest

from priorlab.config import ConfigError, load_config
from priorlab.corpus import document_texts


def test_confidence_noise_spreads_the_stated_value_around_p_to_the_depth(world):
    sets = ["corpus.confidence_prob=1.0", "corpus.formats={steps: 1.0}", "corpus.depths={3: 1.0}",
            "corpus.confidence_op_acc={steps: 0.8}"]
    exact, _ = document_texts(world, load_config(None, sets).corpus, 20_000)
    noisy, _ = document_texts(world, load_config(None, sets + ["corpus.confidence_noise=0.1"]).corpus, 20_000)
    assert [t.split("<conf>")[0] for t, _ in exact] == [t.split("<conf>")[0] for t, _ in noisy]
    assert {t.split()[-2] for t, _ in exact} == {"50%"}  # 0.8 ** 3 = 0.512
    stated = np.array([int(t.split()[-2][:-1]) / 100 for t, _ in noisy])
    assert len(set(stated)) >= 4 and abs(stated.mean() - 0.512) < 0.02 and 0.07 < stated.std() < 0.13
    with pytest.raises(ConfigError, match="confidence_noise: acts only with corpus.confidence_op_acc"):
        load_config(None, ["corpus.confidence_noise=0.1"])

import pytest

from priorlab.config import ConfigError, load_config

BAD = [
    ("world.name=arith_dga", "world.name", "Did you mean 'arith_dag'"),
    ("corpus.formats.stpes=1", "corpus.formats", "Did you mean 'steps'"),
    ("corpus.formats.steps=-0.5", "corpus.formats.steps", "negative"),
    ("corpus.formats={steps: 0, answer: 0}", "corpus.formats", "all weights are zero"),
    ("corpus.depths={2: 1, 40: 1}", "corpus.depths", "out of range"),
    ("eval.depths=[0]", "eval.depths", "out of range"),
    ("corpus.contamination.split=pretrain", "corpus.contamination.split", "not an eval split"),
    ("corpus.contexts.greeek=1", "corpus.contexts", "Did you mean 'greek'"),
    ("pretrain.tokns=5", "pretrain.tokns", "Did you mean 'tokens'"),
    ("model.preset=tinny", "model.preset", "Did you mean 'tiny'"),
    ("world.modulus=1", "world.modulus", "greater than or equal to 2"),
]


@pytest.mark.parametrize("expr,field,hint", BAD)
def test_bad_config_names_the_field(expr, field, hint):
    with pytest.raises(ConfigError) as e:
        load_config(None, [expr])
    assert field in str(e.value) and hint in str(e.value)


def test_yaml_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("corpus:\n  formats: {steps: -1}\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(None, ["pretrain.tokens"])


def test_set_mapping_without_space_after_colon_says_how_to_write_it():
    # YAML reads {steps:1.0} as the key 'steps:1.0' with no value: the message used to be pydantic's
    # "Input should be a valid number" on a field of that name.
    with pytest.raises(ConfigError, match=r"'steps:1.0' as one key.*corpus.formats=\{steps: 1.0\}"):
        load_config(None, ["corpus.formats={steps:1.0}"])
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(None, ["corpus.formats={steps: 1.0"])


def test_set_merges_into_dicts_and_yaml_replaces(tmp_path):
    cfg = load_config(None, ["corpus.formats.code=0.2", "pretrain.tokens=1000"])
    assert cfg.corpus.formats == {"steps": 0.7, "answer": 0.3, "code": 0.2}
    assert cfg.pretrain.tokens == 1000
    f = tmp_path / "c.yaml"
    f.write_text("corpus:\n  formats: {code: 1}\n")
    assert load_config(f).corpus.formats == {"code": 1.0}

"""Word-level tokenizer over a world's vocabulary (``tokenizers`` library).

Every whitespace token of the world is one id, so token counts equal word counts and decoding
is exact. Saved as ``tokenizer.json`` and loadable with ``PreTrainedTokenizerFast`` /
``AutoTokenizer``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, decoders
from transformers import PreTrainedTokenizerFast

from priorlab.errors import CheckpointError, first_line

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>", "<sol>"]
PAD, BOS, EOS, UNK, SOL = SPECIALS


def build_tokenizer(vocabulary: list[str]) -> PreTrainedTokenizerFast:
    """A fast tokenizer with ids 0..4 = ``<pad> <bos> <eos> <unk> <sol>``, then the vocabulary."""
    words = list(dict.fromkeys(SPECIALS + [w for w in vocabulary if w not in SPECIALS]))
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins words with spaces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, unk_token=UNK, pad_token=PAD,
        padding_side="left", additional_special_tokens=[SOL],
    )
    fast.model_max_length = 4096
    return fast


def with_words(tok: PreTrainedTokenizerFast, words: list[str]) -> PreTrainedTokenizerFast:
    """``tok`` (a priorlab word-level tokenizer) with ``words`` it lacks appended as new word ids
    after its own, whose ids stay the same (a model resized to ``len(result)`` keeps its rows)."""
    vocab = tok.get_vocab()
    ordered = sorted(vocab, key=vocab.get)
    if ordered[:len(SPECIALS)] != SPECIALS:
        raise CheckpointError(f"the tokenizer does not start with priorlab's specials {SPECIALS}; extend a "
                              f"priorlab prior's vocabulary only")
    return build_tokenizer(ordered[len(SPECIALS):] + [w for w in words if w not in vocab])


def prompt_text(prompt: str) -> str:
    """Model input of a priorlab world prompt: ``<bos> prompt <sol>``."""
    return f"{BOS} {prompt} {SOL}"


def save_tokenizer(tok: PreTrainedTokenizerFast, path: str | Path) -> None:
    tok.save_pretrained(str(path))


def load_tokenizer(path: str | Path):
    """The tokenizer of any local HF checkpoint, left-padding; without a pad token, EOS pads."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError, TypeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: cannot load its tokenizer (tokenizer.json, tokenizer_config.json): "
                              f"{first_line(e)}; copy the checkpoint again with its tokenizer files") from None
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def check_vocabulary(path: str | Path, words: list[str]) -> None:
    """Every word of a world is one token of ``path``'s word-level ``tokenizer.json``; a word it lacks
    would encode as ``<unk>`` and the model would be evaluated on text it cannot read. Raises a
    :class:`~priorlab.errors.CheckpointError` that counts and names the missing words. Other
    tokenizers (subword, or none yet) are not checked here."""
    file = Path(path) / "tokenizer.json"
    if not file.is_file():
        return
    try:
        model = json.loads(file.read_text()).get("model") or {}
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise CheckpointError(f"{file}: not a valid tokenizer file ({e}); copy the checkpoint again") from None
    if model.get("type") != "WordLevel":
        return
    missing = [w for w in dict.fromkeys(words) if w not in model["vocab"]]
    if missing:
        raise CheckpointError(
            f"{file}: {len(missing)} of {len(set(words))} words of the checkpoint's world are not tokens "
            f"(e.g. {' '.join(missing[:5])}) and would encode as {UNK}; priorlab.json 'world' does not match the "
            f"tokenizer the model was trained with (restore its priorlab.json)")

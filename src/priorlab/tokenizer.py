"""Word-level tokenizer over a world's vocabulary (``tokenizers`` library).

Every whitespace token of the world is one id, so token counts equal word counts and decoding
is exact. Saved as ``tokenizer.json`` and loadable with ``PreTrainedTokenizerFast`` /
``AutoTokenizer``.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, decoders
from transformers import PreTrainedTokenizerFast

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


def prompt_text(prompt: str) -> str:
    """Model input of a priorlab world prompt: ``<bos> prompt <sol>``."""
    return f"{BOS} {prompt} {SOL}"


def save_tokenizer(tok: PreTrainedTokenizerFast, path: str | Path) -> None:
    tok.save_pretrained(str(path))


def load_tokenizer(path: str | Path):
    """The tokenizer of any local HF checkpoint, left-padding; without a pad token, EOS pads."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok

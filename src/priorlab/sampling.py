"""Batched, KV-cached sampling of n completions per prompt.

Each chunk prefills its unique prompts once and keeps their KV cache once for all n samples
(:class:`_PromptLayer`; repeated n times for models it cannot serve), then decodes one token
per step for the rows still running; rows that emitted ``<eos>`` are dropped from the batch
(and from the cache), so cost follows the tokens actually generated; a plain Llama decodes through
:mod:`priorlab.lean` (its forward's arithmetic without transformers' modules). Works on CPU and CUDA;
bf16 autocast by default on CUDA only: on CPU the lean step in bf16 is no faster at a prior's size
(d = 128; docs/performance.md, "Fused decode step"), and fp32 keeps samples comparable with the runs
measured so far.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from priorlab import runtime
from priorlab.lean import lean_decoder
from priorlab.progress import progress_bar


#: Decode steps between the sampler's reads of finished rows back to the host, per device type:
#: on CUDA each read waits for the queued kernels (docs/performance.md, "The GPU path").
CHECK_EVERY = {"cuda": 8}


@dataclass
class Samples:
    """Completions of ``n`` samples per prompt, prompt-major (row = prompt * n + j).

    ``logprobs[r]`` / ``entropies[r]``: float32 arrays, one value per completion token, of the
    temperature-scaled distribution (before top-p), in nats. ``finished[r]``: stopped at EOS.
    """

    prompt_index: np.ndarray
    ids: list[list[int]]
    text: list[str]
    logprobs: list[np.ndarray]
    entropies: list[np.ndarray]
    finished: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def encode(tokenizer, texts: list[str], **kwargs):
    """Token ids of model inputs, with the special tokens the checkpoint's tokenizer adds itself
    (e.g. a Llama BOS; none for priorlab's and GPT-2's), as ``tokenizer(text)`` does."""
    return tokenizer(texts, add_special_tokens=True, **kwargs)


def stop_ids(model, tokenizer) -> list[int]:
    """Token ids that end a completion: the tokenizer's EOS and the model's generation-config EOS
    (instruct checkpoints often stop on an end-of-turn token as well)."""
    ids = [tokenizer.eos_token_id]
    gen = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids += gen if isinstance(gen, list) else [gen]
    return sorted({i for i in ids if i is not None})


def row_uniforms(seed: int, keys: list[tuple[int, int]], steps: int) -> torch.Tensor:
    """Uniforms [R, steps] from one stream per (prompt, sample) key: a completion does not
    depend on which other rows share its batch."""
    return torch.from_numpy(np.stack([np.random.default_rng([seed, i, j]).random(steps) for i, j in keys]))


def _next_token(logits: torch.Tensor, u: torch.Tensor, temperature: float, top_p: float):
    """Inverse-CDF sample from logits [R, V] with uniforms u [R].

    Returns tokens [R], log-probs [R] and entropies [R] of the temperature-scaled distribution
    (before top-p truncation), float32 nats.
    """
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    probs = logp.exp()
    entropy = -(probs * logp).sum(-1)
    if top_p < 1.0:
        sp, si = probs.sort(dim=-1, descending=True)
        drop = sp.cumsum(-1) - sp > top_p
        probs = torch.zeros_like(probs).scatter(-1, si, sp.masked_fill(drop, 0.0))
    cdf = probs.cumsum(-1)
    target = (u.clamp(min=1e-12) * cdf[:, -1]).unsqueeze(1).to(cdf.dtype)
    tok = torch.searchsorted(cdf, target).squeeze(1).clamp(max=probs.shape[1] - 1)
    return tok, logp.gather(1, tok[:, None]).squeeze(1), entropy


class _BufferLayer(DynamicLayer):
    """A KV-cache layer with preallocated room for ``extra`` tokens: appending writes in place
    (``DynamicLayer`` concatenates, which made decoding quadratic and cost ~3/4 of the time)."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, extra: int):
        super().__init__()
        n = keys.shape[-2]
        self.buf_k = keys.new_empty(*keys.shape[:2], n + extra, keys.shape[-1])
        self.buf_v = values.new_empty(*values.shape[:2], n + extra, values.shape[-1])
        self.buf_k[..., :n, :], self.buf_v[..., :n, :] = keys, values
        self.n, self.dtype, self.device, self.is_initialized = n, keys.dtype, keys.device, True
        self._views()

    def _views(self) -> None:
        self.keys, self.values = self.buf_k[..., :self.n, :], self.buf_v[..., :self.n, :]

    def update(self, key_states, value_states, *args, **kwargs):
        t = key_states.shape[-2]
        self.buf_k[..., self.n:self.n + t, :] = key_states
        self.buf_v[..., self.n:self.n + t, :] = value_states
        self.n += t
        self._views()
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self.buf_k, self.buf_v = (_select_rows(buf, indices, self.n) for buf in (self.buf_k, self.buf_v))
        self._views()


class _PromptLayer(DynamicLayer):
    """A KV-cache layer for several samples per prompt: the prompts' keys/values [P, H, L0, d] are
    kept once, not repeated per sample, beside per-row buffers [R, H, T, d] for the completions.

    ``update`` returns the layer itself as keys and values; priorlab's attention
    (:data:`priorlab.model.ATTENTION`) then calls :meth:`attend`, which reads each prompt's keys
    once for all its samples (one batched matmul over [P, H, n_max, d] queries) instead of once per
    row: decoding reads the cache for every token, and the prompt is most of it.
    ``slot`` [R]: row -> prompt * n_max + sample, the row's place in that padded query layout."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, slot: torch.Tensor,
                 n_max: int, extra: int):
        super().__init__()
        if keys.device.type == "cpu":  # attention in fp32 on CPU, as the model's (model.sdpa_fp32_on_cpu): bf16
            keys, values = keys.float(), values.float()  # batched matmuls there copy strided views, 30x slower
        P, H, L0, d = keys.shape
        self.pkT, self.pv = keys.transpose(-1, -2).reshape(P * H, d, L0), values.reshape(P * H, L0, d)
        # padding as an additive bias (0 or -inf), added by the score matmul itself
        bias = torch.zeros(P, 1, 1, L0, dtype=keys.dtype, device=keys.device)
        bias = bias.masked_fill(~mask.bool()[:, None, None], float("-inf"))
        self.pbias = bias.expand(P, H, 1, L0).reshape(P * H, 1, L0)
        self.n_max, self.n, self.P, self.H = n_max, 0, P, H
        self._slots(slot)
        self.pad = {}  # the padded query layouts [P, H, n_max, k] by k, reused every step
        self.ck = keys.new_empty(len(slot), H, extra, d)
        self.cv = values.new_empty(len(slot), H, extra, d)  # (on CUDA under autocast RoPE leaves keys in
        # fp32 while values are bf16)
        self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True

    def _slots(self, slot: torch.Tensor) -> None:
        self.slot, self.p_of, self.j_of = slot, slot // self.n_max, slot % self.n_max

    def get_seq_length(self) -> int:
        return self.pv.shape[-2] + self.n

    def update(self, key_states, value_states, *args, **kwargs):
        t = key_states.shape[-2]
        self.ck[..., self.n:self.n + t, :], self.cv[..., self.n:self.n + t, :] = key_states, value_states
        self.n += t
        return self, self

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep rows ``indices``; copies only the completion positions written so far."""
        self.ck, self.cv = (_select_rows(buf, indices, self.n) for buf in (self.ck, self.cv))
        self._slots(self.slot[indices])

    def attend(self, query: torch.Tensor, scaling: float) -> torch.Tensor:
        """Attention output [R, 1, H, d] of one query token per row [R, H, 1, d] over its prompt
        (padding masked) and the completion tokens written so far."""
        L0 = self.pv.shape[-2]
        with torch.autocast(query.device.type, enabled=False):
            q = query[:, :, 0].to(self.pkT.dtype) * scaling  # [R, H, d]
            sp = self._grouped(q, lambda qp: torch.baddbmm(self.pbias, qp, self.pkT))  # [R, H, L0]
            sc = (q[:, :, None] @ self.ck[:, :, :self.n].transpose(-1, -2))[:, :, 0]  # [R, H, n]
            probs = torch.softmax(torch.cat([sp, sc], -1).float(), -1).to(self.pv.dtype)
            out = self._grouped(probs[..., :L0], lambda pp: torch.bmm(pp, self.pv))  # [R, H, d]
            out = out + (probs[:, :, None, L0:] @ self.cv[:, :, :self.n])[:, :, 0]
        return out[:, None]

    def _grouped(self, x: torch.Tensor, fn) -> torch.Tensor:
        """Rows [R, H, k] -> padded per prompt [P * H, n_max, k] -> ``fn`` -> back to rows [R, H, k'].
        Slots without a row keep stale (finite) values: their outputs are never read."""
        k = x.shape[-1]
        pad = self.pad.get((k, x.dtype))
        if pad is None:
            pad = self.pad[k, x.dtype] = x.new_zeros(self.P, self.H, self.n_max, k)
        pad[self.p_of, :, self.j_of] = x
        y = fn(pad.view(self.P * self.H, self.n_max, k))
        return y.view(self.P, self.H, self.n_max, -1)[self.p_of, :, self.j_of]


def _select_rows(buf: torch.Tensor, indices: torch.Tensor, n: int) -> torch.Tensor:
    """Rows ``indices`` of a cache buffer [R, H, L, d] with its room, copying positions < ``n`` only
    (copying whole buffers, room for the future tokens included, was 30% of decode time)."""
    out = buf.new_empty(len(indices), *buf.shape[1:])
    torch.index_select(buf[..., :n, :], 0, indices, out=out[..., :n, :])
    return out


def _shares_prompts(model) -> bool:
    """Whether :class:`_PromptLayer` can serve ``model``: its attention is priorlab's and it has as
    many key/value heads as query heads (the layer does not repeat heads)."""
    from priorlab.model import ATTENTION

    cfg = getattr(model, "config", None)
    heads = getattr(cfg, "num_attention_heads", None)
    return getattr(cfg, "_attn_implementation", None) == ATTENTION and getattr(cfg, "num_key_value_heads", heads) == heads


@torch.no_grad()
def _prefill(model, input_ids, attn, reps, extra, bf16):
    """Run the unique prompts once, ``reps`` [P] samples each; the cache gets ``extra`` room.
    Returns the cache, the next-token logits [R, V] and the rows' padding masks [R, L0]."""
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    with runtime.autocast(input_ids.device, bf16):
        out = model(input_ids=input_ids, attention_mask=attn, position_ids=pos,
                    cache=DynamicCache(), use_cache=True)
    cache = out.cache
    idx = torch.arange(len(reps), device=reps.device).repeat_interleave(reps)
    if _shares_prompts(model):
        n_max = int(reps.max())
        slot = idx * n_max + torch.cat([torch.arange(int(r), device=reps.device) for r in reps])
        cache.layers = [_PromptLayer(layer.keys, layer.values, attn, slot, n_max, extra) for layer in cache.layers]
    else:
        cache.layers = [_BufferLayer(layer.keys[idx], layer.values[idx], extra) for layer in cache.layers]
    return cache, out.logits[:, -1][idx], attn[idx]


@torch.no_grad()
def _sample_chunk(model, input_ids, attn, reps, uniforms, temperature, top_p, eos, bf16, lean, check_every=1):
    """Decode one chunk. Returns tokens, log-probs, entropies [R, T] (tokens -1 past the end)
    and finished [R]; ``uniforms`` [R, T] fixes every random draw; ``eos`` [S] stop ids; ``lean``:
    the model's :class:`~priorlab.lean.LeanDecoder`, or None to decode through its forward.

    Finished rows are compacted out of the batch once they are an eighth of it (copying the
    cache on every single finish would cost more than decoding a few idle rows). Recording a step
    reads nothing back to the host; only the check for finished rows does, every ``check_every``
    steps (1 on CPU, where a read costs nothing; more on CUDA, where each read stalls the launch
    queue). Rows finished between checks decode a few more tokens that are not recorded, so the
    result does not depend on ``check_every``.
    """
    dev = input_ids.device
    R, T = uniforms.shape
    cache, logits, attn = _prefill(model, input_ids, attn, reps, T, bf16)
    L0 = attn.shape[1]
    pos = attn.sum(-1, keepdim=True)
    attn = torch.cat([attn, attn.new_ones(R, T)], 1).bool()[:, None, None, :]  # [R, 1, 1, L0 + T], sliced per step:
    # a 4-D mask goes to attention as it is (from a 2-D one transformers rebuilds it every step: 17% of decode)
    toks = torch.full((R, T), -1, dtype=torch.long, device=dev)
    lps = torch.zeros(R, T, device=dev)
    ents = torch.zeros(R, T, device=dev)
    finished = torch.zeros(R, dtype=torch.bool, device=dev)
    alive = torch.arange(R, device=dev)
    uniforms = uniforms.to(dev)
    for t in range(T):
        tok, lp, ent = _next_token(logits, uniforms[alive, t], temperature, top_p)
        live = ~finished[alive]
        toks[alive, t] = torch.where(live, tok, -1)
        lps[alive, t], ents[alive, t] = torch.where(live, lp, 0.0), torch.where(live, ent, 0.0)
        finished[alive] = ~live | torch.isin(tok, eos)
        if t == T - 1:
            break
        if (t + 1) % check_every == 0:
            running = ~finished[alive]
            if not running.any():
                break
            if (~running).sum() * 8 >= len(alive):
                keep = running.nonzero().squeeze(1)
                cache.batch_select_indices(keep)
                attn, alive, tok, pos = attn[keep], alive[keep], tok[keep], pos[keep]
        with runtime.autocast(dev, bf16):
            if lean is not None:
                logits = lean(tok, (pos + t)[:, 0], cache)
            else:
                logits = model(input_ids=tok[:, None], attention_mask=attn[..., :L0 + t + 1], position_ids=pos + t,
                               cache=cache, use_cache=True).logits[:, -1]
    return toks.cpu().numpy(), lps.cpu().numpy(), ents.cpu().numpy(), finished.cpu().numpy()


def _longest(tokenizer, prompts: list[str]) -> int:
    return max(len(ids) for ids in encode(tokenizer, prompts)["input_ids"])


def fit_context(model, tokenizer, prompts: list[str], max_new_tokens: int) -> int:
    """``max_new_tokens`` capped at the model's positions minus the longest prompt (in tokens)."""
    return _capped(model, _longest(tokenizer, prompts), max_new_tokens)


def _capped(model, longest: int, max_new_tokens: int) -> int:
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if not limit:
        return max_new_tokens
    if longest >= limit:
        raise ValueError(f"a prompt of {longest} tokens fills the model's {limit} positions; shorten the "
                         f"prompt template or the questions")
    return min(max_new_tokens, limit - longest)


def sample(model, tokenizer, prompts: list[str], n: int, *, max_new_tokens: int = 128,
           temperature: float = 1.0, top_p: float = 1.0, seed: int = 0, max_rows: int = 1024,
           bf16: bool | None = None, show: bool = False, desc: str = "sampling",
           streams: list[int] | None = None) -> Samples:
    """``n`` completions for each model input text (``World.model_input`` of a problem).

    Completion j of prompt i depends only on (model, prompt, ``seed``, s, j), not on batching,
    where s = ``streams[i]`` (default i): a caller that samples a varying subset of its rows
    names each row's stream so that a row's draws do not depend on which others are sampled.
    A completion stops at any of :func:`stop_ids`, or unfinished after ``max_new_tokens``, which is
    capped so that the longest prompt plus the completion fit the model's positions.
    """
    dev = next(model.parameters()).device
    if bf16 is None:  # CPU: fp32 (bf16 no faster at d = 128, see the module docstring)
        bf16 = dev.type == "cuda" and runtime.use_bf16("auto", dev)
    per_prompt = max(1, min(n, max_rows))
    chunks = [(i, j, min(n, j + per_prompt)) for i in range(len(prompts)) for j in range(0, n, per_prompt)]
    group = max(1, max_rows // per_prompt)  # prompts per forward
    eos = torch.tensor(stop_ids(model, tokenizer), device=dev)
    longest = _longest(tokenizer, prompts)
    max_new_tokens = _capped(model, longest, max_new_tokens)
    lean = lean_decoder(model, torch.bfloat16 if bf16 else None, positions=longest + max_new_tokens
                        ) if _shares_prompts(model) else None
    rows: dict[tuple[int, int], tuple] = {}
    with progress_bar(show) as bar:
        task = bar.add_task(desc, total=len(prompts) * n)
        for c in range(0, len(chunks), group):
            part = chunks[c:c + group]
            reps = torch.tensor([hi - lo for _, lo, hi in part], device=dev)
            enc = encode(tokenizer, [prompts[i] for i, _, _ in part], padding=True, return_tensors="pt")
            keys = [(i, j) for i, lo, hi in part for j in range(lo, hi)]
            toks, lps, ents, fin = _sample_chunk(
                model, enc["input_ids"].to(dev), enc["attention_mask"].to(dev), reps,
                row_uniforms(seed, [(i if streams is None else streams[i], j) for i, j in keys], max_new_tokens),
                temperature, top_p, eos, bf16, lean, check_every=CHECK_EVERY.get(dev.type, 1))
            for r, key in enumerate(keys):
                length = int((toks[r] >= 0).sum())
                rows[key] = (toks[r, :length].tolist(), lps[r, :length], ents[r, :length], fin[r])
            bar.advance(task, int(reps.sum()))
    keys = sorted(rows)
    ids = [rows[k][0] for k in keys]
    return Samples(
        prompt_index=np.array([i for i, _ in keys]),
        ids=ids,
        text=tokenizer.batch_decode(ids, skip_special_tokens=False),
        logprobs=[rows[k][1] for k in keys],
        entropies=[rows[k][2] for k in keys],
        finished=np.array([bool(rows[k][3]) for k in keys]),
    )

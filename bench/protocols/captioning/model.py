"""The paper's captioning head: a 1-layer transformer decoder over frozen frame embeddings.

The encoder's 1-s frame embeddings of a clip (standardised with training statistics, projected
to ``d_model``, sinusoidal time positions) are the decoder's memory; words are predicted left
to right with teacher forcing and cross-entropy. The epoch with the lowest validation loss is
kept. Decoding is greedy or beam search (length-normalised final scores); neither may emit
``<unk>`` or stop before the first word. Seeding is local (a forked torch RNG), so training
never reseeds anyone else's random state.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = 0, 1, 2, 3


def words(text: str) -> list[str]:
    """Lower-case word tokens; punctuation is dropped (the PTB tokenizer drops it when scoring)."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


@dataclass(frozen=True)
class Vocabulary:
    tokens: tuple[str, ...]

    @classmethod
    def build(cls, captions: Sequence[str], min_count: int = 1) -> Vocabulary:
        counts = Counter(w for c in captions for w in words(c))
        kept = sorted(w for w, n in counts.items() if n >= min_count)
        return cls(SPECIALS + tuple(kept))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, max_words: int) -> list[int]:
        index = {t: i for i, t in enumerate(self.tokens)}
        return [BOS, *(index.get(w, UNK) for w in words(text)[:max_words]), EOS]

    def decode(self, ids: Sequence[int]) -> str:
        out = []
        for i in ids:
            if i == EOS:
                break
            if i >= len(SPECIALS):
                out.append(self.tokens[i])
        return " ".join(out)


@dataclass(frozen=True)
class CaptionConfig:
    d_model: int = 128
    nhead: int = 4
    dim_ff: int = 512
    dropout: float = 0.2
    lr: float = 5e-4
    weight_decay: float = 0.0
    batch_size: int = 64
    max_epochs: int = 60
    patience: int = 8
    max_words: int = 25
    min_count: int = 1
    beam_size: int = 4
    length_alpha: float = 1.0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def positions(n: int, d: int, device: torch.device | str) -> torch.Tensor:
    pos = torch.arange(n, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : d // 2]
    return pe


class CaptionDecoder(nn.Module):
    def __init__(self, dim_in: int, vocab_size: int, cfg: CaptionConfig) -> None:
        super().__init__()
        self.d_model = cfg.d_model
        self.proj = nn.Linear(dim_in, cfg.d_model)
        self.embed = nn.Embedding(vocab_size, cfg.d_model, padding_idx=PAD)
        layer = nn.TransformerDecoderLayer(cfg.d_model, cfg.nhead, cfg.dim_ff, cfg.dropout, batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, num_layers=1)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.d_model, vocab_size)

    def forward(self, memory: torch.Tensor, memory_pad: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, L, V]`` for next words, given frames ``[B, T, D]`` (pad mask ``[B, T]``)."""
        t, n = memory.shape[1], tokens.shape[1]
        mem = self.drop(self.proj(memory) + positions(t, self.d_model, memory.device))
        x = self.drop(self.embed(tokens) * math.sqrt(self.d_model) + positions(n, self.d_model, tokens.device))
        causal = nn.Transformer.generate_square_subsequent_mask(n, device=tokens.device)
        h = self.decoder(x, mem, tgt_mask=causal, tgt_is_causal=True, memory_key_padding_mask=memory_pad)
        logits: torch.Tensor = self.out(h)
        return logits


def pad_frames(frames: Sequence[np.ndarray], mean: np.ndarray, std: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised frames ``[N, T_max, D]`` and the padding mask ``[N, T_max]`` (True = padding)."""
    t_max = max(len(f) for f in frames)
    x = np.zeros((len(frames), t_max, len(mean)), dtype=np.float32)
    pad = np.ones((len(frames), t_max), dtype=bool)
    for i, f in enumerate(frames):
        x[i, : len(f)] = (f - mean) / std
        pad[i, : len(f)] = False
    return torch.from_numpy(x), torch.from_numpy(pad)


@dataclass
class FittedCaptioner:
    model: CaptionDecoder
    vocab: Vocabulary
    mean: np.ndarray
    std: np.ndarray
    cfg: CaptionConfig
    best_epoch: int
    epochs_run: int
    best_val_loss: float
    device: str = "cpu"

    def _memory(self, frames: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        x, pad = pad_frames(frames, self.mean, self.std)
        return x.to(self.device), pad.to(self.device)

    def _step_logp(self, mem: torch.Tensor, pad: torch.Tensor, seq: torch.Tensor, step: int) -> torch.Tensor:
        logits = self.model(mem, pad, seq)[:, -1].float()
        logits[:, [PAD, BOS, UNK]] = -math.inf
        if step == 0:
            logits[:, EOS] = -math.inf  # at least one word
        return torch.log_softmax(logits, dim=-1)

    def greedy(self, frames: Sequence[np.ndarray], batch: int = 256) -> list[str]:
        self.model.eval()
        out: list[str] = []
        with torch.inference_mode():
            for s in range(0, len(frames), batch):
                mem, pad = self._memory(frames[s : s + batch])
                seq = torch.full((len(mem), 1), BOS, dtype=torch.long, device=self.device)
                done = torch.zeros(len(mem), dtype=torch.bool, device=self.device)
                for step in range(self.cfg.max_words + 1):
                    nxt = self._step_logp(mem, pad, seq, step).argmax(-1)
                    nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
                    seq = torch.cat([seq, nxt[:, None]], dim=1)
                    done |= nxt == EOS
                    if bool(done.all()):
                        break
                out += [self.vocab.decode(row[1:].tolist()) for row in seq.cpu()]
        return out

    def beam(self, frames: Sequence[np.ndarray], beam_size: int | None = None, batch: int = 64) -> list[str]:
        """Beam search; finished hypotheses are ranked by log-probability / length ** alpha."""
        k = beam_size or self.cfg.beam_size
        self.model.eval()
        out: list[str] = []
        with torch.inference_mode():
            for s in range(0, len(frames), batch):
                mem, pad = self._memory(frames[s : s + batch])
                out += self._beam_batch(mem, pad, k)
        return out

    def _beam_batch(self, mem: torch.Tensor, pad: torch.Tensor, k: int) -> list[str]:
        b, dev = len(mem), self.device
        mem_k = mem.repeat_interleave(k, dim=0)
        pad_k = pad.repeat_interleave(k, dim=0)
        seq = torch.full((b, k, 1), BOS, dtype=torch.long, device=dev)
        score = torch.full((b, k), -math.inf, device=dev)
        score[:, 0] = 0.0  # all beams start identical: keep one
        length = torch.zeros((b, k), device=dev)
        done = torch.zeros((b, k), dtype=torch.bool, device=dev)
        for step in range(self.cfg.max_words + 1):
            logp = self._step_logp(mem_k, pad_k, seq.view(b * k, -1), step).view(b, k, -1)
            v = logp.shape[-1]
            frozen = torch.full_like(logp, -math.inf)
            frozen[..., PAD] = 0.0  # a finished beam only extends with padding, at no cost
            logp = torch.where(done[..., None], frozen, logp)
            top, idx = (score[..., None] + logp).view(b, -1).topk(k, dim=1)
            src, tok = idx // v, idx % v
            seq = torch.cat([torch.gather(seq, 1, src[..., None].expand(-1, -1, seq.shape[2])), tok[..., None]], dim=2)
            prev_done = torch.gather(done, 1, src)
            length = torch.gather(length, 1, src) + (~prev_done).float()
            done = prev_done | (tok == EOS)
            score = top
            if bool(done.all()):
                break
        final = score / length.clamp(min=1.0) ** self.cfg.length_alpha
        best = final.argmax(dim=1)
        rows = seq[torch.arange(b, device=dev), best].cpu()
        return [self.vocab.decode(r[1:].tolist()) for r in rows]


def _batches(n: int, size: int, gen: torch.Generator) -> list[torch.Tensor]:
    perm = torch.randperm(n, generator=gen)
    return [perm[i : i + size] for i in range(0, n, size)]


def _pairs(captions: Sequence[Sequence[str]], vocab: Vocabulary, max_words: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(clip index per pair, tokens ``[P, max_words + 2]``) for every (clip, caption) pair."""
    clip_idx, rows = [], []
    for i, caps in enumerate(captions):
        for c in caps:
            ids = vocab.encode(c, max_words)
            rows.append(ids + [PAD] * (max_words + 2 - len(ids)))
            clip_idx.append(i)
    return torch.tensor(clip_idx, dtype=torch.long), torch.tensor(rows, dtype=torch.long)


def _loss(
    model: CaptionDecoder, mem: torch.Tensor, pad: torch.Tensor, tokens: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """Summed token cross-entropy and the number of predicted tokens."""
    tokens = tokens[:, : int((tokens != PAD).sum(dim=1).max())]
    logits = model(mem, pad, tokens[:, :-1])
    target = tokens[:, 1:]
    loss = nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=PAD, reduction="sum"
    )
    return loss, int((target != PAD).sum())


def fit_captioner(
    train_frames: Sequence[np.ndarray],
    train_captions: Sequence[Sequence[str]],
    val_frames: Sequence[np.ndarray],
    val_captions: Sequence[Sequence[str]],
    cfg: CaptionConfig,
    device: str = "cpu",
    progress: Any = None,
) -> FittedCaptioner:
    """Teacher-forced training on every (clip, caption) pair; the lowest validation loss wins."""
    if not train_frames:
        raise ValueError("cannot train a captioner on zero training clips")
    vocab = Vocabulary.build([c for caps in train_captions for c in caps], cfg.min_count)
    stacked = np.concatenate(train_frames)
    mean, std = stacked.mean(axis=0), stacked.std(axis=0) + 1e-8
    x_tr, pad_tr = (t.to(device) for t in pad_frames(train_frames, mean, std))
    clip_tr, tok_tr = (t.to(device) for t in _pairs(train_captions, vocab, cfg.max_words))
    has_val = bool(val_frames)
    if has_val:
        x_va, pad_va = (t.to(device) for t in pad_frames(val_frames, mean, std))
        clip_va, tok_va = (t.to(device) for t in _pairs(val_captions, vocab, cfg.max_words))
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = CaptionDecoder(stacked.shape[1], len(vocab), cfg).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        best_loss, best_epoch, best_state = math.inf, -1, None
        epoch = 0
        for epoch in range(cfg.max_epochs):
            model.train()
            for idx in _batches(len(tok_tr), cfg.batch_size, gen):
                idx = idx.to(device)
                clips = clip_tr[idx]
                loss, n_tok = _loss(model, x_tr[clips], pad_tr[clips], tok_tr[idx])
                opt.zero_grad(set_to_none=True)
                (loss / max(n_tok, 1)).backward()
                opt.step()
            val_loss = _evaluate(model, x_va, pad_va, clip_va, tok_va) if has_val else -float(epoch)
            if progress is not None:
                progress(1)
            if val_loss < best_loss:
                best_loss, best_epoch = val_loss, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif epoch - best_epoch >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return FittedCaptioner(model, vocab, mean, std, cfg, best_epoch, epoch + 1, float(best_loss), device)


def _evaluate(
    model: CaptionDecoder,
    x: torch.Tensor,
    pad: torch.Tensor,
    clip_idx: torch.Tensor,
    tokens: torch.Tensor,
    batch: int = 256,
) -> float:
    """Mean per-token cross-entropy on validation pairs."""
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for s in range(0, len(tokens), batch):
            clips = clip_idx[s : s + batch]
            loss, n = _loss(model, x[clips], pad[clips], tokens[s : s + batch])
            total += float(loss)
            count += n
    return total / max(count, 1)

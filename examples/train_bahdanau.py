#!/usr/bin/env python3
"""train_bahdanau.py: trains the small Bahdanau encoder-decoder that examples/bahdanau.c runs on
the device, and saves its weights and a test set as .npy files. Run by hand (needs PyTorch), not
in CI; the example and its ctest test need only the saved files.

The task is reversing a string of 5-12 digits: the right alignment is known (output step i reads
source position len-1-i, the anti-diagonal), so the learnt attention can be checked by eye.

The model maps onto clattn's calls exactly:
  encoder   nn.GRU(E, H, bidirectional) over the embedded digits, packed by length
            -> clattn_birnn_gru (same gate order r, z, n; backward direction starts at each
            sequence's own last digit; positions past the length are 0);
  attention e_j = v . tanh(W_h h_j + b + W_s s), masked to j < len, softmax, c = sum_j a_j h_j
            -> clattn_additive_keys_create (W_h = attn_wh.weight [A, 2H], bias = attn_wh.bias,
            W_s = attn_ws.weight [A, Ds], v = attn_v.weight [1, A]) and clattn_additive_step;
  decoder   s_i = GRUCell([tgt_embed(y_{i-1}) ; c_i], s_{i-1}), s_0 = 0 -> clattn_gru_cell;
  output    logits_i = out.weight [s_i ; c_i] + out.bias (the example's one GEMM).
Target tokens: digits 0-9, EOS = 10; the decoder's first input is BOS = 11. Step i attends with
the state before it (s_{i-1}), as in the paper.

Files (in OUT, default examples/bahdanau_model): every state_dict tensor as NAME.npy (float32,
PyTorch's names and shapes), and a fixed test set decoded greedily for STEPS = 13 steps:
test_src [N, 12] int32 (zero padded), test_lengths [N] int32, test_tokens [N, 13] int32 (the
greedy choices), test_logits [N, 13, 11] and test_alpha [N, 13, 12] float32.

usage: python examples/train_bahdanau.py [--out DIR] [--steps 600] [--threads 1] [--seed 1]
(the defaults made the shipped model; one thread, because two spent their time spinning on the
shared 2-core development machine: see README.md, "A trained example")
"""
import argparse
import os
import random
import sys
import time

import numpy as np
import torch
from torch import nn

MAX_LEN, MIN_LEN = 12, 5
EOS, BOS = 10, 11
STEPS = MAX_LEN + 1  # digits and EOS


class Bahdanau(nn.Module):
    def __init__(self, E=16, H=32, Ds=32, A=32):
        super().__init__()
        self.src_embed = nn.Embedding(10, E)
        self.encoder = nn.GRU(E, H, batch_first=True, bidirectional=True)
        self.attn_wh = nn.Linear(2 * H, A)
        self.attn_ws = nn.Linear(Ds, A, bias=False)
        self.attn_v = nn.Linear(A, 1, bias=False)
        self.tgt_embed = nn.Embedding(12, E)
        self.decoder = nn.GRUCell(E + 2 * H, Ds)
        self.out = nn.Linear(Ds + 2 * H, 11)
        self.Ds = Ds

    def encode(self, src, lengths):
        x = nn.utils.rnn.pack_padded_sequence(self.src_embed(src), lengths.cpu(),
                                              batch_first=True, enforce_sorted=False)
        h, _ = self.encoder(x)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=src.shape[1])
        mask = torch.arange(src.shape[1])[None, :] < lengths[:, None]
        return h, self.attn_wh(h), mask

    def step(self, keys, kp, mask, s, y_prev):
        """One decoder step: attention with s_{i-1}, the GRU cell, the output projection."""
        e = self.attn_v(torch.tanh(kp + self.attn_ws(s)[:, None, :]))[..., 0]
        alpha = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=1)
        c = torch.bmm(alpha[:, None, :], keys)[:, 0]
        s = self.decoder(torch.cat([self.tgt_embed(y_prev), c], dim=1), s)
        return self.out(torch.cat([s, c], dim=1)), alpha, s

    def forward(self, src, lengths, y_in=None, steps=STEPS):
        """Teacher-forced with y_in [B, steps] when given, else greedy. Returns logits
        [B, steps, 11], alpha [B, steps, T] and the tokens chosen (greedy) or fed."""
        keys, kp, mask = self.encode(src, lengths)
        s = keys.new_zeros(src.shape[0], self.Ds)
        y = torch.full((src.shape[0],), BOS, dtype=torch.long)
        logits, alphas, toks = [], [], []
        for i in range(steps):
            if y_in is not None:
                y = y_in[:, i]
            lg, a, s = self.step(keys, kp, mask, s, y)
            logits.append(lg), alphas.append(a)
            if y_in is None:
                y = lg.argmax(dim=1)
                toks.append(y)
        toks = torch.stack(toks, 1) if y_in is None else y_in
        return torch.stack(logits, 1), torch.stack(alphas, 1), toks


def batch(rng, n):
    """n random digit strings of MIN_LEN..MAX_LEN digits, zero padded, and their targets."""
    lengths = rng.integers(MIN_LEN, MAX_LEN + 1, n)
    src = rng.integers(0, 10, (n, MAX_LEN))
    src[np.arange(MAX_LEN)[None, :] >= lengths[:, None]] = 0
    tgt = np.full((n, STEPS), EOS)
    for b, L in enumerate(lengths):
        tgt[b, :L] = src[b, :L][::-1]
    return (torch.from_numpy(src), torch.from_numpy(lengths), torch.from_numpy(tgt))


def accuracy(tokens, tgt, lengths):
    """Exact match (the digits and the EOS after them) and per-token accuracy over the same
    len+1 positions."""
    valid = torch.arange(STEPS)[None, :] <= lengths[:, None]
    ok = (tokens == tgt) | ~valid
    return (ok.all(1).float().mean().item(),
            ((tokens == tgt) & valid).sum().item() / valid.sum().item())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "bahdanau_model"))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    rng = np.random.default_rng(args.seed)

    model = Bahdanau()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    loss_fn = nn.CrossEntropyLoss(reduction="none")
    t0 = time.perf_counter()
    for it in range(1, args.steps + 1):
        src, lengths, tgt = batch(rng, args.batch)
        y_in = torch.cat([torch.full((args.batch, 1), BOS), tgt[:, :-1]], 1)
        logits, _, _ = model(src, lengths, y_in)
        valid = (torch.arange(STEPS)[None, :] <= lengths[:, None]).float()
        loss = (loss_fn(logits.transpose(1, 2), tgt) * valid).sum() / valid.sum()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if it % 250 == 0 or it == args.steps:
            with torch.no_grad():
                s, L, t = batch(np.random.default_rng(12345), 1000)
                _, _, toks = model(s, L)
                em, tok = accuracy(toks, t, L)
            print(f"step {it}: loss {loss.item():.4f}, greedy on 1000 held-out strings: exact "
                  f"{em:.3f}, per token {tok:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    train_s = time.perf_counter() - t0

    model.eval()
    with torch.no_grad():
        s, L, t = batch(np.random.default_rng(args.seed + 1000), 1000)
        _, _, toks = model(s, L)
        em, tok = accuracy(toks, t, L)
        print(f"trained {args.steps} steps of {args.batch} in {train_s:.0f} s on {args.threads} "
              f"threads (torch {torch.__version__}); fresh 1000 strings: exact {em:.4f}, "
              f"per token {tok:.4f}")

        # The test set: every length, greedy, all STEPS steps (also past EOS, as the example runs).
        trng = np.random.default_rng(7)
        src, lengths, _ = batch(trng, 32)
        lengths[:8] = torch.arange(MIN_LEN, MAX_LEN + 1)
        src[np.arange(MAX_LEN)[None, :] >= lengths[:, None].numpy()] = 0
        logits, alpha, toks = model(src, lengths)
        # float32 rounding of the model itself, along the same token path: the scale of the
        # difference any correct float32 implementation may have from PyTorch's.
        m64 = Bahdanau().double()
        m64.load_state_dict(model.state_dict())
        fed = torch.cat([torch.full((len(src), 1), BOS), toks[:, :-1]], 1)
        l64, a64, _ = m64(src, lengths, fed)
        print(f"test set: PyTorch float32 against float64 on the same path: logits "
              f"{(logits.double() - l64).abs().max().item():.2e} (largest |logit| "
              f"{l64.abs().max().item():.1f}), alpha {(alpha.double() - a64).abs().max().item():.2e}")
        top2 = logits.topk(2, dim=2).values
        print(f"test set: smallest top-2 logit margin {(top2[..., 0] - top2[..., 1]).min():.3f}")

    os.makedirs(args.out, exist_ok=True)
    for name, p in model.state_dict().items():
        np.save(os.path.join(args.out, name + ".npy"), p.numpy().astype(np.float32))
    for name, a in (("test_src", src), ("test_lengths", lengths), ("test_tokens", toks)):
        np.save(os.path.join(args.out, name + ".npy"), a.numpy().astype(np.int32))
    np.save(os.path.join(args.out, "test_logits.npy"), logits.numpy().astype(np.float32))
    np.save(os.path.join(args.out, "test_alpha.npy"), alpha.numpy().astype(np.float32))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

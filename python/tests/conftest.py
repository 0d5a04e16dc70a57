"""conftest.py: shared fixtures and float64 numpy references for the clattn Python tests:
scaled dot-product attention (with PyTorch's mask, causal and GQA semantics), additive
attention and the bidirectional GRU."""
import os

import numpy as np
import pytest


@pytest.fixture
def rng():
    seed = int(os.environ.get("CLATTN_TEST_SEED", "1234"))
    return np.random.default_rng(seed)


def randn(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def ref_sdpa(q, k, v, mask=None, causal=False, scale=None, align="top-left", window=None,
             softcap=None, alibi=None):
    """float64 reference: q [..., Hq, L, E], k [..., Hkv, S, E], v [..., Hkv, S, Ev]; returns
    (out, lse). GQA: query head h reads kv head h // (Hq // Hkv)."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    if q.ndim >= 3 and q.shape[-3] != k.shape[-3]:
        g = q.shape[-3] // k.shape[-3]
        k, v = np.repeat(k, g, axis=-3), np.repeat(v, g, axis=-3)
    L, S = q.shape[-2], k.shape[-2]
    s = q @ np.swapaxes(k, -1, -2) * (1 / np.sqrt(q.shape[-1]) if scale is None else scale)
    if softcap:
        s = softcap * np.tanh(s / softcap)
    i = np.arange(L)[:, None] + (0 if align == "top-left" else S - L)
    j = np.arange(S)[None, :]
    if alibi is not None:
        s = s - np.asarray(alibi, np.float64)[..., :, None, None] * np.abs(i - j)
    keep = np.ones((L, S), bool)
    if causal:
        keep &= j <= i
    if window is not None:
        lft, rgt = window
        if lft is not None:
            keep &= j >= i - lft
        if rgt is not None:
            keep &= j <= i + rgt
    s = np.where(keep, s, -np.inf)
    if mask is not None:
        mask = np.asarray(mask)
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask.astype(np.float64)
    m = s.max(-1, keepdims=True)
    dead = ~np.isfinite(m)
    m = np.where(dead, 0, m)
    p = np.exp(s - m)
    tot = p.sum(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(dead, 0, (p / np.where(dead, 1, tot)) @ v)
        lse = np.where(dead[..., 0], -np.inf, np.log(np.where(dead, 1, tot))[..., 0] + m[..., 0])
    return out, lse


def ref_additive(keys, query, wh, ws, v, bias=None, lengths=None):
    keys, query, wh, ws, v = (np.asarray(a, np.float64) for a in (keys, query, wh, ws, v))
    q3 = query[:, None, :] if query.ndim == 2 else query
    kp = keys @ wh.T + (0 if bias is None else np.asarray(bias, np.float64))
    e = np.tanh(kp[:, None, :, :] + (q3 @ ws.T)[:, :, None, :]) @ v  # [B, Tq, T]
    T = keys.shape[1]
    if lengths is not None:
        e = np.where(np.arange(T)[None, None, :] < np.asarray(lengths)[:, None, None], e, -np.inf)
    e = e - e.max(-1, keepdims=True)
    a = np.exp(e)
    a /= a.sum(-1, keepdims=True)
    c = a @ keys
    return (c[:, 0], a[:, 0]) if query.ndim == 2 else (c, a)


def ref_bigru(x, fwd, bwd, lengths=None):
    """x [B, T, Din]; fwd/bwd (w_ih, w_hh, b_ih, b_hh): PyTorch's GRU, zero initial state, zero
    output past each length, backward direction starting at each sequence's last token."""
    x = np.asarray(x, np.float64)
    B, T, _ = x.shape
    H = fwd[1].shape[1]
    lens = np.full(B, T) if lengths is None else np.asarray(lengths)
    out = np.zeros((B, T, 2 * H))
    for d, (wih, whh, bih, bhh) in enumerate((fwd, bwd)):
        wih, whh, bih, bhh = (np.asarray(a, np.float64) for a in (wih, whh, bih, bhh))
        for b in range(B):
            h = np.zeros(H)
            order = range(lens[b]) if d == 0 else range(lens[b] - 1, -1, -1)
            for t in order:
                gi, gh = wih @ x[b, t] + bih, whh @ h + bhh
                r = 1 / (1 + np.exp(-(gi[:H] + gh[:H])))
                z = 1 / (1 + np.exp(-(gi[H:2 * H] + gh[H:2 * H])))
                n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
                h = (1 - z) * n + z * h
                out[b, t, d * H:(d + 1) * H] = h
    return out

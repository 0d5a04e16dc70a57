"""clattn._sdpa: scaled_dot_product_attention with the shapes and semantics of
torch.nn.functional.scaled_dot_product_attention, and plan(), the dispatcher's choice for the
same arguments as a dict."""
import math

import numpy as np

from . import _clattn
from ._arrays import DTypeError, Source, as_float32, rows, to_numpy
from ._context import resolve

_ALGOS = {"auto": 0, "naive": 1, "flash1": 2, "flash2": 3, "decode": 4}
_FLAVOURS = {"auto": 0, "gpu": 1, "cpu": 2}
_ALIGNS = {"bottom-right": 0, "top-left": 1}


class _Shapes:
    """The problem's sizes from q [..., Hq, L, E], k [..., Hkv, S, E], v [..., Hkv, S, Ev]."""

    def __init__(self, q, k, v, enable_gqa):
        for name, a in (("query", q), ("key", k), ("value", v)):
            if a.ndim < 2:
                raise ValueError(f"{name}: needs at least 2 dimensions ([..., seq, dim]), "
                                 f"got shape {a.shape}")
        if not q.ndim == k.ndim == v.ndim:
            raise ValueError(f"query, key and value need the same number of dimensions, got "
                             f"shapes {q.shape}, {k.shape} and {v.shape}")
        self.ndim = nd = q.ndim
        self.batch_shape = q.shape[:-3] if nd >= 3 else ()
        for name, a in (("key", k), ("value", v)):
            if a.shape[:-3] != self.batch_shape:
                raise ValueError(f"{name}: batch dimensions {a.shape[:-3]} differ from the "
                                 f"query's {self.batch_shape}")
        self.B = int(np.prod(self.batch_shape, dtype=np.int64)) if self.batch_shape else 1
        self.Hq = q.shape[-3] if nd >= 3 else 1
        self.Hkv = k.shape[-3] if nd >= 3 else 1
        self.L, self.E = q.shape[-2], q.shape[-1]
        self.S, self.Ev = k.shape[-2], v.shape[-1]
        if k.shape[-1] != self.E:
            raise ValueError(f"key: last dimension {k.shape[-1]} differs from the query's {self.E}")
        if v.shape[-2] != self.S or (nd >= 3 and v.shape[-3] != self.Hkv):
            raise ValueError(f"value: shape {v.shape} does not match key's {k.shape}")
        if self.Hq != self.Hkv:
            if not enable_gqa:
                raise ValueError(f"query has {self.Hq} heads and key/value {self.Hkv}: pass "
                                 "enable_gqa=True for grouped-query attention")
            if self.Hkv == 0 or self.Hq % self.Hkv:
                raise ValueError(f"enable_gqa: query heads ({self.Hq}) must be a multiple of "
                                 f"key/value heads ({self.Hkv})")

    def as4(self, a, heads):
        """a [..., H, S, D] as [B, H, S, D] (a view where numpy can make one)."""
        return a.reshape((self.B, heads) + a.shape[-2:])


def _mask(mask, sh, materialize=True):
    """attn_mask broadcast as PyTorch broadcasts it to [..., Hq, L, S], as an additive float32
    [1|B, 1|Hq, L, S] array (True keeps a key: 0; False removes it: -inf)."""
    m = to_numpy(mask, "attn_mask")
    if m.dtype != np.bool_ and m.dtype.kind != "f":
        raise DTypeError(f"attn_mask: needs bool or floating-point elements, got {m.dtype}")
    full = sh.batch_shape + ((sh.Hq,) if sh.ndim >= 3 else ()) + (sh.L, sh.S)
    if m.ndim > len(full):
        raise ValueError(f"attn_mask: shape {m.shape} has more dimensions than {full}")
    m = m.reshape((1,) * (len(full) - m.ndim) + m.shape)
    try:
        np.broadcast_shapes(m.shape, full)
    except ValueError:
        raise ValueError(f"attn_mask: shape {mask.shape} does not broadcast to {full}") from None
    if np.broadcast_shapes(m.shape, full) != full:
        raise ValueError(f"attn_mask: shape {mask.shape} does not broadcast to {full}")
    nb = len(sh.batch_shape)
    mb = sh.B if any(n != 1 for n in m.shape[:nb]) else 1
    mh = sh.Hq if sh.ndim >= 3 and m.shape[nb] != 1 else 1
    if not materialize:
        return mb, mh
    target = (sh.batch_shape if mb != 1 else (1,) * nb) + ((mh,) if sh.ndim >= 3 else ()) + \
        (sh.L, sh.S)
    m = np.broadcast_to(m, target).reshape(mb, mh, sh.L, sh.S)
    if m.dtype == np.bool_:
        return np.where(m, np.float32(0), np.float32(-np.inf))
    return np.ascontiguousarray(_storage(m, "attn_mask"))


def _storage(a, name):
    """a in a storage type the library takes: float16 as it is, other floats as float32."""
    return a if a.dtype == np.float16 else as_float32(a, name)


def _options(sh, is_causal, scale, algo, flavour, window, softcap, alibi_slopes, causal_align,
             kv_lens=None, decode_splits=None):
    if not isinstance(is_causal, (bool, np.bool_)):
        raise TypeError(f"is_causal: expected a bool, got {type(is_causal).__name__} (clattn's "
                        "signature has no dropout_p between attn_mask and is_causal: pass "
                        "is_causal by keyword)")
    opts = {"causal": bool(is_causal)}
    if scale is not None:
        scale = float(scale)
        if scale != 0:
            opts["scale"] = scale
    for key, value, table in (("algo", algo, _ALGOS), ("flavour", flavour, _FLAVOURS),
                              ("causal_align", causal_align, _ALIGNS)):
        if value not in table:
            raise ValueError(f"{key}: expected one of {', '.join(table)}, got {value!r}")
        opts[key] = table[value]
    if window is not None:
        try:
            left, right = window
        except (TypeError, ValueError):
            raise ValueError(f"window: expected (left, right), got {window!r}") from None
        opts.update(window=True, window_left=-1 if left is None else int(left),
                    window_right=-1 if right is None else int(right))
    if softcap is not None:
        opts["softcap"] = float(softcap)
    if alibi_slopes is not None:
        if isinstance(alibi_slopes, str) and alibi_slopes == "standard" or alibi_slopes is True:
            h = np.arange(1, sh.Hq + 1, dtype=np.float64)
            slopes = np.exp2(-8.0 * h / sh.Hq).astype(np.float32)
        else:
            slopes = np.ascontiguousarray(as_float32(to_numpy(alibi_slopes, "alibi_slopes"),
                                                     "alibi_slopes"))
            if slopes.ndim > 2 and all(n == 1 for n in slopes.shape[:-2]):
                slopes = slopes.reshape(slopes.shape[-2:])
        opts["alibi_slopes"] = slopes
    if kv_lens is not None:
        lens = np.asarray(to_numpy(kv_lens, "kv_lens") if not isinstance(kv_lens, (list, tuple))
                          else kv_lens)
        if lens.dtype.kind not in "iu":
            raise DTypeError(f"kv_lens: needs integers, got {lens.dtype}")
        if lens.shape != (sh.B,):
            raise ValueError(f"kv_lens: needs shape ({sh.B},), got {lens.shape}")
        if lens.size and (lens.min() < 0 or lens.max() > np.iinfo(np.int32).max):
            raise ValueError("kv_lens: lengths must be in 0 ... seq_kv")
        opts["kv_lens"] = np.ascontiguousarray(lens, dtype=np.int32)
    if decode_splits is not None:
        opts["decode_splits"] = int(decode_splits)
    return opts


def scaled_dot_product_attention(query, key, value, attn_mask=None, is_causal=False, scale=None,
                                 enable_gqa=False, *, algo="auto", return_lse=False, ctx=None,
                                 window=None, softcap=None, alibi_slopes=None,
                                 causal_align="top-left", flavour="auto", kv_lens=None,
                                 decode_splits=None, dropout_p=0.0):
    """Attention as torch.nn.functional.scaled_dot_product_attention computes it, on an OpenCL
    device.

    query [..., Hq, L, E], key [..., Hkv, S, E], value [..., Hkv, S, Ev] -> [..., Hq, L, Ev]
    (also [L, E] without heads). numpy arrays, buffer-protocol objects or torch tensors; the
    result is the query's type (numpy for other buffers) and floating dtype. float32 and float16
    are stored as they are (the library's storage dtypes: float16 is widened on load, the
    arithmetic is float32 and the output rounded back to float16); float64 (and bfloat16
    tensors) are converted to float32 first and the result converted back.
    attn_mask: broadcastable to [..., Hq, L, S]; bool keeps a key where True, a float mask is
    added to the scaled scores (-inf removes a key). A row whose every key is removed gives 0
    (as PyTorch 2.5+), with lse -inf.
    is_causal: query i sees keys j <= i, top-left aligned as PyTorch aligns it (when L != S,
    query i sits at key i); PyTorch refuses is_causal together with attn_mask, and so does this.
    scale: None for 1/sqrt(E); 0 gives uniform weights over the keys the mask leaves.
    enable_gqa: Hq may be a multiple of Hkv; query head h reads kv head h // (Hq // Hkv).
    There is no dropout (dropout_p, by keyword only, must be 0).

    Keyword-only extras: algo "auto" | "naive" | "flash1" | "flash2" and flavour "auto" | "cpu" |
    "gpu" force the dispatcher; return_lse=True returns (out, lse) with lse [..., Hq, L] the
    natural log-sum-exp of the scaled, masked scores (float32); ctx a clattn.Context (default:
    the process's); window=(left, right): query i sees keys i-left ... i+right (None: unbounded
    on that side; Mistral's causal window of W keys is is_causal=True, window=(W-1, 0));
    softcap=C: scores become C*tanh(s/C) (Gemma 2); alibi_slopes: [Hq] or [B, Hq] slopes, or
    "standard" for 2^(-8(h+1)/Hq): -slope*|i-j| added to the scores; causal_align "top-left"
    (default, PyTorch) or "bottom-right" (FlashAttention: the last query sees the last key)
    places query i for is_causal, the window and ALiBi; kv_lens: [B] integers, ragged batches
    (sequence b attends to its first kv_lens[b] keys only, as clattn_sdpa_desc.kv_lens; with
    causal_align="bottom-right" query i sits at key i + kv_lens[b] - L, with "top-left" at key i;
    a length of 0 gives 0 and lse -inf); algo="decode" and
    decode_splits=n force the split-KV decode path (AUTO takes it for few query rows).

    Arrays whose last dimension is contiguous (such as a [B, S, H, D] tensor transposed to
    [B, H, S, D]) are read in place; other layouts are copied first. The GIL is released while
    the device works.
    """
    if dropout_p:
        raise ValueError("dropout_p: clattn has no dropout; only 0 is accepted")
    src = Source(query)
    q, k, v = (to_numpy(x, n) for x, n in ((query, "query"), (key, "key"), (value, "value")))
    for name, a in (("query", q), ("key", k), ("value", v)):
        if a.dtype.kind != "f":
            raise DTypeError(f"{name}: needs floating-point elements, got {a.dtype}")
    if not q.dtype == k.dtype == v.dtype:
        raise DTypeError(f"query, key and value need the same dtype, got {q.dtype}, {k.dtype} "
                         f"and {v.dtype}")
    sh = _Shapes(q, k, v, enable_gqa)
    if attn_mask is not None and is_causal:
        raise ValueError("attn_mask and is_causal=True together: PyTorch refuses this; fold the "
                         "causal mask into attn_mask")
    opts = _options(sh, is_causal, scale, algo, flavour, window, softcap, alibi_slopes,
                    causal_align, kv_lens, decode_splits)
    ctx = resolve(ctx)
    out_shape = q.shape[:-1] + (sh.Ev,)
    if sh.B * sh.Hq * sh.L == 0 or sh.S == 0:
        # Nothing to compute, or no keys at all: every row's keys are removed (0, lse -inf).
        out = np.zeros(out_shape, np.float32)
        lse = np.full(q.shape[:-1], -np.inf, np.float32)
        return (src.wrap(out), src.wrap(lse, float32=True)) if return_lse else src.wrap(out)
    q4, k4, v4 = (rows(sh.as4(_storage(a, n), h)) for a, n, h in
                  ((q, "query", sh.Hq), (k, "key", sh.Hkv), (v, "value", sh.Hkv)))
    if scale is not None and float(scale) == 0:
        q4 = np.zeros_like(q4)  # scale 0: every score 0 (the library's 0 means the default)
        opts["scale"] = 1.0
    mask4 = None if attn_mask is None else _mask(attn_mask, sh)
    out = np.empty((sh.B, sh.Hq, sh.L, sh.Ev), q4.dtype)
    lse = np.empty((sh.B, sh.Hq, sh.L), np.float32) if return_lse else None
    _clattn.sdpa(ctx, q4, k4, v4, mask4, out, lse, **opts)
    out = src.wrap(out.reshape(out_shape))
    if return_lse:
        lse = lse.reshape(q.shape[:-1])
        return out, src.wrap(lse, float32=True)
    return out


def _shape_or_array(x, name):
    if isinstance(x, (tuple, list)) and all(isinstance(n, (int, np.integer)) for n in x):
        return np.broadcast_to(np.float32(0), tuple(int(n) for n in x))
    return to_numpy(x, name)


def plan(query, key, value, attn_mask=None, is_causal=False, scale=None, enable_gqa=False, *,
         algo="auto", ctx=None, window=None, softcap=None, alibi_slopes=None,
         causal_align="top-left", flavour="auto", kv_lens=None, decode_splits=None):
    """What the dispatcher would run for scaled_dot_product_attention with these arguments, as
    a dict: algo, flavour, block_q, block_kv, work_group, local_mem_bytes, scratch_bytes,
    global_size and splits (decode). query, key, value and attn_mask may be arrays or shape tuples (nothing is
    computed or copied)."""
    q, k, v = (_shape_or_array(x, n) for x, n in ((query, "query"), (key, "key"),
                                                   (value, "value")))
    sh = _Shapes(q, k, v, enable_gqa)
    opts = _options(sh, is_causal, scale, algo, flavour, window, softcap, alibi_slopes,
                    causal_align, kv_lens, decode_splits)
    mb = mh = 0
    if attn_mask is not None:
        m = attn_mask
        if isinstance(m, (tuple, list)):
            m = np.broadcast_to(np.bool_(True), tuple(m))
        mb, mh = _mask(m, sh, materialize=False)
    dims = (sh.B, sh.Hq, sh.Hkv, sh.L, sh.S, sh.E, sh.Ev, mb, mh)
    return _clattn.plan(resolve(ctx), dims, **opts)

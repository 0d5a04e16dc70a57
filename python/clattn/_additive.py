"""clattn._additive: additive (Bahdanau) attention, its AdditiveKeys handle for decoder loops,
and BiGRU, the bidirectional GRU encoder that loads a PyTorch nn.GRU(bidirectional=True)
state_dict as it is."""
import numpy as np

from . import _clattn
from ._arrays import Source, contiguous_f32, lengths_array, to_numpy
from ._context import resolve


def _query3(query, batch):
    """query [B, Ds] or [B, Tq, Ds] as a contiguous float32 [B, Tq, Ds] and whether it was 2-D."""
    q = contiguous_f32(query, "query")
    if q.ndim == 2:
        return q[:, None, :], True
    if q.ndim != 3:
        raise ValueError(f"query: needs shape [B, Ds] or [B, Tq, Ds], got {q.shape}")
    return q, False


def _keys_args(keys, w_h, w_s, v, bias, lengths):
    k = contiguous_f32(keys, "keys", 3)
    args = [k, contiguous_f32(w_h, "w_h", 2), contiguous_f32(w_s, "w_s", 2),
            contiguous_f32(v, "v", 1),
            None if bias is None else contiguous_f32(bias, "bias", 1),
            lengths_array(lengths, k.shape[0])]
    return args


def _outputs(B, steps, Dk, T, return_weights):
    ctxt = np.empty((B, steps, Dk), np.float32)
    weights = np.empty((B, steps, T), np.float32) if return_weights else None
    return ctxt, weights


def _result(src, ctxt, weights, squeeze):
    if squeeze:
        ctxt = ctxt[:, 0]
        weights = None if weights is None else weights[:, 0]
    return ctxt if weights is None else (src.wrap(ctxt), src.wrap(weights))


def additive_attention(keys, query, w_h, w_s, v, bias=None, lengths=None, *,
                       return_weights=False, ctx=None):
    """Additive (Bahdanau) attention: e[b,q,j] = v . tanh(W_h keys[b,j] + W_s query[b,q] + bias),
    masked to j < lengths[b], softmaxed over j into alpha, context = sum_j alpha[b,q,j] keys[b,j].

    keys [B, T, Dk], query [B, Ds] or [B, Tq, Ds], w_h [A, Dk], w_s [A, Ds], v [A], bias [A],
    lengths [B] integers (None: all T). Returns context [B, Dk] (or [B, Tq, Dk]) and, with
    return_weights=True, (context, alpha [B, T] or [B, Tq, T]). Computed in float32; the result
    follows the query's type. For a decoder loop, AdditiveKeys projects the keys once.
    """
    src = Source(query)
    args = _keys_args(keys, w_h, w_s, v, bias, lengths)
    q, squeeze = _query3(query, args[0].shape[0])
    B, T, Dk = args[0].shape
    ctxt, weights = _outputs(B, q.shape[1], Dk, T, return_weights)
    _clattn.additive(resolve(ctx), args[0], q, *args[1:], ctxt, weights)
    if weights is None:
        return src.wrap(ctxt[:, 0] if squeeze else ctxt)
    return _result(src, ctxt, weights, squeeze)


class AdditiveKeys:
    """The keys of additive attention projected once (W_h keys, one GEMM) and kept on the
    device with W_s, v, the bias and the lengths, for any number of decoder steps:

        keys = clattn.AdditiveKeys(enc_out, w_h, w_s, v, bias, lengths)
        for t in range(steps):
            context, alpha = keys.step(s_t, return_weights=True)

    Several threads may run steps on one AdditiveKeys at once. flavour "auto" | "cpu" | "gpu"
    forces the step kernel's flavour (plan() says what runs). Each step copies the query to the
    device and the context (and weights) back.
    """

    def __init__(self, keys, w_h, w_s, v, bias=None, lengths=None, *, flavour="auto", ctx=None):
        args = _keys_args(keys, w_h, w_s, v, bias, lengths)
        if flavour not in _FLAVOURS:
            raise ValueError(f"flavour: expected one of {', '.join(_FLAVOURS)}, got {flavour!r}")
        self._handle = _clattn.AdditiveKeys(resolve(ctx), *args, _FLAVOURS[flavour])
        d = self._handle.dims
        self.batch, self.seq, self.key_dim = d["batch"], d["seq"], d["key_dim"]
        self.query_dim, self.attn_dim = d["query_dim"], d["attn_dim"]

    def step(self, query, *, return_weights=False):
        """query [B, Ds] (or [B, Tq, Ds]) -> context [B, Dk] (and alpha [B, T] with
        return_weights=True)."""
        src = Source(query)
        q, squeeze = _query3(query, self.batch)
        ctxt, weights = _outputs(self.batch, q.shape[1], self.key_dim, self.seq, return_weights)
        self._handle.step(q, ctxt, weights)
        if weights is None:
            return src.wrap(ctxt[:, 0] if squeeze else ctxt)
        return _result(src, ctxt, weights, squeeze)

    def plan(self):
        """The dispatcher's plan for the step kernel: flavour, block_t, lanes, work_group,
        stage_query, local_mem_bytes."""
        return self._handle.plan()

    def __repr__(self):
        return (f"<clattn.AdditiveKeys B={self.batch} T={self.seq} Dk={self.key_dim} "
                f"Ds={self.query_dim} A={self.attn_dim}>")


_FLAVOURS = {"auto": 0, "gpu": 1, "cpu": 2}
_GRU_KEYS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


class BiGRU:
    """A one-layer bidirectional GRU (PyTorch's gates r, z, n) on the device, whose weights load
    from a PyTorch nn.GRU(bidirectional=True) state_dict (tensors or numpy arrays) as they are:

        enc = clattn.BiGRU.from_state_dict(gru.state_dict(), batch_first=True)
        out, h_n = enc(x, lengths)

    x [B, T, Din] (batch_first) or [T, B, Din]; lengths [B] or None. Returns output
    [B, T, 2H] (or [T, B, 2H]) = [forward ; backward], 0 past each sequence's length (as
    pad_packed_sequence pads), and h_n [2, B, H] (the final forward and backward states), as
    nn.GRU returns them for a packed sequence. Initial states are 0; float32.
    """

    def __init__(self, input_size, hidden_size, *, batch_first=False, bias=True, ctx=None):
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.batch_first, self.bias = batch_first, bias
        self.ctx = ctx
        H, D = self.hidden_size, self.input_size
        self._fwd = self._bwd = None
        self._shapes = {"weight_ih": (3 * H, D), "weight_hh": (3 * H, H), "bias_ih": (3 * H,),
                        "bias_hh": (3 * H,)}

    @classmethod
    def from_state_dict(cls, state_dict, *, batch_first=False, ctx=None):
        w = to_numpy(state_dict["weight_ih_l0"], "weight_ih_l0")
        h = to_numpy(state_dict["weight_hh_l0"], "weight_hh_l0")
        gru = cls(w.shape[1], h.shape[1], batch_first=batch_first,
                  bias="bias_ih_l0" in state_dict, ctx=ctx)
        gru.load_state_dict(state_dict)
        return gru

    def load_state_dict(self, state_dict):
        """Loads weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0 and their _reverse."""
        extra = [k for k in state_dict if not k.endswith(("_l0", "_l0_reverse"))]
        if extra:
            raise ValueError(f"BiGRU: one layer only; unexpected keys {extra}")
        dirs = []
        for suffix in ("", "_reverse"):
            ws = []
            for key in _GRU_KEYS:
                name = key + suffix
                if name not in state_dict:
                    if key.startswith("bias") and not self.bias:
                        ws.append(None)
                        continue
                    raise ValueError(f"BiGRU: state_dict has no {name} (bidirectional=True?)")
                a = contiguous_f32(state_dict[name], name)
                want = self._shapes[key[:-3]]
                if a.shape != want:
                    raise ValueError(f"BiGRU: {name} has shape {a.shape}, expected {want}")
                ws.append(a)
            dirs.append(tuple(ws))
        self._fwd, self._bwd = dirs

    def __call__(self, x, lengths=None):
        if self._fwd is None:
            raise ValueError("BiGRU: no weights loaded (load_state_dict)")
        src = Source(x)
        a = contiguous_f32(x, "x", 3)
        if not self.batch_first:
            a = np.ascontiguousarray(a.transpose(1, 0, 2))
        B, T, _ = a.shape
        lens = lengths_array(lengths, B)
        H = self.hidden_size
        out = np.empty((B, T, 2 * H), np.float32)
        _clattn.birnn_gru(resolve(self.ctx), a, self._fwd, self._bwd, lens, out)
        last = np.full(B, T - 1) if lens is None else np.asarray(lens, np.int64) - 1
        h_n = np.stack([out[np.arange(B), last, :H], out[:, 0, H:]])
        if not self.batch_first:
            out = out.transpose(1, 0, 2)
        return src.wrap(np.ascontiguousarray(out)), src.wrap(np.ascontiguousarray(h_n))

"""clattn._rnn: GRU and LSTM layers on the device (clattn_rnn), shaped like PyTorch's nn.GRU and
nn.LSTM for inference: the same constructor arguments, the same state_dict names, the same call
and results, with sequence lengths given as an array instead of a PackedSequence."""
import numpy as np

from . import _clattn
from ._arrays import Source, contiguous_f32, lengths_array, to_numpy
from ._context import resolve

_ALGOS = {"auto": 0, "persistent": 1, "step": 2}
_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class _RNNBase:
    _lstm = False
    _gates = 3

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, ctx=None):
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias = int(num_layers), bool(bias)
        self.batch_first, self.bidirectional = bool(batch_first), bool(bidirectional)
        # Dropout acts between layers in training only; this is inference (nn.Module.eval()).
        self.dropout = float(dropout)
        self.ctx = ctx
        self._rnn = None
        if self.input_size < 1 or self.hidden_size < 1 or not 1 <= self.num_layers <= 64:
            raise ValueError(f"{self._name()}: input_size {self.input_size} and hidden_size "
                             f"{self.hidden_size} must be >= 1, num_layers 1..64 (got "
                             f"{self.num_layers})")

    @classmethod
    def _name(cls):
        return cls.__name__

    @property
    def _dirs(self):
        return 2 if self.bidirectional else 1

    @classmethod
    def from_torch(cls, module, *, ctx=None):
        """The clattn twin of a torch nn.GRU / nn.LSTM (its sizes, flags and weights)."""
        if getattr(module, "proj_size", 0):
            raise ValueError(f"{cls._name()}: proj_size is not supported")
        if getattr(module, "mode", cls._name()) != cls._name():
            raise ValueError(f"{cls._name()}: the module is a {module.mode}")
        r = cls(module.input_size, module.hidden_size, module.num_layers, module.bias,
                module.batch_first, module.dropout, module.bidirectional, ctx=ctx)
        r.load_state_dict(module.state_dict())
        return r

    @classmethod
    def from_state_dict(cls, state_dict, *, batch_first=False, ctx=None):
        """Sizes, layers, directions and bias inferred from the state_dict's names and shapes."""
        if "weight_ih_l0" not in state_dict or "weight_hh_l0" not in state_dict:
            raise ValueError(f"{cls._name()}: state_dict has no weight_ih_l0 / weight_hh_l0")
        w = to_numpy(state_dict["weight_ih_l0"], "weight_ih_l0")
        h = to_numpy(state_dict["weight_hh_l0"], "weight_hh_l0")
        if w.ndim != 2 or h.ndim != 2:
            raise ValueError(f"{cls._name()}: weight_ih_l0 and weight_hh_l0 must be 2-D")
        layers = 1
        while f"weight_ih_l{layers}" in state_dict:
            layers += 1
        r = cls(w.shape[1], h.shape[1], layers, "bias_ih_l0" in state_dict, batch_first,
                bidirectional="weight_ih_l0_reverse" in state_dict, ctx=ctx)
        r.load_state_dict(state_dict)
        return r

    def load_state_dict(self, state_dict):
        """Loads weight_ih_l{l}, weight_hh_l{l}, bias_ih_l{l}, bias_hh_l{l} (and _reverse) for
        every layer, checking names and shapes; the weights go to the device once, here."""
        G, H, nd = self._gates, self.hidden_size, self._dirs
        names, weights = set(), []
        for layer in range(self.num_layers):
            din = self.input_size if layer == 0 else nd * H
            for suffix in ("", "_reverse")[:nd]:
                entry = []
                for key, shape in zip(_KEYS, ((G * H, din), (G * H, H), (G * H,), (G * H,))):
                    name = f"{key}_l{layer}{suffix}"
                    if key.startswith("bias") and not self.bias:
                        entry.append(None)
                        continue
                    if name not in state_dict:
                        raise ValueError(f"{self._name()}: state_dict has no {name}")
                    a = contiguous_f32(state_dict[name], name)
                    if a.shape != shape:
                        raise ValueError(f"{self._name()}: {name} has shape {a.shape}, "
                                         f"expected {shape}")
                    names.add(name)
                    entry.append(a)
                weights.append(tuple(entry))
        extra = sorted(set(state_dict) - names)
        if extra:
            raise ValueError(f"{self._name()}: unexpected keys {extra} (num_layers "
                             f"{self.num_layers}, bidirectional {self.bidirectional}, bias "
                             f"{self.bias})")
        self._rnn = _clattn.Rnn(resolve(self.ctx), self._lstm, self.input_size, H,
                                self.num_layers, self.bidirectional, self.bias, weights)

    def _state(self, s, name, batch, unbatched):
        """An initial state [L * ndir, B, H] (or [L * ndir, H] unbatched) as contiguous float32."""
        if s is None:
            return None
        a = contiguous_f32(s, name)
        want = (self.num_layers * self._dirs, self.hidden_size)
        want = want if unbatched else (want[0], batch, want[1])
        if a.shape != want:
            raise ValueError(f"{self._name()}: {name} has shape {a.shape}, expected {want}")
        return a.reshape(want[0], batch, self.hidden_size)

    def __call__(self, x, hx=None, lengths=None, *, algo="auto"):
        """x [B, T, input_size] (batch_first), [T, B, input_size], or unbatched [T, input_size].
        hx: the initial state(s) as nn.GRU / nn.LSTM take them (None: zeros). lengths [B]:
        each sequence's length, 0..T (None: all T); positions past it give 0 and the final
        state is the one at the last valid step, as with a PackedSequence. algo: "auto",
        "persistent" or "step" (the recurrent kernel's shape). Returns (output, h_n), or
        (output, (h_n, c_n)) for the LSTM, of the input's type."""
        if self._rnn is None:
            raise ValueError(f"{self._name()}: no weights loaded (load_state_dict)")
        if algo not in _ALGOS:
            raise ValueError(f"{self._name()}: algo must be one of {sorted(_ALGOS)}, got {algo!r}")
        src = Source(x)
        a = contiguous_f32(x, "x")
        if a.ndim not in (2, 3):
            raise ValueError(f"x: needs 2 (unbatched) or 3 dimensions, got shape {a.shape}")
        unbatched = a.ndim == 2
        if unbatched:
            a = a[None]
        elif not self.batch_first:
            a = np.ascontiguousarray(a.transpose(1, 0, 2))
        B, T, _ = a.shape
        if self._lstm:
            if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise ValueError("LSTM: hx must be (h0, c0) or None")
            h0, c0 = (None, None) if hx is None else hx
        else:
            h0, c0 = hx, None
        h0 = self._state(h0, "h0", B, unbatched)
        c0 = self._state(c0, "c0", B, unbatched)
        lens = lengths_array(lengths, B)
        S, H = self.num_layers * self._dirs, self.hidden_size
        out = np.empty((B, T, self._dirs * H), np.float32)
        h_n = np.empty((S, B, H), np.float32)
        c_n = np.empty((S, B, H), np.float32) if self._lstm else None
        self._rnn.forward(a, h0, c0, lens, out, h_n, c_n, _ALGOS[algo])
        if unbatched:
            out, h_n = out[0], h_n[:, 0]
            c_n = None if c_n is None else c_n[:, 0]
        elif not self.batch_first:
            out = out.transpose(1, 0, 2)
        out, h_n = src.wrap(np.ascontiguousarray(out)), src.wrap(np.ascontiguousarray(h_n))
        if self._lstm:
            return out, (h_n, src.wrap(np.ascontiguousarray(c_n)))
        return out, h_n

    def __repr__(self):
        return (f"clattn.{self._name()}({self.input_size}, {self.hidden_size}, num_layers="
                f"{self.num_layers}, bias={self.bias}, batch_first={self.batch_first}, "
                f"bidirectional={self.bidirectional})")


class GRU(_RNNBase):
    """GRU layers (PyTorch's gates r, z, n) on the device, for inference, shaped like nn.GRU:

        enc = clattn.GRU.from_torch(torch_gru)          # or from_state_dict(sd), or GRU(...)
        out, h_n = enc(x, h0, lengths=lengths)

    Weights load from an nn.GRU state_dict as they are (weight_ih_l0, ..., _reverse)."""
    _lstm = False
    _gates = 3


class LSTM(_RNNBase):
    """LSTM layers (PyTorch's gates i, f, g, o) on the device, for inference, shaped like
    nn.LSTM (no proj_size):

        enc = clattn.LSTM.from_torch(torch_lstm)
        out, (h_n, c_n) = enc(x, (h0, c0), lengths=lengths)
    """
    _lstm = True
    _gates = 4

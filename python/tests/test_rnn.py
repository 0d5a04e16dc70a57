"""test_rnn.py: clattn.GRU and clattn.LSTM against a float64 numpy reference of PyTorch's
equations: stacked layers, one or two directions, batch_first or not, unbatched input, initial
states, lengths (0 and T included, padding 0, final states at each sequence's last step), both
recurrent kernel shapes; loading from a state_dict by inference; and bad input refused."""
import numpy as np
import pytest

import clattn
from conftest import randn

TOL = dict(rtol=2e-4, atol=3e-5)


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def ref_rnn(lstm, sd, L, nd, x, h0=None, c0=None, lengths=None):
    """x [B, T, Din] float64; sd a state_dict of numpy arrays; returns out [B, T, nd H], h_n and
    c_n [L nd, B, H] (c_n None for the GRU)."""
    x = np.asarray(x, np.float64)
    B, T, _ = x.shape
    H = sd["weight_hh_l0"].shape[1]
    lens = np.full(B, T) if lengths is None else np.asarray(lengths)
    h_n, c_n = np.zeros((L * nd, B, H)), np.zeros((L * nd, B, H))
    inp = x
    for layer in range(L):
        out = np.zeros((B, T, nd * H))
        for d in range(nd):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            wih, whh = (np.asarray(sd[k + sfx], np.float64) for k in ("weight_ih", "weight_hh"))
            bih = np.asarray(sd.get("bias_ih" + sfx, np.zeros(len(wih))), np.float64)
            bhh = np.asarray(sd.get("bias_hh" + sfx, np.zeros(len(wih))), np.float64)
            s = layer * nd + d
            for b in range(B):
                h = np.zeros(H) if h0 is None else np.asarray(h0[s, b], np.float64)
                c = np.zeros(H) if c0 is None else np.asarray(c0[s, b], np.float64)
                steps = range(lens[b]) if d == 0 else range(lens[b] - 1, -1, -1)
                for t in steps:
                    gi, gh = wih @ inp[b, t] + bih, whh @ h + bhh
                    if lstm:
                        i, f = sigmoid(gi[:H] + gh[:H]), sigmoid(gi[H:2 * H] + gh[H:2 * H])
                        g = np.tanh(gi[2 * H:3 * H] + gh[2 * H:3 * H])
                        o = sigmoid(gi[3 * H:] + gh[3 * H:])
                        c = f * c + i * g
                        h = o * np.tanh(c)
                    else:
                        r, z = sigmoid(gi[:H] + gh[:H]), sigmoid(gi[H:2 * H] + gh[H:2 * H])
                        n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
                        h = (1 - z) * n + z * h
                    out[b, t, d * H:(d + 1) * H] = h
                h_n[s, b], c_n[s, b] = h, c
        inp = out
    return out, h_n, (c_n if lstm else None)


def state_dict(rng, lstm, L, nd, Din, H, bias=True):
    G = 4 if lstm else 3
    sd = {}
    for layer in range(L):
        din = Din if layer == 0 else nd * H
        for sfx in ("", "_reverse")[:nd]:
            sfx = f"_l{layer}" + sfx
            sd["weight_ih" + sfx] = randn(rng, G * H, din) / np.sqrt(H)
            sd["weight_hh" + sfx] = randn(rng, G * H, H) / np.sqrt(H)
            if bias:
                sd["bias_ih" + sfx] = randn(rng, G * H) / 4
                sd["bias_hh" + sfx] = randn(rng, G * H) / 4
    return sd


CASES = [  # lstm, layers, bidirectional, B, T, Din, H, bias
    (True, 2, True, 3, 7, 5, 12, True),
    (False, 3, False, 2, 6, 9, 7, True),
    (True, 1, False, 4, 5, 3, 1, False),
    (False, 1, True, 5, 4, 17, 129, True),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("algo", ["persistent", "step"])
def test_rnn_matches_reference(rng, case, algo):
    lstm, L, bidir, B, T, Din, H, bias = case
    nd = 2 if bidir else 1
    sd = state_dict(rng, lstm, L, nd, Din, H, bias)
    cls = clattn.LSTM if lstm else clattn.GRU
    rnn = cls(Din, H, num_layers=L, bias=bias, batch_first=True, bidirectional=bidir)
    rnn.load_state_dict(sd)
    x = randn(rng, B, T, Din)
    h0 = randn(rng, L * nd, B, H) / 2
    c0 = randn(rng, L * nd, B, H) if lstm else None
    lengths = np.array([T, 0] + [int(v) for v in rng.integers(1, T + 1, B - 2)], np.int64)
    hx = (h0, c0) if lstm else h0
    out, st = rnn(x, hx, lengths=lengths, algo=algo)
    ro, rh, rc = ref_rnn(lstm, sd, L, nd, x, h0, c0, lengths)
    assert out.shape == (B, T, nd * H) and out.dtype == np.float32
    np.testing.assert_allclose(out, ro, **TOL)
    h_n, c_n = st if lstm else (st, None)
    np.testing.assert_allclose(h_n, rh, **TOL)
    if lstm:
        np.testing.assert_allclose(c_n, rc, **TOL)
    for b in range(B):  # padding exactly 0
        assert not out[b, lengths[b]:].any()


def test_rnn_time_major_unbatched_and_inferred(rng):
    sd = state_dict(rng, True, 2, 2, 6, 8)
    lstm = clattn.LSTM.from_state_dict(sd)  # sizes, layers, directions from the names
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bidirectional) == \
        (6, 8, 2, True)
    x = randn(rng, 5, 3, 6)  # [T, B, Din]
    out, (h_n, c_n) = lstm(x)
    ro, rh, rc = ref_rnn(True, sd, 2, 2, x.transpose(1, 0, 2))
    np.testing.assert_allclose(out, ro.transpose(1, 0, 2), **TOL)
    np.testing.assert_allclose(h_n, rh, **TOL)
    np.testing.assert_allclose(c_n, rc, **TOL)
    one, (h1, c1) = lstm(x[:, 1])  # unbatched [T, Din]
    assert one.shape == (5, 16) and h1.shape == (4, 8) and c1.shape == (4, 8)
    np.testing.assert_allclose(one, ro[1], **TOL)
    np.testing.assert_allclose(h1, rh[:, 1], **TOL)
    gsd = state_dict(rng, False, 1, 1, 4, 5, bias=False)
    gru = clattn.GRU.from_state_dict(gsd, batch_first=True)
    assert not gru.bias and not gru.bidirectional
    x = randn(rng, 2, 3, 4)
    out, h_n = gru(x)
    ro, rh, _ = ref_rnn(False, gsd, 1, 1, x)
    np.testing.assert_allclose(out, ro, **TOL)
    np.testing.assert_allclose(h_n, rh, **TOL)


def test_rnn_bad_input(rng):
    sd = state_dict(rng, False, 1, 2, 4, 6)
    gru = clattn.GRU(4, 6, bidirectional=True, batch_first=True)
    with pytest.raises(ValueError, match="no weights"):
        gru(randn(rng, 2, 3, 4))
    with pytest.raises(ValueError, match="weight_hh_l0_reverse"):
        bad = dict(sd)
        del bad["weight_hh_l0_reverse"]
        gru.load_state_dict(bad)
    with pytest.raises(ValueError, match="shape"):
        bad = dict(sd)
        bad["weight_ih_l0"] = bad["weight_ih_l0"][:, :3]
        gru.load_state_dict(bad)
    with pytest.raises(ValueError, match="unexpected keys"):
        bad = dict(sd)
        bad["weight_ih_l1"] = sd["weight_ih_l0"]
        gru.load_state_dict(bad)
    gru.load_state_dict(sd)
    with pytest.raises(ValueError, match="x"):
        gru(randn(rng, 2, 3, 5))  # Din 5, not 4
    with pytest.raises(ValueError, match="h0"):
        gru(randn(rng, 2, 3, 4), randn(rng, 1, 2, 6))  # needs 2 directions
    with pytest.raises(ValueError):
        gru(randn(rng, 2, 3, 4), lengths=[1, 4])  # 4 > T
    with pytest.raises(ValueError, match="algo"):
        gru(randn(rng, 2, 3, 4), algo="fast")
    with pytest.raises(ValueError, match="num_layers"):
        clattn.LSTM(4, 6, num_layers=0)
    lstm = clattn.LSTM.from_state_dict(state_dict(rng, True, 1, 1, 4, 6))
    with pytest.raises(ValueError, match=r"\(h0, c0\)"):
        lstm(randn(rng, 2, 3, 4), randn(rng, 1, 2, 6))

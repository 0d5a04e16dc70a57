"""test_torch.py: clattn against PyTorch where torch is importable (skipped otherwise: CI does
not need PyTorch): torch.nn.functional.scaled_dot_product_attention case by case (masks,
causal with L != S, GQA, scale, fully masked rows, dtypes, layouts), tensors in and tensors out,
and BiGRU against nn.GRU(bidirectional=True), GRU and LSTM against nn.GRU and nn.LSTM on
packed sequences."""
import numpy as np
import pytest

import clattn

torch = pytest.importorskip("torch", reason="PyTorch is not installed (CI does not need it)")
F = torch.nn.functional


def t(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


CASES = {
    "plain": lambda: dict(q=t(2, 4, 33, 32), k=t(2, 4, 47, 32), v=t(2, 4, 47, 16)),
    "causal L<S": lambda: dict(q=t(1, 2, 10, 16), k=t(1, 2, 30, 16), v=t(1, 2, 30, 16),
                               is_causal=True),
    "causal L>S": lambda: dict(q=t(1, 2, 30, 16), k=t(1, 2, 10, 16), v=t(1, 2, 10, 16),
                               is_causal=True),
    "bool mask": lambda: dict(q=t(2, 3, 9, 8), k=t(2, 3, 12, 8), v=t(2, 3, 12, 8),
                              attn_mask=torch.rand(2, 1, 9, 12) > 0.3),
    "float mask": lambda: dict(q=t(2, 3, 9, 8), k=t(2, 3, 12, 8), v=t(2, 3, 12, 8),
                               attn_mask=t(9, 12)),
    "key padding": lambda: dict(q=t(2, 3, 9, 8), k=t(2, 3, 12, 8), v=t(2, 3, 12, 8),
                                attn_mask=torch.arange(12)[None, None, None, :] <
                                torch.tensor([5, 12])[:, None, None, None]),
    "gqa": lambda: dict(q=t(1, 8, 20, 16), k=t(1, 2, 20, 16), v=t(1, 2, 20, 16),
                        enable_gqa=True),
    "scale": lambda: dict(q=t(1, 2, 20, 16), k=t(1, 2, 20, 16), v=t(1, 2, 20, 16), scale=0.3),
    "3-D": lambda: dict(q=t(4, 20, 16), k=t(4, 25, 16), v=t(4, 25, 16), is_causal=True),
}


@pytest.mark.parametrize("name", list(CASES))
def test_sdpa_matches_torch(name):
    torch.manual_seed(0)
    a = CASES[name]()
    q, k, v = a.pop("q"), a.pop("k"), a.pop("v")
    want = F.scaled_dot_product_attention(q, k, v, **a)
    got = clattn.scaled_dot_product_attention(q, k, v, **a)
    assert isinstance(got, torch.Tensor) and got.dtype == want.dtype and got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=2e-4, atol=2e-4)


def test_fully_masked_rows_like_torch():
    q, k, v = t(1, 1, 3, 8), t(1, 1, 4, 8), t(1, 1, 4, 8)
    m = torch.ones(3, 4, dtype=torch.bool)
    m[1] = False
    got = clattn.scaled_dot_product_attention(q, k, v, m)
    assert torch.all(got[0, 0, 1] == 0)
    want = F.scaled_dot_product_attention(q, k, v, m)
    if torch.isnan(want[0, 0, 1]).any():
        pytest.skip(f"torch {torch.__version__} gives NaN for fully masked rows (0 from 2.5)")
    torch.testing.assert_close(got, want)


def test_dtypes_and_layouts():
    torch.manual_seed(1)
    base = t(2, 40, 4, 32)  # [B, S, H, D]
    q = base.transpose(1, 2)  # [B, H, S, D] view
    got = clattn.scaled_dot_product_attention(q, q, q, is_causal=True)
    torch.testing.assert_close(got, F.scaled_dot_product_attention(q, q, q, is_causal=True),
                               rtol=2e-4, atol=2e-4)
    for dt, tol in ((torch.float16, 2e-3), (torch.bfloat16, 2e-2), (torch.float64, 2e-4)):
        qd = q.to(dt)
        got = clattn.scaled_dot_product_attention(qd, qd, qd)
        assert got.dtype == dt
        want = F.scaled_dot_product_attention(qd.float(), qd.float(), qd.float())
        torch.testing.assert_close(got.float(), want, rtol=tol, atol=tol)
    g = t(1, 1, 4, 8).requires_grad_()
    assert clattn.scaled_dot_product_attention(g, g, g).shape == (1, 1, 4, 8)


def test_same_refusals_as_torch():
    q = t(1, 2, 4, 8)
    with pytest.raises(ValueError):
        clattn.scaled_dot_product_attention(q, q, q, torch.ones(4, 4, dtype=torch.bool),
                                            is_causal=True)
    with pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(q, q, q, torch.ones(4, 4, dtype=torch.bool),
                                       is_causal=True)
    with pytest.raises(ValueError):
        clattn.scaled_dot_product_attention(t(1, 4, 4, 8), q, q)
    with pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(t(1, 4, 4, 8), q, q)


def test_bigru_matches_nn_gru():
    torch.manual_seed(2)
    gru = torch.nn.GRU(10, 12, batch_first=True, bidirectional=True)
    enc = clattn.BiGRU.from_state_dict(gru.state_dict(), batch_first=True)
    x = t(3, 7, 10)
    lengths = torch.tensor([7, 3, 5])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                     enforce_sorted=False)
    with torch.no_grad():
        out_p, h_want = gru(packed)
    want, _ = torch.nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True, total_length=7)
    got, h_n = enc(x, lengths)
    assert isinstance(got, torch.Tensor)
    torch.testing.assert_close(got, want, rtol=2e-4, atol=2e-5)
    torch.testing.assert_close(h_n, h_want, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("mode", ["GRU", "LSTM"])
def test_rnn_matches_torch(mode):
    torch.manual_seed(3)
    m = getattr(torch.nn, mode)(6, 9, num_layers=2, batch_first=True, bidirectional=True).eval()
    enc = getattr(clattn, mode).from_torch(m)
    x = t(4, 8, 6)
    lengths = torch.tensor([8, 3, 5, 1])
    h0 = t(4, 4, 9)
    hx = (h0, t(4, 4, 9)) if mode == "LSTM" else h0
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                     enforce_sorted=False)
    with torch.no_grad():
        out_p, st_want = m(packed, hx)
    want, _ = torch.nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True, total_length=8)
    got, st = enc(x, hx, lengths=lengths)
    assert isinstance(got, torch.Tensor)
    torch.testing.assert_close(got, want, rtol=2e-4, atol=3e-5)
    for a, b in zip(st if mode == "LSTM" else (st,), st_want if mode == "LSTM" else (st_want,)):
        torch.testing.assert_close(a, b, rtol=2e-4, atol=3e-5)

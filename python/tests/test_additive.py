"""test_additive.py: clattn.additive_attention, AdditiveKeys and BiGRU against float64 numpy
references (lengths, several steps, batch_first or not, h_n), and their bad input."""
import numpy as np
import pytest

import clattn
from conftest import randn, ref_additive, ref_bigru

TOL = dict(rtol=2e-4, atol=2e-5)


def problem(rng, B=3, T=11, Dk=24, Ds=20, A=16):
    return dict(keys=randn(rng, B, T, Dk), w_h=randn(rng, A, Dk) / 5, w_s=randn(rng, A, Ds) / 5,
                v=randn(rng, A), bias=randn(rng, A) / 10)


@pytest.mark.parametrize("lengths", [None, np.array([11, 4, 1], np.int32),
                                     np.array([2, 11, 7], np.int64)])
def test_additive_one_shot(rng, lengths):
    p = problem(rng)
    s = randn(rng, 3, 20)
    ctx_, a = clattn.additive_attention(p["keys"], s, p["w_h"], p["w_s"], p["v"], p["bias"],
                                        lengths, return_weights=True)
    rc, ra = ref_additive(p["keys"], s, p["w_h"], p["w_s"], p["v"], p["bias"], lengths)
    assert ctx_.shape == (3, 24) and a.shape == (3, 11)
    np.testing.assert_allclose(ctx_, rc, **TOL)
    np.testing.assert_allclose(a, ra, **TOL)
    only = clattn.additive_attention(p["keys"], s, p["w_h"], p["w_s"], p["v"], p["bias"], lengths)
    np.testing.assert_allclose(only, rc, **TOL)


def test_additive_keys_steps(rng):
    p = problem(rng)
    lengths = [5, 11, 3]
    keys = clattn.AdditiveKeys(p["keys"], p["w_h"], p["w_s"], p["v"], p["bias"], lengths)
    assert (keys.batch, keys.seq, keys.key_dim, keys.query_dim, keys.attn_dim) == \
        (3, 11, 24, 20, 16)
    for _ in range(3):
        s = randn(rng, 3, 20)
        c, a = keys.step(s, return_weights=True)
        rc, ra = ref_additive(p["keys"], s, p["w_h"], p["w_s"], p["v"], p["bias"], lengths)
        np.testing.assert_allclose(c, rc, **TOL)
        np.testing.assert_allclose(a, ra, **TOL)
    s3 = randn(rng, 3, 4, 20)  # several query rows per batch entry in one call
    c = keys.step(s3)
    np.testing.assert_allclose(c, ref_additive(p["keys"], s3, p["w_h"], p["w_s"], p["v"],
                                               p["bias"], lengths)[0], **TOL)


def test_additive_keys_outlive_closed_context(rng):
    p = problem(rng)
    ctx = clattn.Context()
    keys = clattn.AdditiveKeys(p["keys"], p["w_h"], p["w_s"], p["v"], ctx=ctx)
    ctx.close()  # the handle holds the OpenCL context until it goes
    s = randn(rng, 3, 20)
    np.testing.assert_allclose(keys.step(s), ref_additive(p["keys"], s, p["w_h"], p["w_s"],
                                                          p["v"])[0], **TOL)
    del keys


def test_additive_bad_input(rng):
    p = problem(rng)
    s = randn(rng, 3, 20)
    with pytest.raises(ValueError, match="w_s"):
        clattn.additive_attention(p["keys"], s, p["w_h"], p["w_s"][:5], p["v"])
    with pytest.raises(ValueError, match="query"):
        clattn.additive_attention(p["keys"], randn(rng, 2, 20), p["w_h"], p["w_s"], p["v"])
    with pytest.raises(ValueError, match="lengths"):
        clattn.additive_attention(p["keys"], s, p["w_h"], p["w_s"], p["v"], lengths=[1, 2])
    with pytest.raises(ValueError):  # a length above T: the library's check
        clattn.additive_attention(p["keys"], s, p["w_h"], p["w_s"], p["v"], lengths=[1, 2, 99])
    with pytest.raises(clattn.DTypeError):
        clattn.additive_attention(p["keys"], s, p["w_h"], p["w_s"], p["v"],
                                  lengths=[1.0, 2.0, 3.0])


def gru_state(rng, Din, H, bias=True):
    sd = {}
    for suffix in ("", "_reverse"):
        sd["weight_ih_l0" + suffix] = randn(rng, 3 * H, Din) / 4
        sd["weight_hh_l0" + suffix] = randn(rng, 3 * H, H) / 4
        if bias:
            sd["bias_ih_l0" + suffix] = randn(rng, 3 * H) / 4
            sd["bias_hh_l0" + suffix] = randn(rng, 3 * H) / 4
    return sd


def _dirs(sd, H):
    z = np.zeros(3 * H, np.float32)
    return [tuple(sd.get(n + s, z) for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                              "bias_hh_l0")) for s in ("", "_reverse")]


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("lengths", [None, [6, 2, 5]])
def test_bigru(rng, batch_first, lengths):
    sd = gru_state(rng, 10, 12)
    gru = clattn.BiGRU.from_state_dict(sd, batch_first=batch_first)
    x = randn(rng, 3, 6, 10)
    out, h_n = gru(x if batch_first else x.transpose(1, 0, 2), lengths)
    ref = ref_bigru(x, *_dirs(sd, 12), lengths)
    got = out if batch_first else out.transpose(1, 0, 2)
    np.testing.assert_allclose(got, ref, **TOL)
    lens = np.array([6, 6, 6] if lengths is None else lengths)
    np.testing.assert_allclose(h_n[0], ref[np.arange(3), lens - 1, :12], **TOL)
    np.testing.assert_allclose(h_n[1], ref[:, 0, 12:], **TOL)


def test_bigru_without_bias_and_bad_state(rng):
    sd = gru_state(rng, 4, 5, bias=False)
    gru = clattn.BiGRU(4, 5, bias=False, batch_first=True)
    gru.load_state_dict(sd)
    x = randn(rng, 2, 3, 4)
    np.testing.assert_allclose(gru(x)[0], ref_bigru(x, *_dirs(sd, 5)), **TOL)
    bad = dict(sd)
    del bad["weight_hh_l0_reverse"]
    with pytest.raises(ValueError, match="bidirectional"):
        clattn.BiGRU(4, 5, bias=False).load_state_dict(bad)
    with pytest.raises(ValueError, match="shape"):
        clattn.BiGRU(4, 6, bias=False).load_state_dict(sd)
    two = dict(gru_state(rng, 4, 5), weight_ih_l1=np.zeros((15, 10), np.float32))
    with pytest.raises(ValueError, match="one layer"):
        clattn.BiGRU.from_state_dict(two)

"""test_sdpa.py: clattn.scaled_dot_product_attention against the float64 numpy reference on
random inputs: MHA, GQA, MQA, bool and float masks (broadcast as PyTorch broadcasts them),
causal, scale, lse, odd shapes, float16 and float64 inputs, every algorithm, the options
(window, softcap, ALiBi), layouts read in place or copied, and plan()."""
import numpy as np
import pytest

import clattn
from conftest import randn, ref_sdpa

sdpa = clattn.scaled_dot_product_attention
TOL = dict(rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("B,Hq,Hkv,L,S,E,Ev", [
    (2, 4, 4, 64, 64, 64, 64),      # MHA
    (2, 8, 2, 50, 70, 32, 32),      # GQA
    (1, 6, 1, 33, 17, 16, 24),      # MQA, Ev != E
    (1, 1, 1, 1, 1, 1, 1),          # the smallest
    (3, 3, 3, 7, 129, 3, 5),        # odd sizes
    (1, 2, 2, 130, 31, 128, 128),   # L > S
    (1, 2, 1, 40, 40, 256, 256),    # the largest head dim
])
@pytest.mark.parametrize("causal", [False, True])
def test_against_reference(rng, B, Hq, Hkv, L, S, E, Ev, causal):
    q, k, v = randn(rng, B, Hq, L, E), randn(rng, B, Hkv, S, E), randn(rng, B, Hkv, S, Ev)
    out, lse = sdpa(q, k, v, is_causal=causal, enable_gqa=Hq != Hkv, return_lse=True)
    ro, rl = ref_sdpa(q, k, v, causal=causal)
    assert out.shape == (B, Hq, L, Ev) and out.dtype == np.float32
    assert lse.shape == (B, Hq, L) and lse.dtype == np.float32
    np.testing.assert_allclose(out, ro, **TOL)
    np.testing.assert_allclose(lse, rl, **TOL)


@pytest.mark.parametrize("algo", ["naive", "flash1", "flash2", "auto"])
def test_algorithms(rng, algo):
    q, k, v = randn(rng, 2, 4, 45, 32), randn(rng, 2, 2, 77, 32), randn(rng, 2, 2, 77, 32)
    m = rng.random((2, 1, 45, 77)) > 0.3
    out, lse = sdpa(q, k, v, m, enable_gqa=True, algo=algo, return_lse=True)
    ro, rl = ref_sdpa(q, k, v, m)
    np.testing.assert_allclose(out, ro, **TOL)
    np.testing.assert_allclose(lse, rl, **TOL)


@pytest.mark.parametrize("mask_shape", [(45, 77), (1, 45, 77), (2, 1, 1, 77), (2, 4, 45, 77),
                                        (1, 4, 45, 77), (2, 1, 45, 1), (4, 1, 77)])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_masks_broadcast(rng, mask_shape, kind):
    q, k, v = randn(rng, 2, 4, 45, 16), randn(rng, 2, 4, 77, 16), randn(rng, 2, 4, 77, 16)
    if kind == "bool":
        m = rng.random(mask_shape) > 0.2
    else:
        m = randn(rng, *mask_shape)
    out = sdpa(q, k, v, attn_mask=m)
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, m)[0], **TOL)


def test_fully_masked_row_is_zero(rng):
    q, k, v = randn(rng, 1, 2, 5, 8), randn(rng, 1, 2, 6, 8), randn(rng, 1, 2, 6, 8)
    m = np.ones((5, 6), bool)
    m[2] = False
    out, lse = sdpa(q, k, v, m, return_lse=True)
    assert np.all(out[:, :, 2] == 0) and np.all(lse[:, :, 2] == -np.inf)
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, m)[0], **TOL)


@pytest.mark.parametrize("scale", [1.0, 0.05, 0.0, -0.3])
def test_scale(rng, scale):
    q, k, v = randn(rng, 1, 2, 20, 16), randn(rng, 1, 2, 30, 16), randn(rng, 1, 2, 30, 16)
    out = sdpa(q, k, v, scale=scale, is_causal=True)
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, causal=True, scale=scale)[0], **TOL)


@pytest.mark.parametrize("algo", ["auto", "naive", "flash1", "flash2"])
def test_float16_storage(rng, algo):
    # float16 q, k, v (and mask) are stored as float16: widened on load, float32 arithmetic,
    # out rounded to float16; lse stays float32.
    q, k, v = (randn(rng, 2, 4, 40, 32, dtype=np.float16) for _ in range(3))
    out, lse = sdpa(q, k, v, is_causal=True, algo=algo, return_lse=True)
    assert out.dtype == np.float16 and lse.dtype == np.float32
    ro, rl = ref_sdpa(q, k, v, causal=True)
    np.testing.assert_allclose(out.astype(np.float64), ro, rtol=1e-2, atol=2e-3)
    np.testing.assert_allclose(lse, rl, rtol=1e-4, atol=1e-4)
    m = randn(rng, 1, 4, 40, 40, dtype=np.float16)
    out = sdpa(q, k, v, m, algo=algo)
    np.testing.assert_allclose(out.astype(np.float64), ref_sdpa(q, k, v, m)[0], rtol=1e-2,
                               atol=2e-3)
    # A [B, S, H, D] float16 array viewed as [B, H, S, D]: read in place (2-byte strides).
    base = randn(rng, 2, 40, 4, 32, dtype=np.float16).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(sdpa(base, base, base, algo=algo).astype(np.float64),
                               ref_sdpa(base, base, base)[0], rtol=1e-2, atol=2e-3)


def ref_ragged(q, k, v, lens, causal, align):
    outs = []
    for b, n in enumerate(lens):
        if n == 0:
            outs.append(np.zeros(q.shape[1:3] + v.shape[-1:]))
            continue
        kb, vb = k[b:b + 1, :, :n], v[b:b + 1, :, :n]
        outs.append(ref_sdpa(q[b:b + 1], kb, vb, causal=causal, align=align)[0][0])
    return np.stack(outs)


@pytest.mark.parametrize("L,algo", [(1, "auto"), (1, "decode"), (3, "decode"), (20, "flash2"),
                                    (20, "naive")])
@pytest.mark.parametrize("causal,align", [(False, "top-left"), (True, "top-left"),
                                          (True, "bottom-right")])
def test_kv_lens_and_decode(rng, L, algo, causal, align):
    q, k, v = randn(rng, 3, 8, L, 32), randn(rng, 3, 2, 90, 32), randn(rng, 3, 2, 90, 32)
    lens = np.array([90, 37, 0 if L == 1 else 25])
    out = sdpa(q, k, v, is_causal=causal, enable_gqa=True, kv_lens=lens, algo=algo,
               causal_align=align)
    np.testing.assert_allclose(out, ref_ragged(q, k, v, lens, causal, align), **TOL)


def test_decode_plan_and_splits(rng):
    q, k = (1, 8, 1, 64), (1, 2, 4096, 64)
    p = clattn.plan(q, k, k, enable_gqa=True)
    assert p["algo"] == "decode" and p["splits"] >= 1
    assert clattn.plan(q, k, k, enable_gqa=True, decode_splits=7)["splits"] == 7
    qa, ka, va = randn(rng, *q), randn(rng, *k), randn(rng, *k)
    out = sdpa(qa, ka, va, enable_gqa=True, decode_splits=5)
    np.testing.assert_allclose(out, ref_sdpa(qa, ka, va)[0], **TOL)


def test_float64_inputs_give_float64(rng):
    q, k, v = (randn(rng, 1, 2, 10, 8, dtype=np.float64) for _ in range(3))
    out, lse = sdpa(q, k, v, return_lse=True)
    assert out.dtype == np.float64 and lse.dtype == np.float32
    np.testing.assert_allclose(out, ref_sdpa(q, k, v)[0], **TOL)


@pytest.mark.parametrize("shape", [(30, 16), (3, 30, 16), (2, 3, 4, 30, 16)])
def test_ranks(rng, shape):
    q, k, v = randn(rng, *shape), randn(rng, *shape), randn(rng, *shape)
    out, lse = sdpa(q, k, v, is_causal=True, return_lse=True)
    assert out.shape == shape and lse.shape == shape[:-1]
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, causal=True)[0], **TOL)


def test_layouts_in_place_and_copied(rng):
    # [B, S, H, D] transposed to [B, H, S, D]: read in place through strides.
    base = randn(rng, 2, 40, 4, 32)
    q = k = v = base.transpose(0, 2, 1, 3)
    out = sdpa(q, k, v)
    np.testing.assert_allclose(out, ref_sdpa(q, k, v)[0], **TOL)
    # Last dimension strided, negative strides, stride 0 (broadcast): copied first.
    wide = randn(rng, 1, 2, 30, 64)
    for qq in (wide[..., ::2], wide[:, :, ::-1, :32], np.broadcast_to(wide[:, :1, :, :32],
                                                                   (1, 2, 30, 32))):
        kk = np.broadcast_to(randn(rng, 1, 1, 25, 32), (1, 2, 25, 32))
        vv = randn(rng, 1, 2, 25, 32)[:, :, ::-1]
        np.testing.assert_allclose(sdpa(qq, kk, vv), ref_sdpa(qq, kk, vv)[0], **TOL)


def test_buffer_protocol_objects(rng):
    q = randn(rng, 1, 1, 4, 8)
    mv = memoryview(q)
    out = sdpa(mv, mv, mv)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, ref_sdpa(q, q, q)[0], **TOL)


def test_options(rng):
    q, k, v = randn(rng, 2, 4, 50, 16), randn(rng, 2, 4, 60, 16), randn(rng, 2, 4, 60, 16)
    out = sdpa(q, k, v, is_causal=True, window=(7, 0))
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, causal=True, window=(7, 0))[0], **TOL)
    out = sdpa(q, k, v, window=(None, 3), causal_align="bottom-right")
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, window=(None, 3), align="bottom-right")[0],
                               **TOL)
    out = sdpa(q, k, v, softcap=2.0)
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, softcap=2.0)[0], **TOL)
    slopes = rng.random((2, 4)).astype(np.float32)
    out = sdpa(q, k, v, alibi_slopes=slopes, is_causal=True)
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, causal=True, alibi=slopes)[0], **TOL)
    std = np.exp2(-8.0 * np.arange(1, 5) / 4)
    out = sdpa(q, k, v, alibi_slopes="standard")
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, alibi=std)[0], **TOL)


def test_bottom_right_causal(rng):
    q, k, v = randn(rng, 1, 2, 10, 16), randn(rng, 1, 2, 30, 16), randn(rng, 1, 2, 30, 16)
    out = sdpa(q, k, v, is_causal=True, causal_align="bottom-right")
    np.testing.assert_allclose(out, ref_sdpa(q, k, v, causal=True, align="bottom-right")[0],
                               **TOL)


def test_empty_inputs():
    q = np.zeros((1, 2, 0, 8), np.float32)
    k = v = np.zeros((1, 2, 5, 8), np.float32)
    assert sdpa(q, k, v).shape == (1, 2, 0, 8)
    q = np.ones((1, 2, 3, 8), np.float32)
    k = v = np.zeros((1, 2, 0, 8), np.float32)
    out, lse = sdpa(q, k, v, return_lse=True)
    assert np.all(out == 0) and np.all(lse == -np.inf)


def test_plan():
    p = clattn.plan((1, 8, 2048, 64), (1, 8, 2048, 64), (1, 8, 2048, 64), is_causal=True)
    assert set(p) == {"algo", "flavour", "block_q", "block_kv", "work_group", "local_mem_bytes",
                      "scratch_bytes", "global_size", "splits"}
    assert p["algo"] in ("flash1", "flash2", "naive", "decode")
    assert clattn.plan((1, 8, 64, 64), (1, 2, 64, 64), (1, 2, 64, 64), enable_gqa=True,
                       algo="naive")["algo"] == "naive"
    assert clattn.plan(np.zeros((1, 2, 8, 16), np.float32), (1, 2, 8, 16), (1, 2, 8, 16),
                       attn_mask=(8, 8))["algo"] != "auto"

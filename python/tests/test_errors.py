"""test_errors.py: bad input to clattn's Python API and how errors map to exceptions:
ValueError for shapes and arguments, DTypeError (TypeError and ValueError) for element types,
MemoryError for out of memory, clattn.Error (RuntimeError, with .status) otherwise; nothing is
computed for refused input."""
import numpy as np
import pytest

import clattn
from conftest import randn

sdpa = clattn.scaled_dot_product_attention


@pytest.fixture
def qkv(rng):
    return randn(rng, 1, 4, 8, 16), randn(rng, 1, 4, 8, 16), randn(rng, 1, 4, 8, 16)


def test_ranks(qkv):
    q, k, v = qkv
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        sdpa(q[0, 0, 0], k[0, 0, 0], v[0, 0, 0])
    with pytest.raises(ValueError, match="same number of dimensions"):
        sdpa(q, k[0], v)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.complex64, np.bool_, np.uint8])
def test_dtypes_refused(qkv, dtype):
    q, k, v = qkv
    with pytest.raises(clattn.DTypeError):
        sdpa(q.astype(dtype), k, v)
    assert issubclass(clattn.DTypeError, TypeError) and issubclass(clattn.DTypeError, ValueError)


def test_mixed_dtypes_refused(qkv):
    q, k, v = qkv
    with pytest.raises(clattn.DTypeError, match="same dtype"):
        sdpa(q, k.astype(np.float16), v)


def test_mask_dtype_and_shape(qkv):
    q, k, v = qkv
    with pytest.raises(clattn.DTypeError):
        sdpa(q, k, v, np.ones((8, 8), np.int32))
    with pytest.raises(ValueError, match="broadcast"):
        sdpa(q, k, v, np.ones((8, 7), bool))
    with pytest.raises(ValueError, match="broadcast"):
        sdpa(q, k, v, np.ones((3, 8, 8), bool))


@pytest.mark.parametrize("change", ["E", "S", "Hkv", "batch"])
def test_shape_mismatches(rng, change):
    q, k, v = randn(rng, 2, 4, 8, 16), randn(rng, 2, 4, 9, 16), randn(rng, 2, 4, 9, 16)
    if change == "E":
        k = randn(rng, 2, 4, 9, 8)
    elif change == "S":
        v = randn(rng, 2, 4, 10, 16)
    elif change == "Hkv":
        v = randn(rng, 2, 2, 9, 16)
    else:
        k = randn(rng, 3, 4, 9, 16)
    with pytest.raises(ValueError):
        sdpa(q, k, v)


def test_gqa_rules(rng):
    q, k = randn(rng, 1, 6, 8, 16), randn(rng, 1, 4, 8, 16)
    with pytest.raises(ValueError, match="enable_gqa"):
        sdpa(q, randn(rng, 1, 2, 8, 16), randn(rng, 1, 2, 8, 16))
    with pytest.raises(ValueError, match="multiple"):
        sdpa(q, k, k, enable_gqa=True)


def test_arguments(qkv):
    q, k, v = qkv
    with pytest.raises(ValueError, match="is_causal"):
        sdpa(q, k, v, np.ones((8, 8), bool), is_causal=True)
    with pytest.raises(TypeError, match="dropout_p"):
        sdpa(q, k, v, None, 0.0)  # PyTorch's positional dropout_p
    with pytest.raises(ValueError, match="dropout"):
        sdpa(q, k, v, dropout_p=0.1)
    with pytest.raises(ValueError, match="algo"):
        sdpa(q, k, v, algo="fast")
    with pytest.raises(ValueError, match="window"):
        sdpa(q, k, v, window=5)
    with pytest.raises(ValueError):
        sdpa(q, k, v, window=(-2, 0))  # the library's check: CLATTN_ERROR_INVALID_ARGUMENT
    with pytest.raises(ValueError):
        sdpa(q, k, v, scale=float("nan"))
    with pytest.raises(ValueError, match="alibi_slopes"):
        sdpa(q, k, v, alibi_slopes=np.ones(3, np.float32))
    with pytest.raises(TypeError):
        sdpa(q, k, v, ctx="0:0")
    with pytest.raises(TypeError):
        sdpa("abc", k, v)


def test_library_status_in_exception(rng):
    q = randn(rng, 1, 1, 4, 300)  # head dim above 256: CLATTN_ERROR_UNSUPPORTED
    with pytest.raises(clattn.Error) as ei:
        sdpa(q, q, q)
    assert ei.value.status == 6 and "UNSUPPORTED" in str(ei.value)
    assert isinstance(ei.value, RuntimeError)
    with pytest.raises(ValueError) as ei:
        sdpa(randn(rng, 1, 1, 4, 8), randn(rng, 1, 1, 4, 8), randn(rng, 1, 1, 4, 8),
             window=(-5, 0))
    assert ei.value.status == 1


def test_out_of_memory_is_memory_error():
    n = 1 << 20  # naive's S would need 4 TiB
    with pytest.raises(MemoryError):
        clattn.plan((1, 1, n, 64), (1, 1, n, 64), (1, 1, n, 64), algo="naive")


def test_device_not_found():
    with pytest.raises(clattn.Error) as ei:
        clattn.Context("no-such-device-anywhere")
    assert ei.value.status == 7


def test_closed_context(qkv):
    ctx = clattn.Context()
    ctx.close()
    assert ctx.closed
    with pytest.raises(ValueError, match="closed"):
        sdpa(*qkv, ctx=ctx)


def test_extension_checks_shapes_itself(rng):
    # The extension checks every buffer against the descriptor (the host API takes pointers).
    from clattn import _clattn
    ctx = clattn.default_context()
    q = randn(rng, 1, 2, 8, 16)
    out = np.empty((1, 2, 8, 15), np.float32)
    with pytest.raises(ValueError, match="out"):
        _clattn.sdpa(ctx, q, q, q, None, out, None)
    with pytest.raises(ValueError, match="lse"):
        _clattn.sdpa(ctx, q, q, q, None, np.empty_like(q), np.empty((1, 2, 7), np.float32))
    with pytest.raises(ValueError, match="mask"):
        _clattn.sdpa(ctx, q, q, q, np.zeros((1, 3, 8, 8), np.float32), np.empty_like(q), None)
    with pytest.raises(ValueError, match="strides"):
        _clattn.sdpa(ctx, q[..., ::2], q[..., ::2], q[..., ::2], None,
                     np.empty((1, 2, 8, 8), np.float32), None)
    with pytest.raises(ValueError, match="writable"):
        ro = np.empty_like(q)
        ro.flags.writeable = False
        _clattn.sdpa(ctx, q, q, q, None, ro, None)
    with pytest.raises(TypeError, match="float32"):
        _clattn.sdpa(ctx, q.astype(np.float64), q, q, None, np.empty_like(q), None)

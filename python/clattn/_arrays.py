"""clattn._arrays: what the Python layer does to its inputs before the extension sees them:
numpy arrays, buffer-protocol objects and PyTorch tensors (through DLPack, no copy for CPU
tensors) to numpy views, element types to float32, layouts the library cannot take to
contiguous copies, and results back to the caller's type (numpy in, numpy out; torch in, torch
out)."""
import numpy as np


class DTypeError(TypeError, ValueError):
    """An array's element type is not one clattn takes (a TypeError and a ValueError)."""


def _torch_module(x):
    mod = type(x).__module__
    if mod == "torch" or mod.startswith("torch."):
        import torch
        if isinstance(x, torch.Tensor):
            return torch
    return None


class Source:
    """Where an input came from, so the result can be given back as the same kind of object."""

    def __init__(self, x):
        self.torch = _torch_module(x)
        if self.torch is not None:
            self.dtype = x.dtype
            self.device = x.device
        else:
            self.dtype = getattr(x, "dtype", None)

    def wrap(self, a, float32=False):
        """a (a float32 numpy array) as the source's type and (unless float32) dtype."""
        if self.torch is not None:
            t = self.torch.from_numpy(a)
            if not float32 and self.dtype != t.dtype and self.dtype.is_floating_point:
                t = t.to(self.dtype)
            return t if self.device.type == "cpu" else t.to(self.device)
        if (not float32 and isinstance(self.dtype, np.dtype) and self.dtype.kind == "f" and
                self.dtype != a.dtype):
            return a.astype(self.dtype)
        return a


def to_numpy(x, name):
    """x as a numpy array, without a copy where the input allows (CPU torch tensors through
    DLPack, buffer-protocol objects through memoryview)."""
    if isinstance(x, np.ndarray):
        return x
    torch = _torch_module(x)
    if torch is not None:
        t = x.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16
            t = t.float()
        if t.is_conj() or t.is_neg():
            t = t.resolve_conj().resolve_neg()
        try:
            return np.from_dlpack(t)
        except (TypeError, RuntimeError, BufferError, AttributeError):
            return t.numpy()
    try:
        memoryview(x)
    except TypeError:
        raise TypeError(f"{name}: expected a numpy array, a buffer-protocol object or a torch "
                        f"tensor, got {type(x).__name__}") from None
    return np.asarray(x)


def as_float32(a, name):
    """a with float32 elements (float16 and float64 are converted; others refused)."""
    if a.dtype == np.float32:
        return a
    if a.dtype.kind == "f":
        return a.astype(np.float32)
    raise DTypeError(f"{name}: needs floating-point elements (float16, float32 or float64), "
                     f"got {a.dtype}")


def rows_ok(a):
    """True when the library can read the 4-D float32 array a in place: last dimension
    contiguous, the others at positive strides that are multiples of 4 bytes, rows apart."""
    it = a.itemsize
    if a.shape[3] > 1 and a.strides[3] != it:
        return False
    for n, s in zip(a.shape[:3], a.strides[:3]):
        if n > 1 and (s <= 0 or s % it):
            return False
    return a.shape[2] <= 1 or a.strides[2] >= a.shape[3] * it


def rows(a):
    """a, or a contiguous copy when the library cannot read it in place."""
    return a if rows_ok(a) else np.ascontiguousarray(a)


def contiguous_f32(x, name, ndim=None):
    a = as_float32(to_numpy(x, name), name)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name}: needs {ndim} dimensions, got shape {a.shape}")
    return np.ascontiguousarray(a)


def lengths_array(x, batch, name="lengths"):
    """Source lengths as a contiguous int32/int64 array [batch], or None."""
    if x is None:
        return None
    a = to_numpy(x, name) if not isinstance(x, (list, tuple)) else np.asarray(x)
    if a.dtype.kind not in "iu":
        raise DTypeError(f"{name}: needs integers, got {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.int64 if a.dtype.itemsize > 4 else np.int32)
    if a.shape != (batch,):
        raise ValueError(f"{name}: needs shape ({batch},), got {a.shape}")
    return a

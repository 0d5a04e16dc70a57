"""clattn: attention on any OpenCL device, for numpy and PyTorch users.

    import clattn
    clattn.devices()                                   # every OpenCL device
    out = clattn.scaled_dot_product_attention(q, k, v, is_causal=True)
    out, lse = clattn.scaled_dot_product_attention(q, k, v, return_lse=True)
    lstm = clattn.LSTM.from_torch(torch_lstm); out, (h_n, c_n) = lstm(x)

Arrays are numpy arrays, objects with the buffer protocol, or PyTorch tensors (when torch is
importable); the result's type follows the query's. Errors: ValueError for shapes and arguments
(TypeError-and-ValueError `DTypeError` for element types), MemoryError when the device or host is
out of memory, `clattn.Error` (a RuntimeError with `.status` and `.message`) otherwise.
"""
from ._clattn import Error
from ._clattn import version as _c_version
from ._context import Context, DeviceCaps, default_context, devices
from ._arrays import DTypeError
from ._sdpa import plan, scaled_dot_product_attention
from ._additive import AdditiveKeys, BiGRU, additive_attention
from ._rnn import GRU, LSTM

__version__ = _c_version()
__all__ = ["Error", "DTypeError", "Context", "DeviceCaps", "default_context", "devices",
           "scaled_dot_product_attention", "plan", "additive_attention", "AdditiveKeys", "BiGRU",
           "GRU", "LSTM"]

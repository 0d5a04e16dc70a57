"""clattn._context: devices, the Context (an OpenCL device with its queue and program cache) and
the per-process default context, created on first use under a lock."""
import dataclasses
import threading

from . import _clattn


@dataclasses.dataclass(frozen=True)
class DeviceCaps:
    """What the dispatcher knows of a device (clattn_device_caps)."""
    platform_index: int
    device_index: int
    platform_name: str
    device_name: str
    vendor: str
    driver_version: str
    platform_version: str
    type: str  # "GPU", "CPU", "ACCELERATOR" or "OTHER"
    compute_units: int
    max_work_group_size: int
    max_work_item_sizes: tuple
    local_mem_bytes: int
    real_local_mem_bytes: int
    local_mem_type: str  # "local" (on-chip) or "global" (emulated)
    global_mem_bytes: int
    max_alloc_bytes: int
    preferred_vector_width_float: int
    has_fp16: bool
    has_fp64: bool
    has_subgroups: bool

    @property
    def selector(self):
        """The "p:d" selector that picks this device in Context(device=...)."""
        return f"{self.platform_index}:{self.device_index}"

    def as_dict(self):
        return dataclasses.asdict(self)


def devices():
    """Every OpenCL device of every platform, as a list of DeviceCaps."""
    return [DeviceCaps(**d) for d in _clattn.devices()]


class Context(_clattn.Context):
    """Context(device=None): an OpenCL device, its command queue and clattn's program cache.

    device: None uses $CLATTN_DEVICE if set, else the first GPU, else the first device; a
    "p:d" string (platform and device index, DeviceCaps.selector) or a case-insensitive
    substring of the device name picks one. A Context may be used from several threads at once.
    `with Context(...) as ctx:` closes it at the end of the block; close() waits for nothing:
    calls already running on it finish first, then the OpenCL context is released.
    """

    @property
    def caps(self):
        """The device's capabilities (DeviceCaps)."""
        return DeviceCaps(**self._caps())

    @property
    def device(self):
        """The device's name."""
        return self._caps()["device_name"]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        if self.closed:
            return "<clattn.Context closed>"
        c = self._caps()
        return f"<clattn.Context {c['platform_index']}:{c['device_index']} {c['device_name']!r}>"


_default = None
_default_lock = threading.Lock()


def default_context():
    """The process's default Context (created on first use, thread-safe; device as
    Context(None) picks it). Closing it makes the next call create a new one."""
    global _default
    ctx = _default
    if ctx is not None and not ctx.closed:
        return ctx
    with _default_lock:
        if _default is None or _default.closed:
            _default = Context()
        return _default


def resolve(ctx):
    """ctx, or the default context when ctx is None."""
    if ctx is None:
        return default_context()
    if not isinstance(ctx, _clattn.Context):
        raise TypeError(f"ctx: expected a clattn.Context, got {type(ctx).__name__}")
    return ctx

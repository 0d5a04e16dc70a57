"""test_context.py: devices(), Context (selectors, caps, with, close while in use), the default
context, and threads calling clattn at once on one context."""
import threading

import numpy as np
import pytest

import clattn
from conftest import randn, ref_sdpa


def test_devices():
    devs = clattn.devices()
    assert devs and all(isinstance(d, clattn.DeviceCaps) for d in devs)
    d = devs[0]
    assert d.device_name and d.type in ("GPU", "CPU", "ACCELERATOR", "OTHER")
    assert d.local_mem_type in ("local", "global") and d.as_dict()["device_name"] == d.device_name


def test_context_selector_caps_and_with():
    d = clattn.devices()[0]
    with clattn.Context(d.selector) as ctx:
        assert ctx.caps.device_name == d.device_name == ctx.device
        assert not ctx.closed and "Context" in repr(ctx)
        stats = ctx.cache_stats()
        assert set(stats) >= {"builds_from_source", "loads_from_binary"}
    assert ctx.closed


def test_default_context_is_shared_across_threads():
    seen = []
    ts = [threading.Thread(target=lambda: seen.append(clattn.default_context()))
          for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len({id(c) for c in seen}) == 1


def test_threads_at_once(rng):
    ctx = clattn.Context()
    cases = [(randn(rng, 1, 4, 70, 32), randn(rng, 1, 2, 90, 32), randn(rng, 1, 2, 90, 32))
             for _ in range(6)]
    results, errors = {}, []

    def work(i):
        try:
            q, k, v = cases[i]
            for _ in range(3):
                results[i] = clattn.scaled_dot_product_attention(
                    q, k, v, is_causal=bool(i % 2), enable_gqa=True, ctx=ctx)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    for i, (q, k, v) in enumerate(cases):
        np.testing.assert_allclose(results[i], ref_sdpa(q, k, v, causal=bool(i % 2))[0],
                                   rtol=2e-4, atol=2e-4)
    ctx.close()


def test_close_while_a_call_runs(rng):
    ctx = clattn.Context()
    q = randn(rng, 1, 8, 512, 64)
    box = {}
    t = threading.Thread(target=lambda: box.update(
        out=clattn.scaled_dot_product_attention(q, q, q, ctx=ctx)))
    t.start()
    ctx.close()  # the running call keeps the OpenCL context until it returns
    t.join()
    assert ctx.closed
    if "out" in box:  # the call may also have started after close(), and been refused
        np.testing.assert_allclose(box["out"], ref_sdpa(q, q, q)[0], rtol=2e-4, atol=2e-4)


def test_gil_released_during_device_work(rng):
    # Another Python thread keeps running while a long call is on the device.
    q = randn(rng, 1, 8, 1024, 64)
    clattn.scaled_dot_product_attention(q[:, :, :64], q[:, :, :64], q[:, :, :64])  # build
    done = threading.Event()
    ticks = []
    t = threading.Thread(target=lambda: (clattn.scaled_dot_product_attention(q, q, q),
                                         done.set()))
    t.start()
    while not done.is_set():
        ticks.append(1)
        done.wait(0.001)
    t.join()
    assert len(ticks) > 3

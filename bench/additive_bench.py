#!/usr/bin/python3
"""additive_bench.py: times clattn's additive-attention decoder step and bidirectional GRU encoder
against numpy doing the same computation in the same run, and prints a Markdown table.

The library is driven through ctypes (libclattn.so and libOpenCL), on device buffers: each timed
step is clattn_additive_step on resident buffers followed by clFinish, as a decoder loop would run
it. numpy gets the same advantage: the key projection W_h h_j + b is precomputed once for both,
and the numpy step starts from arrays already in memory. Medians over --reps runs after --warmup
runs. Timings on a shared machine are noisy: compare ratios.

usage: /usr/bin/python3 bench/additive_bench.py [--lib build/libclattn.so] [--reps 20]
"""
import argparse
import ctypes as C
import os
import statistics
import sys
import time

import numpy as np

LENGTHS_INT32, FLAVOUR_AUTO, FLAVOUR_GPU, FLAVOUR_CPU = 0, 0, 1, 2


class AdditiveDesc(C.Structure):  # mirrors clattn_additive_desc (0.2: struct_size first)
    _fields_ = [("struct_size", C.c_size_t), ("batch", C.c_int64), ("seq", C.c_int64), ("key_dim", C.c_int64),
                ("query_dim", C.c_int64), ("attn_dim", C.c_int64), ("steps", C.c_int64),
                ("lengths_type", C.c_int), ("flavour", C.c_int), ("block_t", C.c_int64),
                ("work_group", C.c_int64)]


class AdditivePlan(C.Structure):  # mirrors clattn_additive_plan
    _fields_ = [("flavour", C.c_int), ("block_t", C.c_int64), ("lanes", C.c_int64),
                ("work_group", C.c_int64), ("stage_query", C.c_int),
                ("local_mem_bytes", C.c_int64)]


class GruDesc(C.Structure):  # mirrors clattn_gru_desc (0.2: struct_size first)
    _fields_ = [("struct_size", C.c_size_t), ("batch", C.c_int64), ("seq", C.c_int64), ("input_dim", C.c_int64),
                ("hidden", C.c_int64), ("lengths_type", C.c_int)]


class GruBuffers(C.Structure):  # mirrors clattn_gru_buffers
    _fields_ = [("w_ih", C.c_void_p), ("w_hh", C.c_void_p), ("b_ih", C.c_void_p),
                ("b_hh", C.c_void_p)]


class Lib:
    def __init__(self, path):
        self.c = C.CDLL(path)
        self.cl = C.CDLL("libOpenCL.so.1")
        c, cl = self.c, self.cl
        c.clattn_context_create.argtypes = [C.c_char_p, C.POINTER(C.c_void_p)]
        c.clattn_context_last_error.restype = C.c_char_p
        c.clattn_context_last_error.argtypes = [C.c_void_p]
        c.clattn_context_cl_context.restype = C.c_void_p
        c.clattn_context_cl_context.argtypes = [C.c_void_p]
        c.clattn_context_queue.restype = C.c_void_p
        c.clattn_context_queue.argtypes = [C.c_void_p]
        # Descriptors and plans carry or take the caller's sizeof (the rule in clattn_core.h).
        c.clattn_additive_desc_init.argtypes = [C.POINTER(AdditiveDesc), C.c_size_t]
        c.clattn_gru_desc_init.argtypes = [C.POINTER(GruDesc), C.c_size_t]
        c.clattn_additive_plan_get.argtypes = [C.c_void_p, C.POINTER(AdditiveDesc),
                                               C.POINTER(AdditivePlan), C.c_size_t]
        c.clattn_additive_keys_create.argtypes = [C.c_void_p, C.POINTER(AdditiveDesc)] + \
            [C.c_void_p] * 5 + [C.c_void_p, C.c_uint, C.c_void_p, C.c_void_p,
                                C.POINTER(C.c_void_p)]
        c.clattn_additive_keys_destroy.argtypes = [C.c_void_p]
        c.clattn_additive_step.argtypes = [C.c_void_p, C.c_void_p, C.c_int64] + \
            [C.c_void_p] * 3 + [C.c_uint, C.c_void_p, C.c_void_p]
        c.clattn_birnn_gru.argtypes = [C.c_void_p, C.POINTER(GruDesc), C.c_void_p,
                                       C.POINTER(GruBuffers), C.POINTER(GruBuffers), C.c_void_p,
                                       C.c_void_p, C.c_uint, C.c_void_p, C.c_void_p]
        cl.clCreateBuffer.restype = C.c_void_p
        cl.clCreateBuffer.argtypes = [C.c_void_p, C.c_uint64, C.c_size_t, C.c_void_p,
                                      C.POINTER(C.c_int)]
        cl.clReleaseMemObject.argtypes = [C.c_void_p]
        cl.clFinish.argtypes = [C.c_void_p]
        self.ctx = C.c_void_p()
        self.check(c.clattn_context_create(None, C.byref(self.ctx)), "context")
        self.clctx = c.clattn_context_cl_context(self.ctx)
        self.queue = c.clattn_context_queue(self.ctx)
        self.mems = []

    def check(self, st, what):
        if st != 0:
            msg = self.c.clattn_context_last_error(self.ctx).decode() if self.ctx else ""
            sys.exit(f"{what}: status {st}: {msg}")

    def desc(self, cls, init, **fields):
        """A descriptor filled by the library's init (struct_size and defaults), then `fields`."""
        d = cls()
        self.check(init(C.byref(d), C.sizeof(d)), cls.__name__ + " init")
        for name, value in fields.items():
            setattr(d, name, value)
        return d

    def buf(self, arr):
        """A device copy of a float32/int32 numpy array."""
        arr = np.ascontiguousarray(arr)
        err = C.c_int()
        m = self.cl.clCreateBuffer(self.clctx, 1 | 32, arr.nbytes, arr.ctypes.data, C.byref(err))
        if err.value != 0:
            sys.exit(f"clCreateBuffer: {err.value}")
        self.mems.append(m)
        return m

    def empty(self, nbytes):
        err = C.c_int()
        m = self.cl.clCreateBuffer(self.clctx, 1, nbytes, None, C.byref(err))
        if err.value != 0:
            sys.exit(f"clCreateBuffer: {err.value}")
        self.mems.append(m)
        return m

    def finish(self):
        self.cl.clFinish(self.queue)


def timeit(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def bench_step(lib, rng, B, T, Dk, Ds, A, flavour, warmup, reps):
    keys = rng.standard_normal((B, T, Dk), dtype=np.float32)
    query = rng.standard_normal((B, Ds), dtype=np.float32)
    wh = (rng.standard_normal((A, Dk)) / np.sqrt(Dk)).astype(np.float32)
    ws = (rng.standard_normal((A, Ds)) / np.sqrt(Ds)).astype(np.float32)
    v = (rng.standard_normal(A) / np.sqrt(A)).astype(np.float32)
    b = (0.1 * rng.standard_normal(A)).astype(np.float32)
    lengths = np.full(B, T, dtype=np.int32)
    d = lib.desc(AdditiveDesc, lib.c.clattn_additive_desc_init, batch=B, seq=T, key_dim=Dk,
                 query_dim=Ds, attn_dim=A, steps=1, lengths_type=LENGTHS_INT32, flavour=flavour)
    plan = AdditivePlan()
    lib.check(lib.c.clattn_additive_plan_get(lib.ctx, C.byref(d), C.byref(plan), C.sizeof(plan)),
              "plan")
    mk, mwh, mws, mv, mb, mq = (lib.buf(x) for x in (keys, wh, ws, v, b, query))
    mc, mw = lib.empty(B * Dk * 4), lib.empty(B * T * 4)
    h = C.c_void_p()

    def precompute():
        if h.value:
            lib.c.clattn_additive_keys_destroy(h)
        lib.check(lib.c.clattn_additive_keys_create(lib.ctx, C.byref(d), mk, mwh, mws, mv, mb,
                                                    lengths.ctypes.data, 0, None, None,
                                                    C.byref(h)), "keys_create")
        lib.finish()

    t_pre = timeit(precompute, 1, max(3, reps // 4))

    def step():
        lib.check(lib.c.clattn_additive_step(lib.ctx, h, 1, mq, mc, mw, 0, None, None), "step")
        lib.finish()

    t_step = timeit(step, warmup, reps)
    # Check the device result against numpy once (float64), so the timed path is a correct one.
    out = np.empty((B, Dk), dtype=np.float32)
    lib.cl.clEnqueueReadBuffer.argtypes = [C.c_void_p, C.c_void_p, C.c_uint, C.c_size_t,
                                           C.c_size_t, C.c_void_p, C.c_uint, C.c_void_p,
                                           C.c_void_p]
    lib.cl.clEnqueueReadBuffer(lib.queue, mc, 1, 0, out.nbytes, out.ctypes.data, 0, None, None)
    lib.c.clattn_additive_keys_destroy(h)

    kp = None

    def np_precompute():  # numpy's key projection, kept across steps as the library keeps it
        nonlocal kp
        kp = keys @ wh.T + b

    t_np_pre = timeit(np_precompute, 1, max(3, reps // 4))

    def np_step():
        qp = query @ ws.T
        e = np.tanh(kp + qp[:, None, :]) @ v
        e -= e.max(axis=1, keepdims=True)
        p = np.exp(e)
        p /= p.sum(axis=1, keepdims=True)
        return np.einsum("bt,btd->bd", p, keys)

    t_np = timeit(np_step, warmup, reps)
    ref = np_step().astype(np.float64)
    err = float(np.abs(out - ref).max())
    return plan, t_pre, t_np_pre, t_step, t_np, err


def bench_encoder(lib, rng, B, T, Din, H, warmup, reps):
    x = rng.standard_normal((B, T, Din), dtype=np.float32)
    k = 1 / np.sqrt(H)
    w = [[rng.uniform(-k, k, s).astype(np.float32) for s in
          ((3 * H, Din), (3 * H, H), (3 * H,), (3 * H,))] for _ in range(2)]
    gb = [GruBuffers(*(lib.buf(a) for a in ws)) for ws in w]
    mx, mo = lib.buf(x), lib.empty(B * T * 2 * H * 4)
    d = lib.desc(GruDesc, lib.c.clattn_gru_desc_init, batch=B, seq=T, input_dim=Din, hidden=H,
                 lengths_type=LENGTHS_INT32)

    def enc():
        lib.check(lib.c.clattn_birnn_gru(lib.ctx, C.byref(d), mx, C.byref(gb[0]), C.byref(gb[1]),
                                         None, mo, 0, None, None), "birnn")
        lib.finish()

    t = timeit(enc, warmup, reps)

    def np_enc():
        out = np.empty((B, T, 2 * H), dtype=np.float32)
        for di, (wih, whh, bih, bhh) in enumerate(w):
            gi = x @ wih.T + bih
            h = np.zeros((B, H), dtype=np.float32)
            for s in range(T):
                t_ = s if di == 0 else T - 1 - s
                gh = h @ whh.T + bhh
                g = gi[:, t_]
                r = 1 / (1 + np.exp(-(g[:, :H] + gh[:, :H])))
                z = 1 / (1 + np.exp(-(g[:, H:2 * H] + gh[:, H:2 * H])))
                n = np.tanh(g[:, 2 * H:] + r * gh[:, 2 * H:])
                h = (1 - z) * n + z * h
                out[:, t_, di * H:(di + 1) * H] = h
        return out

    t_np = timeit(np_enc, warmup, reps)
    return t, t_np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--lib", default=os.path.join(here, "..", "build", "libclattn.so"))
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seqs", default="50,500")
    args = ap.parse_args()
    lib = Lib(args.lib)
    rng = np.random.default_rng(0)
    B, Dk, Ds, A = 32, 1024, 512, 512
    print(f"numpy {np.__version__}; medians of {args.reps} runs after {args.warmup} warm-up runs\n")
    print("| step B=32 Dk=1024 Ds=512 A=512 | kernel shape | clattn step (ms) | numpy step (ms) "
          "| numpy / clattn | max abs diff | precompute clattn / numpy (ms) |")
    print("|---|---|---|---|---|---|---|")
    for T in (int(s) for s in args.seqs.split(",")):
        for fl, name in ((FLAVOUR_AUTO, "auto"), (FLAVOUR_CPU, "CPU"), (FLAVOUR_GPU, "GPU")):
            plan, t_pre, t_np_pre, t, t_np, err = bench_step(lib, rng, B, T, Dk, Ds, A, fl, args.warmup,
                                                   args.reps)
            shape = ("CPU" if plan.flavour == FLAVOUR_CPU else
                     f"GPU wg {plan.work_group} block_t {plan.block_t}")
            print(f"| T={T} ({name}) | {shape} | {t * 1e3:.2f} | {t_np * 1e3:.2f} | "
                  f"{t_np / t:.2f} | {err:.1e} | {t_pre * 1e3:.0f} / {t_np_pre * 1e3:.0f} |")
    print("\n| encoder (bidirectional GRU) | clattn (ms) | clattn tokens/s | numpy (ms) "
          "| numpy tokens/s |")
    print("|---|---|---|---|---|")
    for (Be, T, Din, H) in ((32, 50, 512, 512),):
        t, t_np = bench_encoder(lib, rng, Be, T, Din, H, 1, max(3, args.reps // 4))
        print(f"| B={Be} T={T} Din={Din} H={H} | {t * 1e3:.1f} | {Be * T / t:.0f} | "
              f"{t_np * 1e3:.1f} | {Be * T / t_np:.0f} |")
    for m in lib.mems:
        lib.cl.clReleaseMemObject(m)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Native-tier benchmarks (prints, never asserts). Run: PYTHONPATH=. python benchmarks/bench_native.py

(a) gradient of sum(sin x cos x + exp(-x^2) tanh x), x float32 of 1e6 and 1e7 elements
    and float64 of 1e6 (tape.gradient alone), against the memory-bandwidth floor (8 bytes
    per element, 16 in float64);
(b) the whole eager scalar step: y = sin(x)**2 under a tape, then tape.gradient;
(c) a 784-512-10 MLP softmax cross-entropy gradient at batch 256 (whole eager step);
(d) compile time of an unrolled tanh(h @ W + x_t) RNN gradient, 5 vs 50 steps.
Each row: median seconds per gradient, and the ratio to hand-written NumPy. With ``a`` as
the only argument, part (a) alone.
"""
import os
import sys
import time

import numpy as np

import runtime
import tracer as tt


def median_time(fn, reps, warm=2):
    for _ in range(warm):
        fn()
        runtime.wait_for_compiles()         # steady state: native code, not the VM
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def set_tier(tier):
    runtime.config.jit_threshold = 0 if tier == "compiled" else 1 << 30
    runtime.cache.clear()
    import tracer.gradient_plans
    tracer.gradient_plans.PLANS.clear()


def report(title, rows, base="numpy (hand-written)"):
    print(f"\n{title}")
    ref = dict(rows).get(base)
    for name, t in rows:
        ratio = f"{t / ref:6.2f}x numpy" if ref else ""
        print(f"  {name:28s} {t * 1e3:10.4f} ms  {ratio}")


def first_call_seconds(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# -- (a) -------------------------------------------------------------------------------------

def bench_a(n, reps, dtype=np.float32):
    x = np.random.default_rng(0).uniform(-3, 3, n).astype(dtype)

    def numpy_grad():
        s, c, t = np.sin(x), np.cos(x), np.tanh(x)
        e = np.exp(-x * x)
        return c * c - s * s + e * (1 - t * t) - 2 * x * e * t

    out = np.empty_like(x)
    rows = [("numpy (hand-written)", median_time(numpy_grad, reps)),
            ("copy floor (8 B/elem)", median_time(lambda: np.copyto(out, x), reps))]
    xv = tt.Variable(x)
    compile_s = {}
    for tier in ("interpret", "compiled"):
        set_tier(tier)

        def grad():
            with tt.GradientTape() as tape:
                y = tt.reduce_sum(tt.sin(xv) * tt.cos(xv) +
                                  tt.exp(-xv * xv) * tt.tanh(xv))
            t0 = time.perf_counter()
            tape.gradient(y, xv)
            return time.perf_counter() - t0
        compile_s[tier] = grad()
        runtime.wait_for_compiles()         # steady state: native code, not the VM
        for _ in range(2):
            grad()
        rows.append((f"tapejit {tier}", float(np.median([grad() for _ in range(reps)]))))
    rows += _a_others(x, reps)
    report(f"(a) sum(sin*cos + exp(-x^2)*tanh) gradient, n={n:.0e} {x.dtype} "
           f"(compile {compile_s['compiled']:.2f} s)", rows)
    print(f"  floor bandwidth: {2 * x.itemsize * n / rows[1][1] / 1e9:.1f} GB/s")


def _a_others(x, reps):
    rows = []
    try:
        import jax
        import jax.numpy as jnp
        if x.dtype == np.float64:
            jax.config.update("jax_enable_x64", True)     # else JAX computes in float32
        f = jax.jit(jax.grad(lambda v: jnp.sum(jnp.sin(v) * jnp.cos(v) +
                                               jnp.exp(-v * v) * jnp.tanh(v))))
        xj = jnp.asarray(x)
        rows.append(("jax jit(grad)", median_time(lambda: f(xj).block_until_ready(), reps)))
    except ImportError:
        pass
    try:
        import torch
        xt = torch.tensor(x, requires_grad=True)

        def tgrad():
            y = torch.sum(torch.sin(xt) * torch.cos(xt) + torch.exp(-xt * xt) * torch.tanh(xt))
            return torch.autograd.grad(y, xt)
        rows.append(("torch autograd", median_time(tgrad, reps)))
    except ImportError:
        pass
    return rows


# -- (b) -------------------------------------------------------------------------------------

def bench_b(reps=3000):
    x0 = np.float32(0.3)
    rows = [("numpy (hand-written)", median_time(lambda: 2 * np.sin(x0) * np.cos(x0), reps))]
    xv = tt.Variable(x0)

    def step():
        with tt.GradientTape() as tape:
            y = tt.sin(xv) ** 2
        return tape.gradient(y, xv)
    for tier in ("interpret", "compiled"):
        set_tier(tier)
        rows.append((f"tapejit {tier}", median_time(step, reps, warm=5)))
    try:
        import torch
        xt = torch.tensor(0.3, requires_grad=True)
        rows.append(("torch autograd", median_time(
            lambda: torch.autograd.grad(torch.sin(xt) ** 2, xt), reps)))
    except ImportError:
        pass
    report("(b) eager scalar step sin(x)**2: forward under tape + gradient", rows)



# -- (c) -------------------------------------------------------------------------------------

def bench_c(reps=20):
    rng = np.random.default_rng(0)
    f = np.float32
    xb = rng.standard_normal((256, 784)).astype(f)
    labels = np.eye(10, dtype=f)[rng.integers(0, 10, 256)]
    w1, b1 = (rng.standard_normal((784, 512)) * 0.05).astype(f), np.zeros(512, f)
    w2, b2 = (rng.standard_normal((512, 10)) * 0.05).astype(f), np.zeros(10, f)

    def numpy_step():
        h = np.maximum(xb @ w1 + b1, 0)
        z = h @ w2 + b2
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = np.mean(np.sum(labels * (np.log(p.sum(axis=1, keepdims=True)) - z), axis=1))
        dz = (p - labels) / 256
        dh = (dz @ w2.T) * (h > 0)
        return loss, xb.T @ dh, dh.sum(0), h.T @ dz, dz.sum(0)

    rows = [("numpy (hand-written)", median_time(numpy_step, reps))]
    params = [tt.Variable(v) for v in (w1, b1, w2, b2)]
    xt, yt = tt.constant(xb), tt.constant(labels)

    def step():
        with tt.GradientTape() as tape:
            h = tt.relu(tt.matmul(xt, params[0]) + params[1])
            z = tt.matmul(h, params[2]) + params[3]
            loss = tt.reduce_mean(tt.nn.softmax_cross_entropy_with_logits(labels=yt, logits=z))
        return tape.gradient(loss, params)
    compile_s = 0.0
    for tier in ("interpret", "compiled"):
        set_tier(tier)
        if tier == "compiled":
            compile_s = first_call_seconds(step)
        rows.append((f"tapejit {tier}", median_time(step, reps)))
    rows += _c_others(xb, labels, w1, b1, w2, b2, reps)
    report(f"(c) MLP 784-512-10 softmax CE, batch 256, whole eager step "
           f"(compile {compile_s:.2f} s)", rows)


def _c_others(xb, labels, w1, b1, w2, b2, reps):
    rows = []
    try:
        import jax
        import jax.numpy as jnp

        def loss(ps, x, y):
            h = jax.nn.relu(x @ ps[0] + ps[1])
            z = h @ ps[2] + ps[3]
            return jnp.mean(-jnp.sum(y * jax.nn.log_softmax(z), axis=1))
        g = jax.jit(jax.value_and_grad(loss))
        ps = [jnp.asarray(v) for v in (w1, b1, w2, b2)]
        x, y = jnp.asarray(xb), jnp.asarray(labels)
        rows.append(("jax jit(value_and_grad)",
                     median_time(lambda: jax.block_until_ready(g(ps, x, y)), reps)))
    except ImportError:
        pass
    try:
        import torch
        ps = [torch.tensor(v, requires_grad=True) for v in (w1, b1, w2, b2)]
        x, y = torch.tensor(xb), torch.tensor(labels)

        def tstep():
            h = torch.relu(x @ ps[0] + ps[1])
            z = h @ ps[2] + ps[3]
            loss = torch.mean(-torch.sum(y * torch.log_softmax(z, 1), 1))
            return torch.autograd.grad(loss, ps)
        rows.append(("torch autograd", median_time(tstep, reps)))
    except ImportError:
        pass
    return rows


# -- (d) -------------------------------------------------------------------------------------

def rnn_compile_seconds(steps, hidden=32, batch=8):
    """Wall seconds of the first eager RNN gradient (recording, autodiff, compiling) in this
    process; run it in a fresh process with an empty cache (see ``bench_d``)."""
    set_tier("compiled")
    rng = np.random.default_rng(steps)
    w = tt.Variable(rng.standard_normal((hidden, hidden)).astype(np.float32) * 0.1)
    xs = [tt.constant(rng.standard_normal((batch, hidden)).astype(np.float32))
          for _ in range(steps)]

    def grad():
        with tt.GradientTape() as tape:
            h = tt.zeros((batch, hidden), tt.float32)
            for x in xs:
                h = tt.tanh(tt.matmul(h, w) + x)
            loss = tt.reduce_sum(h * h)
        return tape.gradient(loss, w)
    t0 = time.perf_counter()
    grad()
    return time.perf_counter() - t0


def _cold_process_seconds(steps):
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, TRACER_CACHE_DIR=d)
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--rnn-compile",
                              str(steps)], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def bench_d():
    ts = {n: _cold_process_seconds(n) for n in (5, 50, 200)}
    print("\n(d) unrolled RNN gradient, first call in a fresh process with an empty cache: "
          + ", ".join(f"{n} steps {t:.2f} s" for n, t in ts.items())
          + f" (50/5 ratio {ts[50] / max(ts[5], 1e-9):.2f})")


# -- (e) -------------------------------------------------------------------------------------

# name: (tapejit function, JAX function of jax.numpy / jax.nn / jax.scipy)
def _unary_table():
    def jx(name):
        import jax
        import jax.scipy.special as jss
        return {"exp": jax.numpy.exp, "log": jax.numpy.log, "tanh": jax.numpy.tanh,
                "sigmoid": jax.nn.sigmoid, "sin": jax.numpy.sin, "cos": jax.numpy.cos,
                "softplus": jax.nn.softplus, "silu": jax.nn.silu, "erf": jss.erf,
                "gelu": lambda v: jax.nn.gelu(v, approximate=False)}[name]
    tts = {"exp": tt.exp, "log": tt.math.log, "tanh": tt.tanh, "sigmoid": tt.sigmoid,
           "sin": tt.sin, "cos": tt.cos, "softplus": tt.nn.softplus, "silu": tt.nn.silu,
           "erf": tt.math.erf, "gelu": tt.nn.gelu}
    return tts, jx


def _settle(fn):
    for _ in range(3):
        fn()
        runtime.wait_for_compiles()         # steady state: native code, not the VM


def _batch_times(fn, batch=5):
    """(wall seconds, CPU seconds of this process) per call over one batch of calls. On a
    loaded machine the wall time of a few-ms call includes whole time slices spent waiting
    for a core; the CPU time does not (it sums every thread this process ran)."""
    w, c = time.perf_counter(), time.process_time()
    for _ in range(batch):
        fn()
    return (time.perf_counter() - w) / batch, (time.process_time() - c) / batch


def _cell(label, tt_t, jax_t, pick):
    t1 = pick(tt_t)
    cell = f"{label} {t1 * 1e3:6.2f}"
    if jax_t:
        t2 = pick(jax_t)
        cell += f"/{t2 * 1e3:6.2f} ({t1 / t2:4.2f}x)"
    return cell


def bench_e(names=None, n=10 ** 6, rounds=5):
    """Value and gradient of sum(f(x)) for elementwise transcendentals, float32 and float64,
    tapejit (tt.function) against JAX (jit), timed in alternating batches so both see the
    same machine load."""
    try:
        import jax
        jax.config.update("jax_enable_x64", True)   # float32 inputs stay float32
    except ImportError:
        jax = None
    tts, jx = _unary_table()
    print(f"\n(e) sum(f(x)) value and gradient, n={n:.0e}, x in (0.1, 4) for log else "
          f"(-4, 4); ms tt.function/jax.jit: wall = median wall time, cpu = least CPU time "
          f"of the process per call (JAX's CPU time includes its threads)")
    for name in names or list(tts):
        for dtype in (np.float32, np.float64):
            lo = 0.1 if name == "log" else -4.0
            x = np.random.default_rng(0).uniform(lo, 4.0, n).astype(dtype)
            f = tts[name]
            calls = {"value": tt.function(lambda v, f=f: tt.reduce_sum(f(v))),
                     "grad": tt.function(tt.grad(lambda v, f=f: tt.reduce_sum(f(v))))}
            row = []
            for mode, fn in calls.items():
                tcall = lambda fn=fn: fn(x)                 # noqa: E731
                _settle(tcall)
                jcall = None
                if jax is not None:
                    jf = jx(name)
                    g = lambda v, jf=jf: jax.numpy.sum(jf(v))   # noqa: E731
                    j = jax.jit(g if mode == "value" else jax.grad(g))
                    xj = jax.numpy.asarray(x)
                    jcall = lambda j=j, xj=xj: j(xj).block_until_ready()   # noqa: E731
                    _settle(jcall)
                tt_t, jax_t = [], []
                for _ in range(rounds):             # interleaved: same minutes, same load
                    tt_t.append(_batch_times(tcall))
                    if jcall is not None:
                        jax_t.append(_batch_times(jcall))
                row.append(f"{mode}: " + _cell("wall", [t[0] for t in tt_t],
                                               [t[0] for t in jax_t], np.median) + "  "
                           + _cell("cpu", [t[1] for t in tt_t], [t[1] for t in jax_t], min))
            print(f"  {name:8s} {np.dtype(dtype).name:8s} " + "   ".join(row))


def main(only_a=False):
    print(f"runtime tiers: {runtime.TIERS}; parallel_threshold "
          f"{runtime.config.parallel_threshold}")
    bench_a(10 ** 6, reps=15)
    bench_a(10 ** 7, reps=7)
    bench_a(10 ** 6, reps=15, dtype=np.float64)
    if only_a:
        return
    bench_b()
    bench_c()
    bench_d()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--rnn-compile":
        print(rnn_compile_seconds(int(sys.argv[2])))
    elif sys.argv[1:2] == ["e"]:
        set_tier("compiled")
        bench_e(sys.argv[2:] or None)
    else:
        main(only_a=sys.argv[1:] == ["a"])

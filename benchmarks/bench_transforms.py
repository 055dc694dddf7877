"""Benchmark the compiled transforms against JAX (prints a table, never asserts).

Cases: an MLP gradient step (784-512-10, batch 256, softmax cross-entropy), the third
derivative of sin^2 on 100 points, a Hessian-vector product of the Rosenbrock function in
10^5 dimensions, and the gradient of an unrolled 50-step RNN. For each: the median time
per cached call, the first call (trace + compile, empty disk cache), the first call in a
second process (warm disk cache), and JAX's jit(grad) when JAX is importable.

    PYTHONPATH=. python benchmarks/bench_transforms.py [--quick]

Targets (issue 10): no slower than JAX; a cached tt.grad(f)(x) on a scalar under 1.5 us
(process CPU time); a second process's first call under 0.3 s. The first calls here run
one after another in this process (the JAX column's first call includes none of JAX's
start-up after its first case); ``bench_latency.py`` times every first call in a fresh
process.

More transforms (``--more`` runs only these; see ``more_transforms``): (a) per-example
gradients by vmap(grad), (b) Hessian-vector products by jvp(grad), (c) jacfwd vs jacrev,
(d) peak memory of a deep MLP gradient with and without checkpoint per layer.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from _timing import median_time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- the cases, written once for a namespace ``m`` (tracer or jax.numpy) ---------------------

def _data(case):
    rng = np.random.default_rng(0)
    f32 = np.float32
    if case == "mlp":
        params = [rng.normal(0, 0.05, (784, 512)).astype(f32), np.zeros(512, f32),
                  rng.normal(0, 0.05, (512, 10)).astype(f32), np.zeros(10, f32)]
        x = rng.normal(size=(256, 784)).astype(f32)
        y = np.eye(10, dtype=f32)[rng.integers(0, 10, 256)]
        return params, x, y
    if case == "d3":
        return (np.linspace(-3, 3, 100).astype(f32),)
    if case == "hvp":
        return (rng.normal(size=100_000).astype(f32), rng.normal(size=100_000).astype(f32))
    if case == "rnn":
        return (rng.normal(0, 0.1, (128, 128)).astype(f32), np.zeros((32, 128), f32),
                rng.normal(size=(50, 32, 128)).astype(f32))
    raise ValueError(case)


def _tt_case(case):
    import tracer as tt
    if case == "mlp":
        def loss(p, x, y):
            h = tt.relu(tt.matmul(x, p[0]) + p[1])
            logits = tt.matmul(h, p[2]) + p[3]
            return tt.reduce_mean(tt.nn.softmax_cross_entropy_with_logits(y, logits))
        fn = tt.grad(loss)
    elif case == "d3":
        d1 = tt.grad(lambda x: tt.reduce_sum(tt.sin(x) ** 2))
        d2 = tt.grad(lambda x: tt.reduce_sum(d1(x)))
        fn = tt.grad(lambda x: tt.reduce_sum(d2(x)))
    elif case == "hvp":
        def rosen(x):
            return tt.reduce_sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
        g = tt.grad(rosen)
        fn = tt.grad(lambda x, v: tt.reduce_sum(g(x) * v))
    else:
        def rnn(w, h, xs):
            for t in range(xs.shape[0]):
                h = tt.tanh(tt.matmul(h, w) + xs[t])
            return tt.reduce_sum(h)
        fn = tt.grad(rnn)
    args = [tt.constant(a) if isinstance(a, np.ndarray) else [tt.constant(p) for p in a]
            for a in _data(case)]
    return lambda: fn(*args)


def _jax_case(case):
    import jax
    import jax.numpy as jnp
    if case == "mlp":
        def loss(p, x, y):
            h = jax.nn.relu(x @ p[0] + p[1])
            logits = h @ p[2] + p[3]
            return jnp.mean(-jnp.sum(y * jax.nn.log_softmax(logits), axis=-1))
        fn = jax.jit(jax.grad(loss))
    elif case == "d3":
        d1 = jax.grad(lambda x: jnp.sum(jnp.sin(x) ** 2))
        d2 = jax.grad(lambda x: jnp.sum(d1(x)))
        fn = jax.jit(jax.grad(lambda x: jnp.sum(d2(x))))
    elif case == "hvp":
        def rosen(x):
            return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
        g = jax.grad(rosen)
        fn = jax.jit(jax.grad(lambda x, v: jnp.sum(g(x) * v)))
    else:
        def rnn(w, h, xs):
            for t in range(xs.shape[0]):
                h = jnp.tanh(h @ w + xs[t])
            return jnp.sum(h)
        fn = jax.jit(jax.grad(rnn))
    args = [jnp.asarray(a) if isinstance(a, np.ndarray) else [jnp.asarray(p) for p in a]
            for a in _data(case)]
    return lambda: jax.block_until_ready(fn(*args))


CASES = [("mlp", "MLP grad step 784-512-10, batch 256"), ("d3", "d3/dx3 sin^2, 100 points"),
         ("hvp", "Rosenbrock HVP, n=1e5"), ("rnn", "RNN 50 steps grad (32x128)")]


def _first_call(make):
    t0 = time.perf_counter()
    call = make()
    call()
    return call, time.perf_counter() - t0


def _second_process(case, cache_dir):
    env = dict(os.environ, TRACER_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, __file__, "--first-call", case], env=env,
                         capture_output=True, text=True, timeout=600)
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return float("nan")


def _jax():
    try:
        import jax  # noqa: F401
        return True
    except ImportError:
        return False


def _scalar_overhead():
    import tracer as tt
    g = tt.grad(lambda x: tt.sin(x) ** 2)
    x = tt.constant(0.3)
    return (median_time(lambda: g(x), runs=9, min_seconds=0.02),
            median_time(lambda: g(x), runs=9, min_seconds=0.02, clock=time.process_time))


def _fmt(s):
    if s != s:
        return "n/a"
    return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def main(quick):
    cache_dir = tempfile.mkdtemp(prefix="tapejit-bench-")
    import tracer as tt
    tt.config.cache_dir = cache_dir          # empty: the first call really compiles
    has_jax = _jax()
    rows = []
    for case, title in CASES:
        call, first = _first_call(lambda: _tt_case(case))
        per = median_time(call, runs=3 if quick else 7)
        second = _second_process(case, cache_dir)
        row = [title, _fmt(per), _fmt(first), _fmt(second)]
        if has_jax:
            jcall, jfirst = _first_call(lambda: _jax_case(case))
            jper = median_time(jcall, runs=3 if quick else 7)
            row += [_fmt(jper), _fmt(jfirst), f"{per / jper:.2f}x"]
        rows.append(row)
        print(" | ".join(row), flush=True)
    head = ["case", "tt per call", "tt 1st call", "tt 1st (2nd proc)"]
    if has_jax:
        head += ["jax per call", "jax 1st call", "tt/jax"]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    print()
    for r in [head] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    wall, cpu = _scalar_overhead()
    print(f"\ncached tt.grad(f)(x) on a scalar: {_fmt(wall)} wall, {_fmt(cpu)} process CPU "
          f"(target < 1.5 us)")
    print("targets: tt/jax <= 1.00x; second-process first call < 0.3 s")


# -- more transforms: vmap, jvp, jacfwd/jacrev, checkpoint ----------------------------------

def _logistic_case(B=256, D=784):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(B, D)).astype(np.float32)
    y = np.sign(rng.normal(size=B)).astype(np.float32)
    w = (rng.normal(size=D) * 0.05).astype(np.float32)
    return w, X, y


def bench_per_example(quick):
    """(a) per-example gradients of a logistic loss, vmap(grad) vs batched NumPy vs JAX."""
    import tracer as tt
    w, X, y = _logistic_case()

    def numpy_grads():
        m = -y * (X @ w)
        s = np.exp(-np.logaddexp(0, -m))            # sigmoid(m), stably
        return X * (-y * s)[:, None]
    loss = lambda w, x, t: tt.nn.softplus(-t * tt.reduce_sum(x * w))
    pe = tt.vmap(tt.grad(loss), in_axes=(None, 0, 0))
    args = [tt.constant(a) for a in (w, X, y)]
    np.testing.assert_allclose(pe(*args).numpy(), numpy_grads(), rtol=2e-3, atol=1e-5)
    rows = [("numpy (hand-written, batched)", median_time(numpy_grads)),
            ("tt.vmap(tt.grad(loss))", median_time(lambda: pe(*args)))]
    if _jax():
        import jax
        import jax.numpy as jnp
        jl = lambda w, x, t: jax.nn.softplus(-t * jnp.sum(x * w))
        jf = jax.jit(jax.vmap(jax.grad(jl), in_axes=(None, 0, 0)))
        ja = [jnp.asarray(a) for a in (w, X, y)]
        rows.append(("jax jit(vmap(grad))", median_time(
            lambda: jax.block_until_ready(jf(*ja)))))
    return "(a) per-example gradients, logistic loss, 256 x 784 float32", rows, \
        "target: <= 1.3x numpy, ahead of jax"


def bench_hvp(quick):
    """(b) Hessian-vector product of Rosenbrock at 1e5: jvp(grad) vs grad(<grad, v>)."""
    import tracer as tt
    x, v = _data("hvp")

    def rosen(x):
        return tt.reduce_sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    fwd_rev = tt.function(lambda x, v: tt.jvp(tt.grad(rosen), (x,), (v,))[1])
    rev_rev = tt.grad(lambda x, v: tt.reduce_sum(tt.grad(rosen)(x) * v))
    args = [tt.constant(x), tt.constant(v)]
    np.testing.assert_allclose(fwd_rev(*args).numpy(), rev_rev(*args).numpy(), rtol=1e-3,
                               atol=1e-2)
    rows = [("tt jvp(grad) (forward-over-reverse)", median_time(lambda: fwd_rev(*args))),
            ("tt grad(<grad, v>) (reverse-over-reverse)",
             median_time(lambda: rev_rev(*args)))]
    if _jax():
        import jax
        import jax.numpy as jnp

        def jrosen(x):
            return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
        jh = jax.jit(lambda x, v: jax.jvp(jax.grad(jrosen), (x,), (v,))[1])
        ja = [jnp.asarray(x), jnp.asarray(v)]
        rows.append(("jax jit(jvp(grad))", median_time(
            lambda: jax.block_until_ready(jh(*ja)))))
    return "(b) Rosenbrock Hessian-vector product, n = 1e5 float32", rows, \
        "target: jvp(grad) ahead of jax's forward-over-reverse"


def bench_jacobians(quick):
    """(c) jacfwd vs jacrev on a tall (R^10 -> R^1000) and a wide (R^1000 -> R^10) map."""
    import tracer as tt
    rng = np.random.default_rng(3)
    rows = []
    for n, m in ((10, 1000), (1000, 10)):
        W = tt.constant(rng.normal(size=(m, n)) / np.sqrt(n))
        x = tt.constant(rng.normal(size=n))
        f = lambda x: tt.tanh(tt.matmul(W, x[:, None]))[:, 0]
        jf, jr = tt.jacfwd(f), tt.jacrev(f)
        np.testing.assert_allclose(jf(x).numpy(), jr(x).numpy(), atol=1e-12)
        rows += [(f"jacfwd R^{n} -> R^{m}", median_time(lambda: jf(x))),
                 (f"jacrev R^{n} -> R^{m}", median_time(lambda: jr(x)))]
    return "(c) Jacobians, float64", rows, \
        "target: jacfwd wins on R^10 -> R^1000, jacrev on R^1000 -> R^10"


def _mlp_grad(variant):
    """variant: '<plain|layer|block5>/<weights|input>': checkpoint nothing, each layer, or
    each block of 5 layers; differentiate with respect to the weights or the input."""
    import tracer as tt
    mode, wrt = variant.split("/")
    rng = np.random.default_rng(4)
    ws = [tt.constant((rng.normal(size=(512, 512)) / np.sqrt(512)).astype(np.float32))
          for _ in range(20)]
    x = tt.constant(rng.normal(size=(256, 512)).astype(np.float32))

    def layers(h, *block):
        for w in block:
            h = tt.tanh(tt.matmul(h, w))
        return h
    size = {"plain": 20, "layer": 1, "block5": 5}[mode]
    step = layers if mode == "plain" else tt.checkpoint(layers)

    def loss(ws, x):
        h = x
        for i in range(0, 20, size):
            h = step(h, *ws[i:i + size])
        return tt.reduce_sum(h * h)
    g = tt.grad(loss, argnums=0 if wrt == "weights" else 1)
    return lambda: g(ws, x)


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def peak_memory_child(variant):
    """Run in a subprocess: peak RSS growth of one gradient call (after a warm call)."""
    call = _mlp_grad(variant)
    call()
    per = median_time(call, runs=3)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                        # reset the peak RSS (VmHWM) to the current RSS
    before = _status_kb("VmRSS")
    call()
    print(per, (_status_kb("VmHWM") - before) / 1024)


def bench_checkpoint(quick, script):
    """(d) peak memory and time of a 20-layer tanh MLP gradient, with checkpoint per
    layer and without (each in a fresh process; memory is the peak RSS growth during one
    call, with glibc returning large blocks at once so RSS follows the live arrays)."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="0")
    lines = []
    for wrt in ("weights", "input"):
        rows = []
        for mode in ("plain", "layer", "block5"):
            out = subprocess.run([sys.executable, script, "--peak", f"{mode}/{wrt}"], env=env,
                                 capture_output=True, text=True, timeout=900)
            try:
                per, mb = map(float, out.stdout.split()[-2:])
            except ValueError:
                per, mb = float("nan"), float("nan")
            rows.append((mode, per, mb))
        t0, m0 = rows[0][1:]
        for mode, t, mb in rows:
            lines.append(f"  d/d {wrt:8s} {mode:7s} {_fmt(t):>9s} ({t / t0:.2f}x time)  "
                         f"peak +{mb:5.1f} MB ({mb / m0:.2f}x memory)")
    lines.append("  target (checkpoint per layer): memory <= 0.5x, time <= 1.5x")
    return "(d) 20-layer tanh MLP gradient (512 wide, batch 256, float32)", lines


def more_transforms(quick, script):
    for bench in (bench_per_example, bench_hvp, bench_jacobians):
        title, rows, target = bench(quick)
        ref = rows[0][1]
        print(f"\n{title}")
        for name, t in rows:
            print(f"  {name:44s} {_fmt(t):>10s}  {t / ref:5.2f}x first row")
        print(f"  {target}", flush=True)
    title, lines = bench_checkpoint(quick, script)
    print(f"\n{title}")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--peak":
        peak_memory_child(sys.argv[2])
    elif "--more" in sys.argv:
        more_transforms("--quick" in sys.argv, __file__)
    elif len(sys.argv) == 3 and sys.argv[1] == "--first-call":
        import tracer  # noqa: F401  (import time is not part of the first call)
        import runtime.native  # noqa: F401
        t0 = time.perf_counter()
        _tt_case(sys.argv[2])()
        print(time.perf_counter() - t0)
    else:
        main("--quick" in sys.argv)
        more_transforms("--quick" in sys.argv, __file__)

"""Linear-algebra and array-op benchmarks (prints, never asserts).
Run: PYTHONPATH=. python benchmarks/bench_linalg.py [n ...]   (default n = 500 2000)

(a) Gaussian-process negative log marginal likelihood and its gradient w.r.t. the three
    log hyperparameters of an RBF kernel plus noise, n training points in 3-D:
    - numpy/scipy (hand-written): scikit-learn's recipe (Cholesky, cho_solve for alpha,
      cho_solve against the identity for K^-1, then 0.5 tr((alpha alpha^T - K^-1) dK));
    - tapejit `tt.function(tt.value_and_grad)` of the same model written two ways:
      "cholesky" (cholesky, triangular_solve, log of the diagonal) and "logdet+solve";
    - JAX (jax.scipy.linalg.cho_factor/cho_solve under jit/value_and_grad) if installed.
(b) sort / top_k / scatter workload: rows of a (B, N) float32 matrix are sorted, their top
    k kept and scatter-added into buckets; gradient w.r.t. the matrix, against NumPy.
Each row: median seconds per value-and-gradient, and the ratio to hand-written NumPy.
On a shared or loaded machine set OPENBLAS_NUM_THREADS=1: threaded BLAS under load makes
every LAPACK figure (ours and the baselines') several times noisier.
"""
import sys
import time

import numpy as np
import scipy.linalg as sla

import runtime
import tracer as tt


def median_time(fn, reps, warm=1):
    for _ in range(max(warm, 3)):
        fn()
        runtime.wait_for_compiles()         # steady state: native code, not the VM
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def report(title, rows):
    print(f"\n{title}")
    ref = dict(rows)["numpy/scipy (hand-written)"]
    for name, t in rows:
        print(f"  {name:30s} {t * 1e3:10.2f} ms  {t / ref:6.2f}x numpy")


# -- (a) Gaussian process ----------------------------------------------------------------

def gp_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (n, 3))
    y = np.sin(x).sum(1) + 0.1 * rng.standard_normal(n)
    sq = np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
    return sq, y, np.array([0.1, 0.3, -2.0])          # log amplitude, log length, log noise


def gp_numpy(sq, y, theta):
    amp, ell, noise = np.exp(theta)
    kf = amp * np.exp(-0.5 * sq / ell ** 2)
    k = kf + noise * np.eye(len(y))
    low = sla.cholesky(k, lower=True, check_finite=False)
    alpha = sla.cho_solve((low, True), y, check_finite=False)
    nll = 0.5 * y @ alpha + np.log(np.diag(low)).sum() + 0.5 * len(y) * np.log(2 * np.pi)
    inner = np.outer(alpha, alpha) - sla.cho_solve((low, True), np.eye(len(y)),
                                                   check_finite=False)
    grads = [kf, kf * sq / ell ** 2, noise * np.eye(len(y))]
    return nll, np.array([-0.5 * np.sum(inner * d) for d in grads])


def gp_tapejit(form):
    def nll(theta, sq, y):
        amp, ell, noise = tt.exp(theta[0]), tt.exp(theta[1]), tt.exp(theta[2])
        n = y.shape[0]
        k = amp * tt.exp(-0.5 * sq / (ell * ell)) + noise * tt.eye(n, dtype=tt.float64)
        if form == "cholesky":
            low = tt.linalg.cholesky(k)
            z = tt.linalg.triangular_solve(low, tt.reshape(y, (n, 1)), lower=True)
            fit = 0.5 * tt.reduce_sum(z * z) + tt.reduce_sum(tt.log(tt.linalg.diag_part(low)))
        else:
            alpha = tt.linalg.solve(k, tt.reshape(y, (n, 1)))
            fit = 0.5 * tt.reduce_sum(tt.reshape(y, (n, 1)) * alpha) + 0.5 * tt.linalg.logdet(k)
        return fit + 0.5 * n * np.log(2 * np.pi)
    return tt.function(tt.value_and_grad(nll))


def gp_jax():
    try:
        import jax
        import jax.numpy as jnp
        from jax.scipy.linalg import cho_factor, cho_solve
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def nll(theta, sq, y):
        amp, ell, noise = jnp.exp(theta)
        k = amp * jnp.exp(-0.5 * sq / ell ** 2) + noise * jnp.eye(len(y))
        c = cho_factor(k, lower=True)
        alpha = cho_solve(c, y)
        return 0.5 * y @ alpha + jnp.log(jnp.diag(c[0])).sum() + 0.5 * len(y) * jnp.log(2 * jnp.pi)
    f = jax.jit(jax.value_and_grad(nll))
    return lambda *a: jax.block_until_ready(f(*a))


def bench_gp(n, reps):
    sq, y, theta = gp_data(n)
    want_v, want_g = gp_numpy(sq, y, theta)
    rows = [("numpy/scipy (hand-written)", median_time(lambda: gp_numpy(sq, y, theta), reps))]
    args = (tt.constant(theta), tt.constant(sq), tt.constant(y))
    for form in ("cholesky", "logdet+solve"):
        fn = gp_tapejit(form)
        v, g = fn(*args)
        assert np.allclose(v.numpy(), want_v) and np.allclose(g.numpy(), want_g, rtol=1e-6)
        rows.append((f"tapejit compiled ({form})", median_time(lambda: fn(*args), reps)))
    jf = gp_jax()
    if jf is not None:
        rows.append(("jax jit", median_time(lambda: jf(theta, sq, y), reps)))
    report(f"(a) GP marginal likelihood + gradient, n = {n}", rows)


# -- (b) sort / top_k / scatter ----------------------------------------------------------

def topk_numpy(x, w, buckets, k):
    order = np.argsort(-x, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(x, order, 1)
    s = np.sort(x, axis=1)
    out = np.zeros((buckets.max() + 1, k), x.dtype)
    np.add.at(out, buckets, top * w)
    loss = float(np.sum(out ** 2) + np.sum(s[:, -1]))
    g_top = np.take(2 * out, buckets, axis=0) * w
    grad = np.zeros_like(x)
    np.put_along_axis(grad, order, g_top, 1)
    last = np.argsort(x, axis=1, kind="stable")[:, -1:]
    np.add.at(grad, (np.arange(x.shape[0])[:, None], last), 1.0)
    return loss, grad


def bench_topk(b, n, k, reps):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((b, n)).astype(np.float32)
    w = rng.uniform(0.5, 1.5, (b, k)).astype(np.float32)
    buckets = rng.integers(0, 64, b)

    def loss(x, w, idx):
        top, _ = tt.math.top_k(x, k)
        out = tt.scatter_nd(tt.reshape(idx, (-1, 1)), top * w, (64, k))
        return tt.reduce_sum(out * out) + tt.reduce_sum(tt.sort(x, axis=1)[:, -1])
    fn = tt.function(tt.value_and_grad(loss))
    args = (tt.constant(x), tt.constant(w), tt.constant(buckets))
    v, g = fn(*args)
    want_v, want_g = topk_numpy(x, w, buckets, k)
    assert np.allclose(v.numpy(), want_v, rtol=1e-4) and np.allclose(g.numpy(), want_g,
                                                                      rtol=1e-4, atol=1e-4)
    rows = [("numpy/scipy (hand-written)",
             median_time(lambda: topk_numpy(x, w, buckets, k), reps)),
            ("tapejit compiled", median_time(lambda: fn(*args), reps))]
    report(f"(b) sort + top_k({k}) + scatter_nd + gradient, x {b}x{n} float32", rows)


if __name__ == "__main__":
    runtime.config.jit_threshold = 0
    sizes = [int(a) for a in sys.argv[1:]] or [500, 2000]
    for n in sizes:
        bench_gp(n, reps=5 if n <= 500 else 3)
    bench_topk(1024, 1000, 16, reps=5)

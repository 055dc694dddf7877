"""Work that must not grow with an array's extent: the Python steps of the NumPy
implementations of scans and matrix routines (counted with a tracer of line events), and
their values against the sequential / per-matrix forms and finite differences."""
import sys

import numpy as np
import pytest

import runtime
import tracer as tt
from compiler.primitives import lapack, lapack_batch, scans


def python_steps(module, fn, *args, **kwargs):
    """How many lines of ``module`` (or a tuple of modules) run while ``fn`` runs."""
    count = [0]
    names = {m.__file__ for m in (module if isinstance(module, tuple) else (module,))}

    def local(frame, event, arg):
        if event == "line":
            count[0] += 1
        return local

    def trace(frame, event, arg):
        return local if frame.f_code.co_filename in names else None

    sys.settrace(trace)
    try:
        fn(*args, **kwargs)
    finally:
        sys.settrace(None)
    return count[0]


def sequential_linrec(a, b, axis, reverse):
    a, s = (np.moveaxis(np.flip(x, axis) if reverse else x, axis, 0) for x in (a, b))
    s = np.array(s)
    for i in range(1, s.shape[0]):
        s[i] += a[i] * s[i - 1]
    s = np.moveaxis(s, 0, axis)
    return np.flip(s, axis) if reverse else s


def test_linrec_runs_in_logarithmically_many_python_steps():
    """s_i = b_i + a_i s_{i-1}: blocks of 16 scanned at once, not one step per element."""
    rng = np.random.default_rng(0)
    steps = {}
    for n in (256, 65536):
        a, b = rng.uniform(-1, 1, n), rng.standard_normal(n)
        steps[n] = python_steps(scans, scans._linrec_impl, a, b, axis=0, reverse=False)
    assert steps[65536] < 3 * steps[256] < 400, steps         # log16(n) levels, not n


@pytest.mark.parametrize("shape,axis", [((300,), 0), ((3, 70), 1), ((41, 2, 3), 0),
                                        ((16, 2), 0), ((17,), 0), ((0, 3), 0)])
def test_linrec_matches_the_sequential_recurrence(shape, axis):
    rng = np.random.default_rng(len(shape) + axis)
    for reverse in (False, True):
        a, b = rng.uniform(-1.2, 1.2, shape), rng.standard_normal(shape)
        a.reshape(-1)[3:6] = 0.0 if a.size > 6 else a.reshape(-1)[3:6]
        got = scans._linrec_impl(a, b, axis=axis, reverse=reverse)
        np.testing.assert_allclose(got, sequential_linrec(a, b, axis, reverse), rtol=1e-12,
                                   atol=1e-12)
        assert got.flags.c_contiguous and got.dtype == b.dtype


def test_linrec_keeps_the_recurrence_order_where_regrouping_overflows():
    """Products regrouped by blocks overflow (inf * 0 = NaN) where the recurrence gives
    finite values, and NaN/inf inputs: the result is the sequential recurrence's."""
    a = np.tile([1e200, 1e200, 1e200, 1.0], 10)
    b = np.tile([0.0, 0.0, 0.0, 1.0], 10)
    c = np.tile([1.0, np.inf, 0.0, 2.0], 9)
    d = np.tile([1.0, np.nan, 3.0, 1.0], 9)
    with np.errstate(all="ignore"):
        for x, y in ((a, b), (c, d)):
            np.testing.assert_array_equal(scans._linrec_impl(x, y, axis=0, reverse=False),
                                          sequential_linrec(x, y, 0, False))


def test_long_cumprod_gradient_matches_the_exact_formula(tt_backend):
    """d sum(cumprod(x)) / dx_i = prod_{k<i} x_k * S_i, S_i = 1 + x_{i+1} S_{i+1}, with
    zeros in x; along a long axis (the gradient is a linrec)."""
    rng = np.random.default_rng(3)
    x0 = rng.uniform(0.6, 1.4, 400) * rng.choice([-1.0, 1.0], 400)
    x0[[7, 150, 151]] = 0.0
    before = np.concatenate([[1.0], np.cumprod(x0)[:-1]])
    tail = np.zeros(400)
    for i in range(399, -1, -1):
        tail[i] = 1.0 + (x0[i + 1] * tail[i + 1] if i < 399 else 0.0)
    grad = tt.grad(lambda x: tt.reduce_sum(tt.cumprod(x)))
    np.testing.assert_allclose(grad(tt.constant(x0)).numpy(), before * tail, rtol=1e-10,
                               atol=1e-12)


def _spd(rng, shape):
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _routines(rng, batch, n=4):
    a = rng.standard_normal(batch + (n, n)) + 3 * np.eye(n)
    b = rng.standard_normal(batch + (n, 2))
    s = _spd(rng, batch + (n, n))
    low = np.linalg.cholesky(s)
    return {
        "cholesky": (lapack.cholesky, (s,), {}),
        "qr": (lapack.qr, (a,), {}), "eigh": (lapack.eigh, (s,), {}),
        "svd": (lapack.svd, (a,), {}), "spd_inverse": (lapack.spd_inverse, (s,), {}),
        "logdet": (lapack.logdet, (s,), {}),
        "cholesky_grad": (lapack.cholesky_grad, (low, a), {}),
        "trisolve": (lapack.trisolve, (a, b), {"lower": True, "adjoint": False}),
        "trisolve_t": (lapack.trisolve, (a, b), {"lower": False, "adjoint": True}),
        "trimul": (lapack.trimul, (a, b), {"lower": True, "adjoint": True})}


def test_matrix_routines_do_not_loop_over_the_batch():
    """A batch of 64 small matrices runs the same Python lines as a batch of 2 (one
    vectorised call), and each matrix's result is the one it has alone."""
    rng = np.random.default_rng(4)
    few, many = _routines(rng, (2,)), _routines(rng, (8, 8))
    for name, (fn, args, kw) in many.items():
        f2, args2, kw2 = few[name]
        steps = [python_steps((lapack, lapack_batch), fn, *x, **kw) for x in (args2, args)]
        assert steps[1] == steps[0], (name, steps)
        got = fn(*args, **kw)
        for i in [(0, 0), (3, 5), (7, 7)]:
            alone = fn(*[x[i][None] for x in args], **kw)[0]
            np.testing.assert_allclose(got[i], alone, rtol=1e-10, atol=1e-10, err_msg=name)


def test_matrix_routines_keep_per_matrix_failures():
    """One matrix that is not positive definite (or a singular triangle) in a batch gives
    NaN (inf) for that matrix only, as it does alone."""
    rng = np.random.default_rng(5)
    s = _spd(rng, (3, 4, 4))
    s[1] = -s[1]
    for fn in (lapack.cholesky, lapack.spd_inverse, lapack.logdet):
        out = fn(s)
        assert np.isnan(out[1]).all() and np.isfinite(out[[0, 2]]).all(), fn.__name__
        np.testing.assert_allclose(out[2], fn(s[2:])[0], rtol=1e-12)
    a = rng.standard_normal((3, 4, 4)) + 3 * np.eye(4)
    a[2, 1, 1] = 0.0
    b = rng.standard_normal((3, 4, 2))
    with np.errstate(all="ignore"):
        out = lapack.trisolve(a, b, lower=True, adjoint=False)
        alone = [lapack.trisolve(a[i:i + 1], b[i:i + 1], lower=True, adjoint=False)[0]
                 for i in range(3)]
    np.testing.assert_allclose(out, np.stack(alone), rtol=1e-12)
    assert not np.isfinite(out[2]).all() and np.isfinite(out[:2]).all()


@pytest.mark.slow
def test_vmapped_linear_algebra_gradients_match_per_example_gradients(tt_backend):
    """vmap(grad) of Cholesky, triangular solves, logdet, QR, eigh and SVD losses over a
    batch of matrices: each row is that example's own gradient (checked against finite
    differences for the first)."""
    def loss(a):
        s = tt.matmul(a, tt.transpose(a)) + 4.0 * tt.eye(4, dtype=tt.float64)
        low = tt.linalg.cholesky(s)
        x = tt.linalg.triangular_solve(low, a[:, :2])
        q, r = tt.linalg.qr(a)
        w, _ = tt.linalg.eigh(s)
        sv = tt.linalg.svd(a, compute_uv=False)
        return (tt.reduce_sum(x ** 2) + tt.linalg.logdet(s) + tt.reduce_sum(r ** 2) +
                tt.reduce_sum(tt.sin(q)) + tt.reduce_sum(w ** 2) * 0.01 + tt.reduce_sum(sv))

    rng = np.random.default_rng(6)
    a = rng.standard_normal((5, 4, 4)) + 2.0 * np.eye(4)
    got = tt.vmap(tt.grad(loss))(tt.constant(a)).numpy()
    # the per-example gradients on the interpreter, the reference tier (in the compiled
    # tier, compiling them would double the test's compile time for no check of vmap)
    saved = runtime.config.jit_threshold
    runtime.config.update(jit_threshold=1 << 30)
    try:
        want = [tt.grad(loss)(tt.constant(a[i])).numpy() for i in range(5)]
    finally:
        runtime.config.update(jit_threshold=saved)
    for i in range(5):
        np.testing.assert_allclose(got[i], want[i], rtol=1e-9, atol=1e-9)
    # the first row against central differences of the loss itself (eager, no program
    # beyond the one above to compile)
    (fd,) = tt.testing.central_differences(lambda xs: float(loss(tt.constant(xs[0]))),
                                           [a[0]])
    np.testing.assert_allclose(got[0], fd, rtol=1e-5, atol=1e-7)


def test_last_write_marks_every_row_at_once():
    """tensor_scatter_nd_update's winner mask: the same Python lines for 2 rows and 512,
    and the last occurrence of each index value per row."""
    rng = np.random.default_rng(7)
    rows = {r: rng.integers(-2, 5, (r, 9)).astype(np.int32) for r in (2, 512)}
    steps = [python_steps(scans, scans._last_write_impl, x) for x in rows.values()]
    assert steps[0] == steps[1], steps
    for x in list(rows.values()) + [np.array([3, 1, 3, 3]), np.zeros((2, 0), np.int64)]:
        got = scans._last_write_impl(x)
        want = np.zeros(x.shape, bool)
        for r in np.ndindex(x.shape[:-1]):
            for j, v in enumerate(x[r]):
                want[r + (j,)] = v not in x[r][j + 1:]
        np.testing.assert_array_equal(got, want)


def test_vmapped_dropout_and_scatter_update_graphs_do_not_grow_with_the_batch(tt_backend):
    """A batch of seeds draws every example's dropout mask in one node (each the mask its
    seed gives alone); vmapped tensor_scatter_nd_update gives each example's result."""
    def drop(x, s):
        return tt.nn.dropout(x, 0.5, seed=s)

    def upd(x, i):
        return tt.tensor_scatter_nd_update(x, i, tt.constant([5.0, 6.0, 7.0]))

    fd, fu, sizes = tt.function(tt.vmap(drop)), tt.function(tt.vmap(upd)), []
    for b in (3, 24):
        x = np.arange(b * 6, dtype=np.float64).reshape(b, 6) + 1.0
        seeds = np.arange(b, dtype=np.int64) * 7 - 5
        got = fd(tt.constant(x), tt.constant(seeds)).numpy()
        for k in (0, b - 1):
            alone = drop(tt.constant(x[k]), tt.constant(seeds[k])).numpy()
            np.testing.assert_array_equal(got[k], alone)
        assert set(np.unique(got / x)) <= {0.0, 2.0}
        idx = np.random.default_rng(b).integers(0, 6, (b, 3, 1)).astype(np.int32)
        want = x.copy()
        for k in range(b):
            for j, v in zip(idx[k, :, 0], [5.0, 6.0, 7.0]):
                want[k, j] = v
        np.testing.assert_array_equal(fu(tt.constant(x), tt.constant(idx)).numpy(), want)
        sizes.append([len(list(f._entries.values())[-1].graph.nodes) for f in (fd, fu)])
    assert sizes[0] == sizes[1], sizes


def test_reduce_prod_gradient_graph_does_not_grow_and_is_exact_at_zeros(tt_backend):
    """reduce_prod's gradient is the product of the others as exclusive prefix and suffix
    cumprods: the same graph at n = 8 and 64 (first and second order), exact with zeros."""
    def f(x):
        return tt.reduce_prod(x, axis=1)

    def second(x):
        return tt.reduce_sum(tt.grad(lambda z: tt.reduce_sum(f(z)))(x) * tt.sin(x))

    g, h, sizes = tt.function(tt.grad(lambda x: tt.reduce_sum(f(x)))), \
        tt.function(tt.grad(second)), []
    rng = np.random.default_rng(8)
    for n in (8, 64):
        x0 = rng.uniform(0.8, 1.25, (2, n)) * rng.choice([-1.0, 1.0], (2, n))
        x0[0, 3] = 0.0
        x0[1, [2, 5]] = 0.0
        want = np.stack([[np.prod(np.delete(row, i)) for i in range(n)] for row in x0])
        np.testing.assert_allclose(g(tt.constant(x0)).numpy(), want, rtol=1e-12, atol=0)
        if n == 8:
            tt.testing.check_gradients(second, [tt.constant(x0 + 0.1)])
        h(tt.constant(x0))
        sizes.append([len(list(fn._entries.values())[-1].graph.nodes) for fn in (g, h)])
    assert sizes[0] == sizes[1], sizes


def test_vmapped_conv2d_with_per_example_filters_does_linear_work(tt_backend):
    """Per-example filters (and per-example filter gradients) are each example's windows
    times its own filters: the largest intermediate grows with B, not B^2, and values and
    gradients match per-example convolutions."""
    def conv(w, x):
        return tt.nn.conv2d(x, w, 2, "SAME")

    def loss(w, x, y):
        return tt.reduce_sum((tt.nn.conv2d(x[None], w, 1, "VALID") - y) ** 2)

    rng = np.random.default_rng(9)
    fc = tt.function(tt.vmap(conv))
    fg = tt.function(tt.vmap(tt.grad(loss), in_axes=(None, 0, 0)))
    w0 = rng.standard_normal((3, 2, 3, 4))
    largest = []
    for b in (2, 8):
        ws, xs = rng.standard_normal((b, 3, 2, 3, 4)), rng.standard_normal((b, 2, 7, 6, 3))
        ys = rng.standard_normal((b, 1, 5, 5, 4))
        got = fc(tt.constant(ws), tt.constant(xs)).numpy()
        grads = fg(tt.constant(w0), tt.constant(xs[:, 0]), tt.constant(ys)).numpy()
        for k in (0, b - 1):
            np.testing.assert_allclose(got[k], conv(tt.constant(ws[k]), tt.constant(xs[k])),
                                       rtol=1e-12, atol=1e-12)
            alone = tt.grad(loss)(tt.constant(w0), tt.constant(xs[k, 0]), tt.constant(ys[k]))
            np.testing.assert_allclose(grads[k], alone.numpy(), rtol=1e-12, atol=1e-12)
        largest.append(max(n.size for f in (fc, fg)
                           for n in list(f._entries.values())[-1].graph.nodes))
    assert largest[1] <= 4 * largest[0], largest          # B x 4 -> at most 4 x the size
    wk = tt.constant(rng.standard_normal((2, 3, 2, 3, 4)))
    tt.testing.check_gradients(lambda w, x: tt.reduce_sum(tt.sin(fc(w, x))),
                               [wk, tt.constant(xs[:2])])

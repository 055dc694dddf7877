"""Testing helpers: gradient checks against finite differences, tensor-aware allclose.

``check_gradients(fn, args)`` differentiates ``fn`` with ``tt.GradientTape`` (nested tapes
for ``order=2``) and compares with central differences of ``fn`` itself; the pytest
fixtures live in ``tracer.testing.plugin``.
"""
import numpy as np

from tracer.creation import constant
from tracer.ops import cast, reduce_sum
from tracer.tape import GradientTape

_F64 = np.dtype("float64")
# (eps, rtol, atol) by the precision fn computes in
_DEFAULTS = {np.dtype("float64"): (1e-6, 1e-5, 1e-7), np.dtype("float32"): (1e-2, 2e-2, 2e-3)}


def _as_array(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def assert_allclose(actual, expected, rtol=None, atol=None, err_msg=""):
    """``numpy.testing.assert_allclose`` for tensors, arrays and numbers (NaN equals NaN).

    Defaults: rtol 1e-7 and atol 1e-12 for float64, rtol 1e-5 and atol 1e-6 when either
    side is float32.
    """
    a, e = _as_array(actual), _as_array(expected)
    single = np.dtype("float32") in (a.dtype, e.dtype)
    rtol = (1e-5 if single else 1e-7) if rtol is None else rtol
    atol = (1e-6 if single else 1e-12) if atol is None else atol
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=err_msg)


def check_gradients(fn, args, order=1, eps=None, rtol=None, atol=None):
    """Check the derivatives of ``fn`` at ``args`` against central finite differences.

    ``args`` is a list/tuple of arrays, tensors or numbers (cast to float64). A non-scalar
    output is projected on a fixed random cotangent. ``order=1`` checks the gradient;
    ``order=2`` also checks Hessian-vector products (the full Hessian for inputs of at
    most 8 elements) from nested tapes. Raises ``AssertionError`` naming the worst element
    with its own values: a Jacobian entry d out[k] / d x[a], or a second derivative
    d2 out[k] / d x[a] d z[b] (tape against central differences of the tape's first
    derivatives), never a projection of them.

    >>> import tracer as tt
    >>> tt.testing.check_gradients(lambda x: tt.sin(x) * x, [np.linspace(-1, 1, 4)], order=2)
    """
    if order not in (1, 2):
        raise ValueError(f"check_gradients: order must be 1 or 2, got {order!r}")
    if not isinstance(args, (list, tuple)):
        raise TypeError(f"check_gradients: args must be a list or tuple of arrays, got "
                        f"{type(args).__name__}")
    xs = [np.array(_as_array(a), dtype=_F64) for a in args]
    y = _as_array(_call(fn, xs))
    if y.dtype.kind != "f":
        raise TypeError(f"check_gradients: fn returned dtype {y.dtype}; it must return a "
                        f"float tensor to be differentiated")
    d_eps, d_rtol, d_atol = _DEFAULTS.get(y.dtype, _DEFAULTS[np.dtype("float32")])
    eps = d_eps if eps is None else eps
    tol = (d_rtol if rtol is None else rtol, d_atol if atol is None else atol)
    rng = np.random.default_rng(0)
    # a scalar output is checked as it is, so a failure reports its own gradient
    w = np.ones(()) if y.shape == () else \
        rng.uniform(0.5, 1.5, y.shape) * rng.choice([-1.0, 1.0], y.shape)

    def scalar(values):
        return float(np.sum(w * _as_array(_call(fn, values)).astype(_F64)))

    grads = _gradient(fn, xs, w)
    for i, (g, fd) in enumerate(zip(grads, central_differences(scalar, xs, eps=eps))):
        if y.shape != () and _worst(g, fd, tol) is not None:
            _report_jacobian(fn, xs, i, eps, tol)
        _compare(g, fd, tol, f"gradient of argument {i}")
    if order == 2:
        for u in _directions(xs, rng):
            hvp = _hvp(fn, xs, w, u)
            plus = _gradient(fn, [x + eps * d for x, d in zip(xs, u)], w)
            minus = _gradient(fn, [x - eps * d for x, d in zip(xs, u)], w)
            for i, (h, p, m) in enumerate(zip(hvp, plus, minus)):
                if _worst(h, (p - m) / (2 * eps), tol) is not None:
                    _report_second(fn, xs, i, eps, tol)
                _compare(h, (p - m) / (2 * eps), tol,
                         f"second derivative (Hessian times a direction) of argument {i}")


def _call(fn, values):
    return fn(*[constant(v) for v in values])


def _gradient(fn, xs, w):
    ts = [constant(x) for x in xs]
    with GradientTape() as tape:
        tape.watch(ts)
        y = fn(*ts)
    grads = tape.gradient(y, ts, output_gradients=constant(w, dtype=y.dtype))
    return [np.zeros(x.shape) if g is None else _as_array(g).astype(_F64)
            for g, x in zip(grads, xs)]


def _hvp(fn, xs, w, u):
    """d/dx <u, d<w, fn>/dx> with nested tapes: the Hessian of <w, fn> times u."""
    ts = [constant(x) for x in xs]
    with GradientTape() as outer:
        outer.watch(ts)
        with GradientTape() as inner:
            inner.watch(ts)
            y = fn(*ts)
        grads = inner.gradient(y, ts, output_gradients=constant(w, dtype=y.dtype))
        terms = [reduce_sum(g * constant(d, dtype=g.dtype))
                 for g, d in zip(grads, u) if g is not None]
        s = terms[0] if terms else None
        for t in terms[1:]:
            s = s + cast(t, s.dtype)
    hs = outer.gradient(s, ts) if s is not None else [None] * len(ts)
    return [np.zeros(x.shape) if h is None else _as_array(h).astype(_F64)
            for h, x in zip(hs, xs)]


def _directions(xs, rng):
    """Unit vectors over all arguments when there are few elements, else 3 random ones."""
    n = sum(x.size for x in xs)
    if n <= 8:
        flat = np.eye(n)
    else:
        flat = rng.standard_normal((3, n))
    out = []
    for row in flat:
        parts, k = [], 0
        for x in xs:
            parts.append(row[k:k + x.size].reshape(x.shape))
            k += x.size
        out.append(parts)
    return out


def central_differences(f, arrays, which=None, eps=1e-6):
    """d f / d arrays[k] for each k in ``which`` (default: all), by central differences in
    float64; ``f`` maps the list of arrays to a number (or an array: the result then has
    shape ``f``'s shape + the argument's, a Jacobian). Integer arrays are kept as they are
    (give ``which`` without them)."""
    base = [a.astype(_F64) if a.dtype.kind == "f" else a for a in map(np.asarray, arrays)]
    grads = []
    for k in (range(len(base)) if which is None else which):
        g = None
        for j in np.ndindex(base[k].shape):
            hi = [a.copy() for a in base]
            lo = [a.copy() for a in base]
            hi[k][j] += eps
            lo[k][j] -= eps
            d = (np.asarray(f(hi), _F64) - np.asarray(f(lo), _F64)) / (2 * eps)
            if g is None:
                g = np.zeros(d.shape + base[k].shape)
            g[(...,) + j] = d
        grads.append(np.zeros(base[k].shape) if g is None else g)
    return grads


def _worst(got, want, tol):
    """Index of the element most beyond tolerance, or None when all are within it."""
    rtol, atol = tol
    got = np.asarray(got, _F64)
    if got.shape != want.shape:
        return None
    excess = np.abs(got - want) - (atol + rtol * np.abs(want))
    excess = np.where(np.isnan(excess), np.inf, excess)
    if excess.size and excess.max() > 0:
        return np.unravel_index(np.argmax(excess), excess.shape)
    return None


def _report_jacobian(fn, xs, i, eps, tol):
    """Fail naming the worst entry d out[k] / d arg_i[j] itself, not a projection of it."""
    ts = [constant(x) for x in xs]
    with GradientTape() as tape:
        tape.watch(ts[i])
        y = fn(*ts)
    jac = tape.jacobian(y, ts[i])
    jac = np.zeros(y.shape + xs[i].shape) if jac is None else _as_array(jac).astype(_F64)
    fd = central_differences(lambda vals: _as_array(_call(fn, vals)), xs, which=[i],
                             eps=eps)[0]
    _compare(jac, fd, tol, f"Jacobian of the output (shape {y.shape}) with respect to "
                           f"argument {i} (index: output index + argument index)")


def _jacobian(fn, values, i):
    """d fn(values) / d values[i] from a tape: shape out.shape + values[i].shape."""
    ts = [constant(v) for v in values]
    with GradientTape() as tape:
        tape.watch(ts[i])
        y = fn(*ts)
    jac = tape.jacobian(y, ts[i])
    return np.zeros(y.shape + ts[i].shape) if jac is None else _as_array(jac).astype(_F64)


def _report_second(fn, xs, i, eps, tol):
    """Fail naming the worst second derivative d2 out[k] / d arg_i[a] d arg_j[b] itself:
    nested tapes against central differences of the tape's first derivatives."""
    for j in range(len(xs)):
        fd = central_differences(lambda vals: _jacobian(fn, vals, i), xs, which=[j],
                                 eps=eps)[0]
        out_shape = fd.shape[:fd.ndim - xs[i].ndim - xs[j].ndim]
        rows = [_second_row(fn, xs, i, j, k, out_shape) for k in np.ndindex(out_shape)]
        hess = np.stack(rows).reshape(fd.shape) if rows else np.zeros(fd.shape)
        _compare(hess, fd, tol, f"second derivative of the output (shape {out_shape}) with "
                                f"respect to argument {i} and argument {j} (index: output "
                                f"index + argument {i} index + argument {j} index)")


def _second_row(fn, xs, i, j, k, out_shape):
    """d2 out[k] / d arg_i d arg_j from nested tapes: shape xs[i].shape + xs[j].shape."""
    ts = [constant(x) for x in xs]
    seed = np.zeros(out_shape)
    seed[k] = 1.0
    with GradientTape() as outer:
        outer.watch(ts[j])
        with GradientTape() as inner:
            inner.watch(ts[i])
            y = fn(*ts)
        g = inner.gradient(y, ts[i], output_gradients=constant(seed, dtype=y.dtype))
    h = None if g is None else outer.jacobian(g, ts[j])
    return np.zeros(xs[i].shape + xs[j].shape) if h is None else _as_array(h).astype(_F64)


def _compare(got, want, tol, what):
    rtol, atol = tol
    got = np.asarray(got, _F64)
    if got.shape != want.shape:
        raise AssertionError(f"check_gradients: {what} has shape {got.shape}, expected "
                             f"{want.shape}")
    j = _worst(got, want, tol)
    if j is not None:
        raise AssertionError(
            f"check_gradients: {what} differs at index {tuple(int(k) for k in j)}: tape "
            f"{float(got[j])!r}, finite differences {float(want[j])!r} (tolerance "
            f"atol={atol:g} + "
            f"rtol={rtol:g} * |finite differences|)")


__all__ = ["assert_allclose", "central_differences", "check_gradients"]


def __dir__():
    """dir() lists the public names only (``__all__``), not the helpers imported here."""
    return list(__all__)

"""Property-based differential test: random graphs over public ops, at random and special
points, agree across every way tapejit can compute them.

For each generated program: the eager interpreter (the oracle) against compiled
``tt.function`` in float64 and float32 (forward values), tape gradients against
``tt.value_and_grad`` (compiled), nested tapes against ``tt.grad`` of ``tt.grad`` (second
order), and, for programs of smooth ops at ordinary points, float64 central differences.

Bounded for CI (a few deterministic examples). A longer, randomised run:
``TAPEJIT_DIFFERENTIAL_EXAMPLES=300 python -m pytest tests/test_differential.py``.
"""
import os
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import runtime  # noqa: E402
from runtime.executor import CompileWarning  # noqa: E402
import tracer as tt  # noqa: E402

EXAMPLES = int(os.environ.get("TAPEJIT_DIFFERENTIAL_EXAMPLES", "0"))
# CI: a few fixed (derandomised) programs, so a warm compile cache makes the run cheap
SETTINGS = settings(max_examples=EXAMPLES or 4, deadline=None, derandomize=not EXAMPLES,
                    suppress_health_check=list(HealthCheck), database=None)
MAX_STEPS = 6 if EXAMPLES else 4

SPECIAL = [0.0, -0.0, 1.0, -1.0, 100.0, -100.0, 1e4, -1e4, 1e-30, np.nan, np.inf, -np.inf]
ORDINARY = [0.3, -0.7, 1.3, -1.9, 0.55, 2.1]
ROWS = 2

# name -> (function, smooth everywhere on the reals)
UNARY = {
    "negative": (tt.negative, True), "abs": (tt.abs, False), "sign": (tt.sign, False),
    "square": (tt.square, True), "sqrt": (tt.sqrt, False), "rsqrt": (tt.rsqrt, False),
    "reciprocal": (tt.reciprocal, False), "exp": (tt.exp, True), "expm1": (tt.expm1, True),
    "log": (tt.log, False), "log1p": (tt.log1p, False), "sin": (tt.sin, True),
    "cos": (tt.cos, True), "tan": (tt.tan, False), "asin": (tt.asin, False),
    "acos": (tt.acos, False), "atan": (tt.atan, True), "sinh": (tt.sinh, True),
    "cosh": (tt.cosh, True), "tanh": (tt.tanh, True), "erf": (tt.erf, True),
    "sigmoid": (tt.sigmoid, True), "relu": (tt.nn.relu, False), "softplus": (tt.softplus, True),
    "log_sigmoid": (tt.nn.log_sigmoid, True), "floor": (tt.floor, False),
    "round": (tt.round, False), "identity": (tt.identity, True),
    "stop_gradient": (tt.stop_gradient, True),
    "softmax": (lambda x: tt.nn.softmax(x, axis=-1), True),
    "log_softmax": (lambda x: tt.nn.log_softmax(x, axis=-1), True),
}
BINARY = {
    "add": (tt.add, True), "subtract": (tt.subtract, True), "multiply": (tt.multiply, True),
    "divide": (tt.divide, False), "maximum": (tt.maximum, False),
    "minimum": (tt.minimum, False), "squared_difference": (tt.squared_difference, True),
    "pow": (lambda x, y: tt.pow(tt.abs(x) + 0.5, tt.clip_by_value(y, -2.0, 2.0)), False),
    "where": (lambda x, y: tt.where(x > y, x, y * 0.5), False),
}
REDUCE = {
    "reduce_sum": (tt.reduce_sum, True), "reduce_mean": (tt.reduce_mean, True),
    "reduce_max": (tt.reduce_max, False), "reduce_min": (tt.reduce_min, False),
    "reduce_prod": (tt.reduce_prod, True), "reduce_logsumexp": (tt.reduce_logsumexp, True),
}


@st.composite
def programs(draw):
    """(steps, x1, x2): steps are (kind, name, operand indices, axis) over values 0, 1..."""
    n = draw(st.integers(2, MAX_STEPS))
    steps = []
    for k in range(n):
        kind = draw(st.sampled_from(["unary", "binary", "reduce"]))
        table = {"unary": UNARY, "binary": BINARY, "reduce": REDUCE}[kind]
        name = draw(st.sampled_from(sorted(table)))
        ops = [draw(st.integers(0, k + 1)) for _ in range(2 if kind == "binary" else 1)]
        axis = draw(st.sampled_from([-1, 0, None])) if kind == "reduce" else None
        steps.append((kind, name, tuple(ops), axis))
    special = draw(st.booleans())
    pool = SPECIAL + ORDINARY if special else ORDINARY
    x1 = np.array(draw(st.lists(st.sampled_from(pool), min_size=4 * ROWS, max_size=4 * ROWS)))
    x2 = np.array(draw(st.lists(st.sampled_from(pool), min_size=4, max_size=4)))
    if draw(st.booleans()):
        x2[:] = x2[0]                               # all-equal: ties in max/min/softmax
    return steps, x1.reshape(ROWS, 4), x2


def smooth(steps):
    tables = {"unary": UNARY, "binary": BINARY, "reduce": REDUCE}
    return all(tables[kind][name][1] for kind, name, _, _ in steps)


def run(steps, x1, x2):
    """The program's loss and every intermediate value."""
    vals = [x1, x2]
    for kind, name, ops, axis in steps:
        args = [vals[i] for i in ops]
        if kind == "unary":
            out = UNARY[name][0](args[0])
        elif kind == "binary":
            out = BINARY[name][0](*args)
        else:
            out = REDUCE[name][0](args[0], axis=axis, keepdims=True)
        vals.append(out)
    weights = [0.5, -1.0, 2.0, 0.25]
    loss = tt.reduce_sum(vals[-1] * weights[len(vals) % 4])
    for v, w in zip(vals[2:-1], weights * 3):
        loss = loss + tt.reduce_sum(v) * w
    return loss, vals[2:]


def agree(got, want, rtol, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, what
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaN")
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want), err_msg=f"{what}: +inf")
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want), err_msg=f"{what}: -inf")
    fin = np.isfinite(want)
    scale = 1.0 + np.abs(want[fin])
    assert np.all(np.abs(got[fin] - want[fin]) <= rtol * scale), \
        f"{what}: compiled {got[fin]} vs interpreter {want[fin]}"


def tape_grads(steps, x1, x2, order):
    ts = [tt.constant(x1), tt.constant(x2)]
    with tt.GradientTape() as outer:
        outer.watch(ts)
        with tt.GradientTape() as inner:
            inner.watch(ts)
            loss, _ = run(steps, *ts)
        grads = inner.gradient(loss, ts, unconnected_gradients="zero")
        total = tt.reduce_sum(grads[0]) + tt.reduce_sum(grads[1])
    if order == 1:
        return [g.numpy() for g in grads]
    return [g.numpy() for g in outer.gradient(total, ts, unconnected_gradients="zero")]


def interpreted(fn):
    saved = runtime.config.jit_threshold
    runtime.config.jit_threshold = 1 << 30
    try:
        return fn()
    finally:
        runtime.config.jit_threshold = saved


@SETTINGS
@given(programs())
def test_differential_random_graphs(prog):
    steps, x1, x2 = prog
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # a graph the native tier cannot compile would silently run interpreted
        warnings.simplefilter("error", CompileWarning)
        _check(steps, x1, x2)


def _check(steps, x1, x2):
    loss, vals = run(steps, tt.constant(x1), tt.constant(x2))
    # forward: compiled float64 and float32 against the interpreter in the same dtype
    for dtype, rtol in (("float64", 1e-7), ("float32", 2e-3)):
        a, b = x1.astype(dtype), x2.astype(dtype)
        want = run(steps, tt.constant(a), tt.constant(b)) if dtype == "float32" else (loss, vals)
        got = tt.function(lambda p, q: run(steps, p, q))(a, b)
        for k, (g, w) in enumerate(zip([got[0]] + list(got[1]), [want[0]] + list(want[1]))):
            agree(g.numpy(), w.numpy(), rtol, f"{dtype} value {k} of {steps}")
    # first order: interpreted tapes, compiled tapes, compiled tt.value_and_grad
    want = interpreted(lambda: tape_grads(steps, x1, x2, 1))
    vg = tt.value_and_grad(lambda p, q: run(steps, p, q)[0], argnums=(0, 1))
    value, grads = vg(x1, x2)
    agree(value.numpy(), loss.numpy(), 1e-7, f"value_and_grad value of {steps}")
    for g, w in zip(grads, want):
        agree(g.numpy(), w, 1e-6, f"tt.grad vs tape gradient of {steps}")
    # second order: nested interpreted tapes against tt.grad of tt.grad (compiled)
    want2 = interpreted(lambda: tape_grads(steps, x1, x2, 2))
    g2 = tt.grad(lambda p, q: tt.reduce_sum(tt.grad(lambda u, v: run(steps, u, v)[0],
                                                    argnums=(0, 1))(p, q)[0]) +
                 tt.reduce_sum(tt.grad(lambda u, v: run(steps, u, v)[0],
                                       argnums=(0, 1))(p, q)[1]), argnums=(0, 1))(x1, x2)
    for g, w in zip(g2, want2):
        agree(g.numpy(), w, 1e-5, f"second order of {steps}")
    # float64 finite differences where every op is smooth and the point is ordinary
    if smooth(steps) and np.all(np.abs(np.concatenate([x1.ravel(), x2])) < 3):
        _finite_differences(steps, x1, x2, want)


def _finite_differences(steps, x1, x2, grads):
    xs, eps = [x1, x2], 1e-6
    for i, g in enumerate(grads):
        for j in np.ndindex(xs[i].shape):
            hi, lo = [x.copy() for x in xs], [x.copy() for x in xs]
            hi[i][j] += eps
            lo[i][j] -= eps
            fd = (float(run(steps, *map(tt.constant, hi))[0]) -
                  float(run(steps, *map(tt.constant, lo))[0])) / (2 * eps)
            if np.isfinite(fd) and abs(fd) < 1e6:
                assert abs(g[j] - fd) <= 1e-4 * (1 + abs(fd)), \
                    f"gradient {i}{j} of {steps}: tape {g[j]} vs finite differences {fd}"

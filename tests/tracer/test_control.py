"""tt.cond, tt.switch, tt.while_loop, tt.fori_loop, tt.scan: eager, traced and compiled
values against closed forms, gradients (first and second order) against float64 finite
differences, and the errors for bodies that change structure, shape or dtype."""
import numpy as np
import pytest

import tracer as tt
from tracer.testing import assert_allclose, check_gradients


def both(fn):
    """fn eager and fn under tt.function (one region node per construct)."""
    return [fn, tt.function(fn)]


# -- values -------------------------------------------------------------------------------------

@pytest.mark.parametrize("traced", [False, True])
def test_cond_picks_branch_and_switch_clamps(traced):
    def f(x):
        a = tt.cond(x > 0.0, lambda: x * 2.0, lambda: -x)
        b = tt.cond(x < 0.0, lambda y: y + 1.0, lambda y: y - 1.0, x)
        c = tt.switch(tt.cast(x, tt.int32), [lambda: x, lambda: x * 10.0, lambda: x * 100.0])
        return a, b, c
    f = tt.function(f) if traced else f
    for v, want in [(3.0, (6.0, 2.0, 300.0)), (-2.0, (2.0, -1.0, -2.0)),
                    (1.5, (3.0, 0.5, 15.0))]:
        got = f(tt.constant(v, tt.float64))
        assert_allclose(np.array([float(g) for g in got]), np.array(want))


@pytest.mark.parametrize("traced", [False, True])
def test_while_loop_pytree_carry(traced):
    def f(x):
        def body(i, s):
            return i + 1, {"a": s["a"] * 2.0, "b": (s["b"][0] + x,)}
        return tt.while_loop(lambda i, s: i < 5, body,
                             (tt.constant(0), {"a": x, "b": (tt.zeros((2,), tt.float64),)}))
    f = tt.function(f) if traced else f
    i, s = f(tt.constant(1.5, tt.float64))
    assert int(i) == 5
    assert_allclose(s["a"], 48.0)
    assert_allclose(s["b"][0], [7.5, 7.5])


def test_while_loop_maximum_iterations_and_single_var():
    for fn in both(lambda x: tt.while_loop(lambda v: v < 1e9, lambda v: v * 2.0, x,
                                           maximum_iterations=4)):
        assert_allclose(fn(tt.constant(1.0)), 16.0)


@pytest.mark.parametrize("traced", [False, True])
def test_fori_loop_static_and_traced_bounds(traced):
    def f(x, n):
        a = tt.fori_loop(0, 5, lambda i, v: v + tt.cast(i, tt.float64) * x, x)
        b = tt.fori_loop(1, n, lambda i, v: v * x, tt.constant(1.0, tt.float64))
        return a, b
    f = tt.function(f) if traced else f
    a, b = f(tt.constant(2.0, tt.float64), tt.constant(4))
    assert_allclose(a, 2.0 + 10 * 2.0)
    assert_allclose(b, 8.0)


@pytest.mark.parametrize("traced", [False, True])
def test_scan_pytrees_reverse_and_captures(traced):
    w = tt.constant([1.0, -1.0], tt.float64)          # captured by closure

    def f(c0, xs):
        def step(c, x):
            new = {"s": c["s"] + x["u"] * w, "n": c["n"] + 1}
            return new, (c["s"] * 2.0, x["v"])
        return tt.scan(step, {"s": c0, "n": tt.constant(0)}, {"u": xs, "v": xs * 3.0},
                       reverse=True)
    f = tt.function(f) if traced else f
    xs = np.arange(6.0).reshape(3, 2)
    (c, (ys, vs)) = f(tt.constant([0.5, 0.5], tt.float64), tt.constant(xs))
    s, want_ys = np.array([0.5, 0.5]), np.zeros((3, 2))
    for t in (2, 1, 0):
        want_ys[t] = s * 2.0
        s = s + xs[t] * np.array([1.0, -1.0])
    assert_allclose(c["s"], s)
    assert int(c["n"]) == 3
    assert_allclose(ys, want_ys)
    assert_allclose(vs, xs * 3.0)


@pytest.mark.parametrize("traced", [False, True])
def test_nested_scan_in_scan_and_cond_in_scan(traced):
    def f(xs):
        def outer(c, row):
            inner, _ = tt.scan(lambda a, x: (a + x * x, None), tt.constant(0.0, tt.float64),
                               row)
            c = tt.cond(inner > 10.0, lambda: c + inner, lambda: c - inner)
            return c, inner
        return tt.scan(outer, tt.constant(0.0, tt.float64), xs)
    f = tt.function(f) if traced else f
    xs = np.arange(6.0).reshape(3, 2)
    c, ys = f(tt.constant(xs))
    inner = (xs ** 2).sum(1)
    assert_allclose(ys, inner)
    assert_allclose(c, sum(v if v > 10 else -v for v in inner))


def test_trace_size_does_not_grow_with_trip_count():
    f = tt.function(lambda x, n: tt.fori_loop(0, n, lambda i, v: tt.sin(v) + x, x),
                    static_argnums=(1,))
    sizes = []
    for n in (3, 3000):
        f(tt.constant(0.5), n)
        entry = list(f._entries.values())[-1]
        sizes.append(len(entry.graph.nodes))
    assert sizes[0] == sizes[1]


# -- gradients ----------------------------------------------------------------------------

def _rnn(w, h0, xs):
    def step(h, x):
        h = tt.tanh(tt.reduce_sum(w * h[None, :], axis=1) + x)
        return h, tt.reduce_sum(h * h)
    h, ys = tt.scan(step, h0, xs)
    return tt.reduce_sum(h) + tt.reduce_sum(ys * ys)


def _rnn_args():
    rng = np.random.default_rng(1)
    return [rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3), rng.normal(size=(4, 3))]


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.slow
def test_scan_gradients_first_and_second_order(traced, tt_backend):
    fn = tt.function(_rnn) if traced else _rnn
    check_gradients(fn, _rnn_args(), order=2)


def test_scan_hvp_with_tt_grad():
    w, h0, xs = [tt.constant(a) for a in _rnn_args()]
    v = tt.constant(np.random.default_rng(2).normal(size=(3, 3)))
    g = tt.grad(_rnn)
    hvp = tt.function(lambda w: tt.grad(lambda w: tt.reduce_sum(g(w, h0, xs) * v))(w))(w)
    eps, fd = 1e-6, []
    fd = (g(w + eps * v, h0, xs).numpy() - g(w - eps * v, h0, xs).numpy()) / (2 * eps)
    assert_allclose(hvp, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.slow
def test_cond_and_switch_gradients(traced, tt_backend):
    def f(x, y):
        a = tt.cond(tt.reduce_sum(x) > 0.0, lambda u, v: tt.sin(u) * v, lambda u, v: u * u,
                    x, y)
        b = tt.switch(2, [lambda: x, lambda: y, lambda: x * y * y])
        return tt.reduce_sum(a * y) + tt.reduce_sum(b)
    fn = tt.function(f) if traced else f
    check_gradients(fn, [np.array([0.3, 0.9]), np.array([1.1, -0.4])], order=2)
    check_gradients(fn, [np.array([-0.3, -0.9]), np.array([1.1, -0.4])], order=2)


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.slow
def test_while_loop_gradient_value_dependent_trip_count(traced, tt_backend):
    def f(x, c):
        i, v = tt.while_loop(lambda i, v: tt.reduce_sum(v) < 20.0,
                             lambda i, v: (i + 1, v * 1.5 + c * tt.sin(v)),
                             (tt.constant(0), x))
        return tt.reduce_sum(v * v)
    fn = tt.function(f) if traced else f
    # trip counts differ between these starting points (3 and 6 iterations)
    check_gradients(fn, [np.array([2.0, 3.0]), np.array([0.5, 0.25])])
    check_gradients(fn, [np.array([0.4, 0.2]), np.array([0.5, 0.25])])


@pytest.mark.slow
def test_fori_loop_second_order_and_captured_gradient():
    def f(x, a):
        return tt.reduce_sum(tt.fori_loop(0, 6, lambda i, v: v + 0.1 * tt.sin(v * a), x))
    check_gradients(tt.function(f), [np.array([0.2, -0.7]), np.array([1.3, 0.4])], order=2)


def test_tape_around_eager_while_loop():
    x = tt.constant(1.0, tt.float64)
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.while_loop(lambda v: v < 10.0, lambda v: v * 3.0, x)
    assert_allclose(y, 27.0)
    assert_allclose(tape.gradient(y, x), 27.0)


def test_tape_inside_function_through_scan():
    @tt.function
    def f(x):
        with tt.GradientTape() as tape:
            tape.watch(x)
            c, _ = tt.scan(lambda c, t: (c * x, None), tt.ones_like(x), length=3)
        return tape.gradient(c, x)
    assert_allclose(f(tt.constant(2.0, tt.float64)), 12.0)


# -- errors ----------------------------------------------------------------------------------

def test_branch_mismatch_names_the_leaf():
    @tt.function
    def f(x):
        return tt.cond(x > 0.0, lambda: {"a": x, "b": x},
                       lambda: {"a": x, "b": tt.cast(x, tt.int32)})
    with pytest.raises(TypeError, match=r"\['b'\].*float32.*int32"):
        f(tt.constant(1.0))
    with pytest.raises(TypeError, match="structure"):
        tt.function(lambda x: tt.cond(x > 0.0, lambda: (x,), lambda: (x, x)))(tt.constant(1.0))


@pytest.mark.parametrize("traced", [False, True])
def test_body_must_keep_shapes_and_dtypes(traced):
    def bad_while(x):
        return tt.while_loop(lambda v: tt.reduce_sum(v) < 10.0, lambda v: tt.concat([v, v], 0),
                             x)

    def bad_scan(x):
        return tt.scan(lambda c, _: (tt.cast(c, tt.float64), None), x, length=2)
    for fn in (bad_while, bad_scan):
        fn = tt.function(fn) if traced else fn
        with pytest.raises(TypeError, match=r"leaf .*shape|leaf .*dtype"):
            fn(tt.ones((2,)))


def test_python_if_on_traced_value_points_at_control_flow():
    @tt.function
    def f(x):
        return x if x > 0 else -x
    with pytest.raises(tt.TracingError, match=r"tt\.cond.*tt\.while_loop"):
        f(tt.constant(1.0))
    assert_allclose(tt.function(lambda x: tt.cond(x > 0, lambda: x, lambda: -x))(
        tt.constant(-2.0)), 2.0)


def test_bad_arguments():
    with pytest.raises(TypeError, match="pred must be a scalar bool"):
        tt.cond(tt.constant([True, False]), lambda: 1.0, lambda: 2.0)
    with pytest.raises(ValueError, match="leading dimensions"):
        tt.scan(lambda c, x: (c, None), 0.0, [tt.zeros((2,)), tt.zeros((3,))])
    with pytest.raises(ValueError, match="give xs or length"):
        tt.scan(lambda c, x: (c, None), 0.0)
    with pytest.raises(TypeError, match="scalar bool"):
        tt.while_loop(lambda v: v, lambda v: v, tt.constant(1.0))


def test_explain_shows_loop_bodies_and_the_native_loop():
    f = tt.function(lambda h, xs: tt.scan(lambda c, x: (tt.tanh(c * 0.5 + x), c), h, xs)[0])
    text = f.explain(tt.constant(np.ones(3)), tt.constant(np.ones((5, 3))))
    graph, native = text.split("def run", 1)
    assert "scan(" in graph and "body: graph(2 inputs)" in graph and "tanh(" in graph
    assert "the scan loop, one native function" in native
    assert "for t in range(5)" in native and native.count("def kernel") >= 2


def test_native_loop_calls_its_kernels_with_the_types_a_direct_call_has(tt_fresh_cache):
    # extents passed as bare literals were Literal[int] to Numba: each body kernel was
    # compiled a second time for the loop (and for every shape), besides its direct calls
    from runtime import native
    f = tt.function(lambda h, xs: tt.scan(lambda c, x: (tt.sinh(c * 0.5 + x), c), h, xs)[0])
    xs, want = np.linspace(-1, 1, 12).reshape(4, 3), np.ones(3)
    for x in xs:
        want = np.sinh(want * 0.5 + x)
    for _ in range(2):                  # interpreted, then compiled (jit_threshold 2)
        assert_allclose(f(tt.constant(np.ones(3)), tt.constant(xs)), want, rtol=1e-13)
    sigs = [str(sig) for fn, _ in list(native._kernels.values()) for sig in fn.signatures]
    assert sigs and not any("Literal" in s for s in sigs), sigs


def test_native_scan_stores_array_rows_without_numba_broadcast_checks(tt_fresh_cache):
    # ys rows of rank 1 and 2 (reverse scan), stored element by element into the stacked
    # buffer: `ys[t] = row` compiled Numba's shape-error formatting (~3.5 s, strings; seen
    # here when no earlier test of the process compiled it)
    from numba.core import event
    names = []

    class Compiles(event.Listener):
        def on_start(self, ev):
            names.append(getattr(ev.data["dispatcher"].py_func, "__qualname__", ""))

        def on_end(self, ev):
            pass

    def step(c, x):
        return c * 0.5 + x, (c * x, tt.reshape(x * c, (2, 2)) + 1.0, tt.reduce_sum(c))
    f = tt.function(lambda h, xs: tt.scan(step, h, xs, reverse=True))
    h, xs = np.array([1.0, -2.0, 0.5, 3.0]), np.linspace(-1, 1, 12).reshape(3, 4)
    c, rows = h, []
    for x in xs[::-1]:
        rows.append((c * x, (x * c).reshape(2, 2) + 1.0, np.sum(c)))
        c = c * 0.5 + x
    want = [c] + [np.stack(r[::-1]) for r in zip(*rows)]
    listener = Compiles()
    event.register("numba:compile", listener)
    try:
        for _ in range(2):              # interpreted, then compiled (jit_threshold 2)
            carry, ys = f(tt.constant(h), tt.constant(xs))
            for got, w in zip([carry, *ys], want):
                assert_allclose(got, w, rtol=1e-14)
    finally:
        event.unregister("numba:compile", listener)
    native = f.explain(tt.constant(h), tt.constant(xs)).split("def run", 1)[1]
    assert "the scan loop, one native function" in native
    assert "yf0[t, k] = " in native and "yf1[t, k] = " in native and "ys2[t] = " in native
    assert "kernel" in names and not any("shape_context" in n for n in names), names


def test_tensorflow_and_jax_loop_keywords():
    # tf.while_loop's back_prop/parallel_iterations/swap_memory/name, lax.scan's and
    # lax.fori_loop's unroll, tf.cond's name
    x = tt.constant(1.5)

    def loop(v, back_prop):
        return tt.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * v),
                             (tt.constant(0), v), parallel_iterations=4, swap_memory=True,
                             back_prop=back_prop, name="w")[1]

    assert float(tt.grad(lambda v: loop(v, True))(x)) == pytest.approx(4 * 1.5 ** 3)
    assert float(tt.grad(lambda v: loop(v, False))(x)) == 0.0
    with pytest.raises(ValueError, match="shape_invariants must be None"):
        tt.while_loop(lambda a: a < 3.0, lambda a: a + 1.0, [x], shape_invariants=[None])
    c, ys = tt.scan(lambda c, a: (c + a, c), 0.0, tt.constant([1.0, 2.0]), unroll=2)
    assert float(c) == 3.0 and ys.numpy().tolist() == [0.0, 1.0]
    assert float(tt.fori_loop(0, 3, lambda i, v: v * 2.0, x, unroll=True)) == 12.0
    assert float(tt.cond(x > 0, lambda: x, lambda: -x, name="c")) == 1.5

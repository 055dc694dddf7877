"""tt.vmap of control flow (cond, switch, scan, fori_loop, while_loop), composed with grad
and jvp: every result equals a Python loop over the examples, in both tiers; forward mode
through while_loop."""
import numpy as np
import pytest

import tracer as tt
from test_while_higher_order import _interpreted

RNG = np.random.default_rng(5)


def _c(a):
    return tt.constant(np.asarray(a, np.float64))


def _looped(f, *args, in_axes=0):
    """f applied example by example (the reference), stacked."""
    axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
    size = next(np.shape(a)[0] for a, ax in zip(args, axes) if ax is not None)
    outs = [f(*[_c(a[i]) if ax is not None else _c(a) for a, ax in zip(args, axes)])
            for i in range(size)]
    if isinstance(outs[0], (tuple, list)):
        return [np.stack([np.asarray(o[k]) for o in outs]) for k in range(len(outs[0]))]
    return np.stack([np.asarray(o) for o in outs])


def _check(f, *args, in_axes=0, atol=1e-12):
    got = tt.vmap(f, in_axes=in_axes)(*[_c(a) for a in args])
    # the reference on the interpreter tier: compiling the per-example programs too
    # would only add compile time
    want = _interpreted(lambda: _looped(f, *args, in_axes=in_axes))
    if isinstance(got, (tuple, list)):
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), w, atol=atol, rtol=1e-12)
    else:
        np.testing.assert_allclose(np.asarray(got), want, atol=atol, rtol=1e-12)


def _branchy(x):
    return tt.cond(tt.reduce_sum(x) > 0.0, lambda: tt.sin(x) * 2.0, lambda: x * x - 1.0)


def test_vmap_cond_with_a_per_example_predicate(tt_backend):
    x = RNG.standard_normal((6, 3))
    _check(_branchy, x)
    _check(tt.grad(lambda v: tt.reduce_sum(_branchy(v))), x)


def test_vmap_cond_with_a_shared_predicate_keeps_one_branch(tt_backend):
    x, s = RNG.standard_normal((5, 3)), np.array(0.7)
    f = lambda v, k: tt.cond(k > 0.0, lambda: v * k, lambda: v - k)
    _check(f, x, s, in_axes=(0, None))
    text = tt.function(tt.vmap(f, in_axes=(0, None))).explain(_c(x), _c(s))
    assert "cond(" in text and "select(" not in text.split("def ")[0]


def test_vmap_switch_clamps_each_example_index(tt_backend):
    idx = np.array([-3, 0, 1, 2, 7], np.int32)
    x = RNG.standard_normal((5, 2))
    branches = [lambda v: v + 10.0, lambda v: v * 3.0, lambda v: tt.exp(v)]
    got = tt.vmap(lambda i, v: tt.switch(i, branches, v))(tt.constant(idx), _c(x))
    want = np.stack([[x[k] + 10, x[k] * 3, np.exp(x[k])][int(np.clip(i, 0, 2))]
                     for k, i in enumerate(idx)])
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def _cumulative(c0, xs):
    def step(c, x):
        c = c * 0.9 + tt.tanh(x) * c0
        return c, c * x
    return tt.scan(step, c0, xs)


@pytest.mark.slow
def test_vmap_scan_over_batched_xs_init_and_captures(tt_backend):
    c0, xs = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 7, 3))
    _check(_cumulative, c0, xs)
    _check(_cumulative, c0, xs[0], in_axes=(0, None))           # batched init only
    _check(_cumulative, c0[0], xs, in_axes=(None, 0))           # batched xs only
    loss = lambda c, x: tt.reduce_sum(_cumulative(c, x)[1])
    _check(tt.grad(loss, argnums=(0, 1)), c0, xs)


def test_vmap_fori_loop_static_and_traced_bounds(tt_backend):
    x = RNG.standard_normal((5, 2))
    body = lambda i, v: v * 0.5 + tt.cast(i, tt.float64)
    _check(lambda v: tt.fori_loop(0, 4, body, v), x)
    n = np.array([1, 3, 0, 2, 5], np.int32)
    got = tt.vmap(lambda k, v: tt.fori_loop(0, k, body, v))(tt.constant(n), _c(x))
    want = []
    for k, v in zip(n, x):
        for i in range(k):
            v = v * 0.5 + i
        want.append(v)
    np.testing.assert_allclose(got.numpy(), np.stack(want), rtol=1e-12)


def _newton_sqrt(a):
    # a per-example trip count: iterate until the residual is small
    return tt.while_loop(lambda y, k: tt.logical_and(tt.abs(y * y - a) > 1e-10, k < 50),
                         lambda y, k: ((y + a / y) * 0.5, k + 1),
                         (a * 0.0 + 1.0, tt.constant(0, tt.int32)))


@pytest.mark.slow
def test_vmap_while_loop_runs_each_example_to_its_own_end(tt_backend):
    a = np.array([0.25, 2.0, 9.0, 1.0, 1e4])
    y, k = tt.vmap(_newton_sqrt)(_c(a))
    alone = [_newton_sqrt(_c(v)) for v in a]
    np.testing.assert_array_equal(y.numpy(), [float(r[0]) for r in alone])
    np.testing.assert_allclose(y.numpy(), np.sqrt(a), rtol=1e-10)
    want_k = [int(r[1]) for r in alone]
    assert k.numpy().tolist() == want_k and len(set(want_k)) > 2


def test_vmap_while_loop_with_a_shared_trip_count(tt_backend):
    x = RNG.standard_normal((4, 3))
    f = lambda v: tt.while_loop(lambda i, w: i < 3, lambda i, w: (i + 1, tt.sin(w) + w),
                                (tt.constant(0, tt.int32), v))[1]
    _check(f, x)
    _check(tt.grad(lambda v: tt.reduce_sum(f(v))), x)


def test_vmap_of_while_loop_gradient_with_per_example_trip_counts(tt_backend):
    a = np.array([0.5, 3.0, 40.0])
    g = tt.vmap(tt.grad(lambda v: _newton_sqrt(v)[0]))(_c(a))
    np.testing.assert_allclose(g.numpy(), 0.5 / np.sqrt(a), rtol=1e-8)
    # and the other order: the gradient of a vmapped while_loop
    g2 = tt.grad(lambda v: tt.reduce_sum(tt.vmap(_newton_sqrt)(v)[0]))(_c(a))
    np.testing.assert_allclose(g2.numpy(), 0.5 / np.sqrt(a), rtol=1e-8)


@pytest.mark.slow
def test_vmap_composes_with_jvp_through_scan_and_cond(tt_backend):
    c0, xs = RNG.standard_normal((3, 2)), RNG.standard_normal((3, 5, 2))
    f = lambda c, x: tt.reduce_sum(_cumulative(c, x)[1]) + tt.reduce_sum(_branchy(c))
    tangent = RNG.standard_normal((3, 2))
    _, jv = tt.vmap(lambda c, x, t: tt.jvp(lambda u: f(u, x), (c,), (t,)))(
        _c(c0), _c(xs), _c(tangent))
    g = tt.vmap(tt.grad(f))(_c(c0), _c(xs)).numpy()
    np.testing.assert_allclose(jv.numpy(), np.sum(g * tangent, axis=1), rtol=1e-10)


def test_nested_vmap_of_scan(tt_backend):
    c0, xs = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 3, 6, 4))
    got = tt.vmap(tt.vmap(_cumulative))(_c(c0), _c(xs))
    for i in range(2):
        for j in range(3):
            want = _cumulative(_c(c0[i, j]), _c(xs[i, j]))
            np.testing.assert_allclose(got[0].numpy()[i, j], want[0].numpy(), rtol=1e-12)
            np.testing.assert_allclose(got[1].numpy()[i, j], want[1].numpy(), rtol=1e-12)


def test_vmap_scan_batched_carry_keeps_shapes_in_errors():
    # the per-example contract is unchanged under vmap: a body that changes the carry's
    # shape is reported with the per-example shapes
    with pytest.raises(TypeError, match="carry"):
        tt.vmap(lambda c: tt.scan(lambda k, x: (tt.stack([k, k]), x), c,
                                  tt.constant(np.ones(3))))(_c(np.ones((2,))))


def _scaled_newton(a, c):
    return tt.while_loop(
        lambda y, k: tt.logical_and(tt.reduce_max(tt.abs(y * y - a * c)) > 1e-12, k < 60),
        lambda y, k: ((y + a * c / y) * 0.5, k + 1), (a * 0.0 + 1.0, tt.constant(0, tt.int32)))[0]


@pytest.mark.slow
def test_forward_mode_through_while_loop(tt_backend):
    a, c = _c([2.0, 9.0, 0.5]), _c(1.5)
    t = RNG.standard_normal(3)
    _, ja = tt.jvp(lambda v: _scaled_newton(v, c), (a,), (_c(t),))
    np.testing.assert_allclose(ja.numpy(), 0.5 * np.sqrt(1.5 / a.numpy()) * t, rtol=1e-9)
    _, jc = tt.jvp(lambda k: _scaled_newton(a, k), (c,), (_c(1.0),))
    np.testing.assert_allclose(jc.numpy(), 0.5 * np.sqrt(a.numpy() / 1.5), rtol=1e-9)
    np.testing.assert_allclose(tt.jacfwd(lambda v: _scaled_newton(v, c))(a).numpy(),
                               tt.jacrev(lambda v: _scaled_newton(v, c))(a).numpy(), rtol=1e-12)


def test_vmap_of_second_order_through_while_loop(tt_backend):
    a, c = _c([2.0, 9.0, 0.5]), _c(1.5)
    want = -0.25 * np.sqrt(1.5) * a.numpy() ** -1.5           # d2/da2 sqrt(a c)
    # per example: each runs its own number of Newton steps
    d2 = tt.vmap(tt.grad(tt.grad(lambda v: _scaled_newton(v, c))))(a)
    np.testing.assert_allclose(d2.numpy(), want, rtol=1e-9)

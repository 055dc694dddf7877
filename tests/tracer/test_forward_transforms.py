"""tt.jvp, linearize, vjp, jacfwd, jacrev, checkpoint: closed forms, column-by-column
Jacobians, composition to higher order, errors."""
import numpy as np
import pytest

import tracer as tt
from test_while_higher_order import _interpreted

RNG = np.random.default_rng(5)


def _c(a):
    return tt.constant(np.asarray(a, np.float64))


def _rosen(x):
    return tt.reduce_sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _rosen_hessian(x):
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i, i + 1] = h[i + 1, i] = -400 * x[i]
        h[i + 1, i + 1] += 200
    return h


def test_jvp_closed_form_and_pytrees(tt_backend):
    x, t = RNG.standard_normal(4), RNG.standard_normal(4)
    y, dy = tt.jvp(lambda a: tt.exp(a) * a, (_c(x),), (_c(t),))
    np.testing.assert_allclose(y.numpy(), np.exp(x) * x)
    np.testing.assert_allclose(dy.numpy(), (np.exp(x) * (1 + x)) * t, atol=1e-12)
    f = lambda p: {"s": p["a"] * p["b"], "d": p["a"] - 1.0}
    out, tan = tt.jvp(f, ({"a": _c(2.0), "b": _c(3.0)},), ({"a": _c(1.0), "b": _c(0.5)},))
    assert float(out["s"]) == 6.0 and float(tan["s"]) == 3.0 + 1.0 and float(tan["d"]) == 1.0


def test_hessian_vector_products_forward_over_reverse(tt_backend):
    x, v = RNG.uniform(-1, 1, 6), RNG.standard_normal(6)
    hvp = tt.function(lambda x, v: tt.jvp(tt.grad(_rosen), (x,), (v,))[1])
    np.testing.assert_allclose(hvp(_c(x), _c(v)).numpy(), _rosen_hessian(x) @ v, rtol=1e-10)
    # and reverse-over-forward: the gradient of a directional derivative
    rof = tt.grad(lambda x, v: tt.jvp(_rosen, (x,), (v,))[1])
    np.testing.assert_allclose(rof(_c(x), _c(v)).numpy(), _rosen_hessian(x) @ v, rtol=1e-10)


def test_jvp_under_a_tape_and_third_order(tt_backend):
    x = _c(0.7)
    with tt.GradientTape() as tape:
        tape.watch(x)
        _, d = tt.jvp(tt.sin, (x,), (_c(1.0),))        # cos x
    np.testing.assert_allclose(tape.gradient(d, x).numpy(), -np.sin(0.7), atol=1e-14)
    d3 = tt.jvp(lambda z: tt.jvp(lambda w: tt.jvp(tt.sin, (w,), (_c(1.0),))[1], (z,),
                                 (_c(1.0),))[1], (x,), (_c(1.0),))[1]
    np.testing.assert_allclose(d3.numpy(), -np.cos(0.7), atol=1e-14)


def test_jvp_argument_errors():
    with pytest.raises(TypeError, match="tuples or lists"):
        tt.jvp(tt.sin, _c(1.0), _c(1.0))
    with pytest.raises(ValueError, match="shape"):
        tt.jvp(tt.sin, (_c([1.0, 2.0]),), (_c([1.0]),))
    with pytest.raises(TypeError, match="dtype"):
        tt.jvp(tt.sin, (_c(1.0),), (tt.constant(1.0),))          # float32 tangent


def test_linearize(tt_backend):
    x = RNG.standard_normal(3)
    traces = []

    def f(a):
        traces.append(1)
        return tt.tanh(a) * 2.0
    y, f_jvp = tt.linearize(f, _c(x))
    np.testing.assert_allclose(y.numpy(), 2 * np.tanh(x))
    for t in (np.ones(3), RNG.standard_normal(3)):
        np.testing.assert_allclose(f_jvp(_c(t)).numpy(), 2 * (1 - np.tanh(x) ** 2) * t,
                                   atol=1e-12)
    assert len(traces) == 1        # the tangent pass reuses the primal pass's residuals
    with pytest.raises(TypeError, match="tangents"):
        f_jvp(_c(x), _c(x))


def test_vjp_pytrees_and_has_aux(tt_backend):
    a, b = RNG.standard_normal(3), RNG.standard_normal(3)
    f = lambda p, s: ({"y": p[0] * p[1] * s}, "aux-text")
    out, vjp_fn, aux = tt.vjp(f, (_c(a), _c(b)), _c(2.0), has_aux=True)
    assert aux == "aux-text"
    np.testing.assert_allclose(out["y"].numpy(), 2 * a * b)
    ct = RNG.standard_normal(3)
    (ga, gb), gs = vjp_fn({"y": _c(ct)})
    np.testing.assert_allclose(ga.numpy(), 2 * b * ct)
    np.testing.assert_allclose(gb.numpy(), 2 * a * ct)
    np.testing.assert_allclose(gs.numpy(), np.sum(a * b * ct))
    _, g = tt.vjp(lambda x: x * 0.0 + 1.0, _c(a))
    with pytest.raises(ValueError, match="shape"):
        g(_c(np.ones(2)))


def test_jacfwd_and_jacrev_match_column_by_column(tt_backend):
    W = _c(RNG.standard_normal((5, 3)))
    x = _c(RNG.standard_normal(3))
    f = lambda x, s: {"t": tt.tanh(tt.tensordot(W, x, 1)) * s, "q": tt.reduce_sum(x ** 3) * s}
    s = _c(1.5)
    cols = tt.jacobian(f, argnums=(0, 1))(x, s)
    for jac in (tt.jacfwd, tt.jacrev):
        got = jac(f, argnums=(0, 1))(x, s)
        for k in ("t", "q"):
            for j in range(2):
                assert got[k][j].shape == cols[k][j].shape
                np.testing.assert_allclose(got[k][j].numpy(), cols[k][j].numpy(),
                                           atol=1e-12)


def test_jacfwd_of_jacrev_is_the_hessian(tt_backend):
    x = RNG.uniform(-1, 1, 5)
    h = tt.jacfwd(tt.jacrev(_rosen))(_c(x))
    np.testing.assert_allclose(h.numpy(), _rosen_hessian(x), rtol=1e-10)
    m = RNG.standard_normal((2, 3))
    j = tt.jacrev(lambda z: z * 2.0)(_c(m))
    assert j.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(j.numpy().reshape(6, 6), 2 * np.eye(6))


@pytest.mark.slow
def test_checkpoint_same_values_and_gradients_any_order(tt_backend):
    W = [_c(RNG.standard_normal((4, 4)) * 0.5) for _ in range(3)]
    layer = tt.checkpoint(lambda h, w: tt.tanh(h @ w) + 0.1 * h)

    def net(x, ws, ck):
        for w in ws:
            x = layer(x, w) if ck else tt.tanh(x @ w) + 0.1 * x
        return tt.reduce_sum(x * x)
    x = _c(RNG.standard_normal((2, 4)))
    for argnums in (0, 1):
        got = tt.grad(net, argnums)(x, W, True)
        want = _interpreted(tt.grad(net, argnums), x, W, False)
        for g, w in zip(got if argnums else [got], want if argnums else [want]):
            np.testing.assert_allclose(g.numpy(), w.numpy(), atol=1e-12)
    h1 = tt.hessian(lambda z: net(z, W, True))(x)
    h0 = _interpreted(tt.hessian(lambda z: net(z, W, False)), x)
    np.testing.assert_allclose(h1.numpy(), h0.numpy(), atol=1e-11)
    assert tt.remat is tt.checkpoint
    np.testing.assert_allclose(net(x, W, True).numpy(), net(x, W, False).numpy())


def test_checkpoint_recomputes_in_the_backward_pass():
    f = tt.checkpoint(lambda h: tt.sin(tt.sin(h)))
    g = tt.value_and_grad(lambda x: tt.reduce_sum(f(x)))
    graph = g.explain(_c(np.ones(3))).split("def ")[0]
    assert "remat(" in graph
    # forward: sin(sin(x)); backward: sin(remat(x, dy)) recomputed, not the stored sin(x)
    assert graph.count(" = sin(") == 3


def test_checkpoint_policies_same_values_and_gradients(tt_backend):
    w = _c(RNG.standard_normal((4, 4)) * 0.5)
    body = lambda h: tt.sin(tt.tanh(h @ w) @ w) + 0.1 * h       # noqa: E731
    x = _c(RNG.standard_normal((3, 4)))
    want = _interpreted(tt.grad(lambda z: tt.reduce_sum(body(z) ** 2)), x).numpy()
    cp = tt.checkpoint_policies
    for pol in (cp.everything_saveable, cp.nothing_saveable, cp.dots_saveable,
                cp.dots_with_no_batch_dims_saveable, lambda prim, *a, **k: prim.name == "tanh"):
        layer = tt.checkpoint(body, policy=pol)
        got = tt.grad(lambda z: tt.reduce_sum(layer(z) ** 2))(x)
        np.testing.assert_allclose(got.numpy(), want, atol=1e-12)
    layer = tt.checkpoint(body, policy=cp.dots_saveable)
    h1 = tt.hessian(lambda z: tt.reduce_sum(layer(z) ** 2))(x)
    h0 = _interpreted(tt.hessian(lambda z: tt.reduce_sum(body(z) ** 2)), x)
    np.testing.assert_allclose(h1.numpy(), h0.numpy(), atol=1e-11)


def test_checkpoint_dots_saveable_keeps_the_product():
    f = tt.checkpoint(lambda h, w: tt.sin(tt.sin(h @ w)),
                      policy=tt.checkpoint_policies.checkpoint_dots)
    w = _c(RNG.standard_normal((4, 4)))
    graph = tt.value_and_grad(lambda x: tt.reduce_sum(f(x, w))).explain(
        _c(np.ones((3, 4)))).split("def ")[0]
    # the forward product is kept (not recomputed), sin(h @ w) is recomputed
    assert graph.count(" = matmul(") == 2 and graph.count(" = sin(") == 3
    with pytest.raises(TypeError, match="dots_saveable"):
        tt.checkpoint(lambda h: h, policy="dots")


def test_has_aux_on_jvp_and_the_jacobians():
    # JAX: jvp(..., has_aux=True) -> (out, tangent, aux); jacfwd/jacrev/hessian(has_aux)
    # -> (jacobian, aux)
    def f(x):
        return tt.sin(x) * 2.0, {"x2": x * x}

    x = tt.constant([0.5, 1.5], dtype=tt.float64)
    out, tan, aux = tt.jvp(f, (x,), (tt.ones_like(x),), has_aux=True)
    np.testing.assert_allclose(tan.numpy(), 2 * np.cos([0.5, 1.5]))
    np.testing.assert_allclose(aux["x2"].numpy(), [0.25, 2.25])
    for jac in (tt.jacfwd, tt.jacrev, tt.jacobian):
        j, a = jac(f, has_aux=True)(x)
        np.testing.assert_allclose(j.numpy(), np.diag(2 * np.cos([0.5, 1.5])))
        np.testing.assert_allclose(a["x2"].numpy(), [0.25, 2.25])
    h, a = tt.hessian(lambda v: (tt.reduce_sum(v ** 3), v * 2), has_aux=True)(x)
    np.testing.assert_allclose(h.numpy(), np.diag([3.0, 9.0]))
    np.testing.assert_allclose(a.numpy(), [1.0, 3.0])
    with pytest.raises(TypeError, match="has_aux=True"):
        tt.jacfwd(lambda v: v, has_aux=True)(x)

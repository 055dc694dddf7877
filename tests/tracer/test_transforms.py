"""tt.grad, value_and_grad, jacobian, hessian: values, composition, caching, errors."""
import numpy as np
import pytest

import tracer as tt


def _sin2(x):
    return tt.sin(x) ** 2


def _central(fn, x):
    """d fn / d x by central differences (tt.testing's one implementation)."""
    return tt.testing.central_differences(lambda a: fn(a[0]), [np.asarray(x, np.float64)])[0]


def test_grad_derivatives_of_sin_squared_on_grid(tt_backend):
    xs = np.linspace(-3, 3, 13)
    d1 = tt.grad(_sin2)
    d2 = tt.grad(d1)
    d3 = tt.grad(d2)
    for x in xs:
        t = tt.constant(x, dtype=tt.float64)
        np.testing.assert_allclose(d1(t).numpy(), np.sin(2 * x), atol=1e-12)
        np.testing.assert_allclose(d2(t).numpy(), 2 * np.cos(2 * x), atol=1e-12)
        np.testing.assert_allclose(d3(t).numpy(), -4 * np.sin(2 * x), atol=1e-12)
    assert d1.trace_count == d2.trace_count == d3.trace_count == 1


def test_grad_elementwise_sum_on_vector(tt_backend):
    x = np.linspace(-2, 2, 100)
    d3 = tt.grad(tt.grad(tt.grad(lambda x: tt.reduce_sum(_sin2(x)))))
    # d/dx of the sum is elementwise: each entry is the scalar derivative
    g1 = tt.grad(lambda x: tt.reduce_sum(_sin2(x)))(tt.constant(x))
    np.testing.assert_allclose(g1.numpy(), np.sin(2 * x), atol=1e-6)
    with pytest.raises(TypeError, match=r"shape \(100,\)"):
        d3(tt.constant(x))


def test_hessian_of_quadratic_form_is_a_plus_a_transpose(tt_backend):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    A = tt.constant(a)

    def quad(x):
        return tt.reduce_sum(x * tt.reshape(tt.matmul(A, tt.reshape(x, (4, 1))), (4,)))

    h = tt.hessian(quad)(tt.constant(rng.normal(size=4)))
    assert h.shape == (4, 4)
    np.testing.assert_allclose(h.numpy(), a + a.T, atol=1e-12)


def test_hessian_is_one_batched_sweep_whose_graph_does_not_grow_with_the_input(tt_backend):
    """jacobian/hessian batch one VJP over the output basis (as jacrev): the traced graph
    has the same size at n = 5 and n = 40, and the Hessian matches the analytic one."""
    def f(x):
        return tt.reduce_sum(tt.sin(x) ** 2 * tt.exp(-x)) + \
            tt.reduce_sum(tt.tanh(x[1:] * x[:-1]))

    def analytic(x):
        d2 = np.exp(-x) * (2 * np.cos(2 * x) - 2 * np.sin(2 * x) + np.sin(x) ** 2)
        h = np.diag(d2)
        p = x[1:] * x[:-1]
        t, s2 = np.tanh(p), 1 - np.tanh(p) ** 2
        dd = -2 * t * s2                                    # tanh''(p)
        for i in range(len(p)):                             # term tanh(x_i x_{i+1})
            a, b = x[i + 1], x[i]
            h[i, i] += dd[i] * a * a
            h[i + 1, i + 1] += dd[i] * b * b
            h[i, i + 1] += dd[i] * a * b + s2[i]
            h[i + 1, i] += dd[i] * a * b + s2[i]
        return h

    hess, sizes = tt.hessian(f), []
    for n in (5, 40):
        x = np.linspace(-1.5, 1.2, n)
        np.testing.assert_allclose(hess(tt.constant(x)).numpy(), analytic(x), rtol=1e-10,
                                   atol=1e-12)
        sizes.append(len(list(hess._entries.values())[-1].graph.nodes))
    assert sizes[0] == sizes[1]


def test_jacobian_of_vector_map_matches_finite_differences(tt_backend):
    def f(x):
        return tt.stack([x[0] * x[1], tt.sin(x[2]), tt.exp(x[0]) + x[2] ** 2])

    def f_np(x):
        return np.array([x[0] * x[1], np.sin(x[2]), np.exp(x[0]) + x[2] ** 2])

    x0 = np.array([0.5, -1.2, 2.0])
    jac = tt.jacobian(f)(tt.constant(x0))
    assert jac.shape == (3, 3)
    fd = np.stack([_central(lambda x: f_np(x)[i], x0) for i in range(3)])
    np.testing.assert_allclose(jac.numpy(), fd, atol=1e-6)
    # a matrix output: shape out.shape + in.shape
    j2 = tt.jacobian(lambda x: tt.reshape(x * x, (2, 2)))(tt.constant([1.0, 2.0, 3.0, 4.0]))
    assert j2.shape == (2, 2, 4)
    np.testing.assert_allclose(j2.numpy().reshape(4, 4), np.diag([2.0, 4.0, 6.0, 8.0]))


def test_grad_argnums_tuple_and_has_aux():
    def f(x, y, z):
        return tt.reduce_sum(x * y) + z, {"prod": x * y}

    x, y = tt.constant([1.0, 2.0]), tt.constant([3.0, 4.0])
    (gx, gz), aux = tt.grad(f, argnums=(0, 2), has_aux=True)(x, y, 5.0)
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    assert gz.numpy() == 1.0 and gz.dtype == tt.float32
    np.testing.assert_allclose(aux["prod"].numpy(), [3.0, 8.0])
    gy = tt.grad(lambda x, y: tt.reduce_sum(x * y), argnums=1)(x, y)
    np.testing.assert_allclose(gy.numpy(), [1.0, 2.0])


def test_value_and_grad_returns_both():
    vg = tt.value_and_grad(lambda x: tt.reduce_sum(tt.exp(x)))
    v, g = vg(tt.constant([0.0, 1.0]))
    np.testing.assert_allclose(v.numpy(), 1 + np.e, rtol=1e-6)
    np.testing.assert_allclose(g.numpy(), [1.0, np.e], rtol=1e-6)
    (v, aux), g = tt.value_and_grad(lambda x: (x * x, "aux"), has_aux=True)(3.0)
    assert (v.numpy(), aux, g.numpy()) == (9.0, "aux", 6.0)


def test_grad_of_structured_argument():
    params = {"w": tt.constant([1.0, 2.0]), "b": tt.constant(0.5)}
    g = tt.grad(lambda p, x: tt.reduce_sum(p["w"] * x) + p["b"])(params, tt.constant([3., 4.]))
    np.testing.assert_allclose(g["w"].numpy(), [3.0, 4.0])
    assert g["b"].numpy() == 1.0


def test_grad_unconnected_argument_gives_zeros():
    g = tt.grad(lambda x, y: y * 2.0, argnums=(0, 1))(tt.constant([1.0, 2.0]), 1.0)
    np.testing.assert_allclose(g[0].numpy(), [0.0, 0.0])
    assert g[1].numpy() == 2.0


def test_grad_errors_name_shape_dtype_and_argnums():
    with pytest.raises(TypeError, match=r"scalar.*shape \(2,\)"):
        tt.grad(lambda x: x * 2)(tt.constant([1.0, 2.0]))
    with pytest.raises(TypeError, match="float tensor"):
        tt.grad(lambda x: tt.cast(x, tt.float32))(tt.constant(1))
    with pytest.raises(ValueError, match="argnums"):
        tt.grad(lambda x: x, argnums=3)(tt.constant(1.0))
    f = tt.grad(lambda x: x if x > 0 else -x)
    with pytest.raises(tt.TracingError, match="argument 'x'.*static_argnums"):
        f(tt.constant(1.0))
    # the library keeps working afterwards
    assert tt.grad(lambda x: x * x)(tt.constant(2.0)).numpy() == 4.0


def test_grad_caches_per_signature():
    calls = []

    def f(x):
        calls.append(1)
        return tt.reduce_sum(tt.tanh(x))

    g = tt.grad(f)
    for v in (0.1, 0.2, 0.3):
        np.testing.assert_allclose(g(tt.constant([v, v])).numpy(),
                                   (1 - np.tanh(v) ** 2) * np.ones(2), rtol=1e-6)
    assert g.trace_count == 1 and len(calls) == 1
    g(tt.constant([0.1, 0.2, 0.3]))
    assert g.trace_count == 2 and g.cache_info().size == 2


def test_function_of_grad_and_grad_of_function(tt_backend):
    f = tt.function(tt.grad(_sin2))
    g = tt.grad(tt.function(_sin2))
    for x in (0.3, 1.7):
        np.testing.assert_allclose(f(tt.constant(x)).numpy(), np.sin(2 * x), rtol=1e-6)
        np.testing.assert_allclose(g(tt.constant(x)).numpy(), np.sin(2 * x), rtol=1e-6)


def test_transform_under_gradient_tape_is_differentiable(tt_backend):
    d1 = tt.grad(_sin2)
    x = tt.constant(0.4, dtype=tt.float64)
    with tt.GradientTape() as outer:
        outer.watch(x)
        with tt.GradientTape() as tape:
            tape.watch(x)
            y = d1(x)                               # sin(2x)
        dy = tape.gradient(y, x)                    # 2cos(2x)
    ddy = outer.gradient(dy, x)                     # -4sin(2x)
    np.testing.assert_allclose(y.numpy(), np.sin(0.8), atol=1e-12)
    np.testing.assert_allclose(dy.numpy(), 2 * np.cos(0.8), atol=1e-12)
    np.testing.assert_allclose(ddy.numpy(), -4 * np.sin(0.8), atol=1e-12)


def test_tape_inside_transform(tt_backend):
    def f(x):
        with tt.GradientTape() as tape:
            tape.watch(x)
            y = tt.reduce_sum(x ** 3)
        return tt.reduce_sum(tape.gradient(y, x))   # sum 3x^2

    g = tt.grad(f)(tt.constant([1.0, 2.0], dtype=tt.float64))
    np.testing.assert_allclose(g.numpy(), [6.0, 12.0])


def test_grad_with_closure_over_outer_traced_value():
    @tt.function
    def outer(x, w):
        return tt.grad(lambda x: tt.sin(x * w))(x)

    np.testing.assert_allclose(outer(tt.constant(0.5), tt.constant(3.0)).numpy(),
                               3 * np.cos(1.5), rtol=1e-6)
    # d/dw of d/dx sin(x w) = cos(xw) - xw sin(xw): the outer trace sees one graph
    dw = tt.grad(lambda x, w: tt.grad(lambda x: tt.sin(x * w))(x), argnums=1)
    np.testing.assert_allclose(dw(tt.constant(0.5), tt.constant(3.0)).numpy(),
                               np.cos(1.5) - 1.5 * np.sin(1.5), rtol=1e-5)


def test_hessian_vector_product_matches_finite_differences(tt_backend):
    def rosen(x):
        return tt.reduce_sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    gradf = tt.grad(rosen)
    hvp = tt.grad(lambda x, v: tt.reduce_sum(gradf(x) * v))
    rng = np.random.default_rng(1)
    x0, v0 = rng.normal(size=6), rng.normal(size=6)
    out = hvp(tt.constant(x0), tt.constant(v0)).numpy()
    g_np = lambda x: gradf(tt.constant(x)).numpy()  # noqa: E731
    fd = (g_np(x0 + 1e-6 * v0) - g_np(x0 - 1e-6 * v0)) / 2e-6
    np.testing.assert_allclose(out, fd, rtol=1e-5, atol=1e-5)

"""tt.vmap: in_axes/out_axes, nesting, composition with grad/jvp/function/tapes, errors."""
import numpy as np
import pytest

import tracer as tt

RNG = np.random.default_rng(11)


def _c(a):
    return tt.constant(np.asarray(a, np.float64))


def _logistic(w, x, y):
    return tt.nn.softplus(-y * tt.reduce_sum(x * w))


def test_per_example_gradients_match_closed_form(tt_backend):
    X, y, w = RNG.standard_normal((16, 5)), np.sign(RNG.standard_normal(16)), \
        RNG.standard_normal(5)
    pe = tt.vmap(tt.grad(_logistic), in_axes=(None, 0, 0))
    g = pe(_c(w), _c(X), _c(y))
    s = 1 / (1 + np.exp(y * (X @ w)))
    np.testing.assert_allclose(g.numpy(), (-y * s)[:, None] * X, atol=1e-12)
    assert pe.trace_count == 1


def test_per_example_gradient_graph_does_not_grow_with_the_batch():
    def graph_size(b):
        f = tt.vmap(tt.grad(lambda w, x: tt.reduce_sum(tt.tanh(x @ w))), in_axes=(None, 0))
        text = f.explain(_c(np.ones((4, 3))), _c(np.ones((b, 2, 4))))
        return text.split("def ")[0].count(" = ")
    assert graph_size(2) == graph_size(64)


def test_batched_operand_times_shared_matrix_is_one_matmul():
    f = tt.vmap(lambda x, w: x @ w, in_axes=(0, None))
    text = f.explain(_c(np.ones((9, 2, 4))), _c(np.ones((4, 3))))
    graph = text.split("def ")[0]
    assert graph.count("matmul(") == 1 and "(18, 4)" in graph


def test_in_axes_pytrees_none_and_negative(tt_backend):
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 3))
    f = tt.vmap(lambda p, s: p["a"] * p["b"] + s, in_axes=({"a": 0, "b": -1}, None))
    got = f({"a": _c(a), "b": _c(b)}, 2.0)
    np.testing.assert_allclose(got.numpy(), a * b.T + 2.0)
    g = tt.vmap(lambda t: t[0] - t[1], in_axes=((1, 0),))
    np.testing.assert_allclose(g((_c(b), _c(a))).numpy(), b.T - a)


def test_out_axes_and_unbatched_outputs(tt_backend):
    x = RNG.standard_normal((3, 4))
    f = tt.vmap(lambda v, k: (v * 2.0, k + 1.0, tt.constant(5.0)), in_axes=(0, None),
                out_axes=(1, None, 0))
    a, b, c = f(_c(x), _c(7.0))
    np.testing.assert_allclose(a.numpy(), (x * 2).T)
    assert float(b) == 8.0 and c.shape == (3,) and np.all(c.numpy() == 5.0)


def test_nested_vmap_is_an_outer_product(tt_backend):
    u, v = RNG.standard_normal(3), RNG.standard_normal(4)
    outer = tt.vmap(tt.vmap(lambda a, b: a * b, in_axes=(None, 0)), in_axes=(0, None))
    np.testing.assert_allclose(outer(_c(u), _c(v)).numpy(), np.outer(u, v), atol=1e-14)


def test_vmap_composes_with_jvp_grad_function_and_tapes(tt_backend):
    x = RNG.standard_normal((5, 3))
    f = lambda v: tt.reduce_sum(tt.sin(v) * v)
    df = lambda v: np.sin(v) + v * np.cos(v)
    # vmap of jvp and jvp of vmap
    vj = tt.vmap(lambda v, t: tt.jvp(f, (v,), (t,))[1])(_c(x), _c(np.ones_like(x)))
    np.testing.assert_allclose(vj.numpy(), df(x).sum(1), atol=1e-12)
    jv = tt.jvp(tt.vmap(f), (_c(x),), (_c(np.ones_like(x)),))[1]
    np.testing.assert_allclose(jv.numpy(), df(x).sum(1), atol=1e-12)
    # grad of vmap, vmap inside tt.function
    g = tt.grad(lambda v: tt.reduce_sum(tt.vmap(f)(v)))(_c(x))
    np.testing.assert_allclose(g.numpy(), df(x), atol=1e-12)
    jit = tt.function(lambda v: tt.vmap(f)(v) * 2.0)
    np.testing.assert_allclose(jit(_c(x)).numpy(), 2 * (np.sin(x) * x).sum(1), atol=1e-12)
    # a tape around vmap, to second order
    xt = _c(x)
    with tt.GradientTape() as outer:
        outer.watch(xt)
        with tt.GradientTape() as inner:
            inner.watch(xt)
            s = tt.reduce_sum(tt.vmap(f)(xt))
        g1 = inner.gradient(s, xt)
        s2 = tt.reduce_sum(g1)
    np.testing.assert_allclose(g1.numpy(), df(x), atol=1e-12)
    np.testing.assert_allclose(outer.gradient(s2, xt).numpy(),
                               2 * np.cos(x) - x * np.sin(x), atol=1e-12)


def test_vmap_of_hessian_vector_products(tt_backend):
    x, v = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    f = lambda z: tt.reduce_sum(z ** 4)
    hvp = tt.vmap(lambda z, t: tt.jvp(tt.grad(f), (z,), (t,))[1])
    np.testing.assert_allclose(hvp(_c(x), _c(v)).numpy(), 12 * x ** 2 * v, rtol=1e-12)


def test_vmap_keyword_arguments_are_mapped_over_axis_zero():
    f = tt.vmap(lambda x, scale: x * scale, in_axes=(0,))
    got = f(_c([1.0, 2.0]), scale=_c([3.0, 4.0]))
    np.testing.assert_allclose(got.numpy(), [3.0, 8.0])


def test_inconsistent_batch_sizes_name_the_arguments():
    f = tt.vmap(lambda x, y: x + y)
    with pytest.raises(ValueError, match=r"argument 'x' \(position 0\) has size 3.*"
                                         r"argument 'y' \(position 1\) has size 4"):
        f(_c(np.ones(3)), _c(np.ones(4)))
    assert f(_c(np.ones(3)), _c(np.ones(3))).shape == (3,)     # still works afterwards


def test_vmap_argument_errors():
    with pytest.raises(ValueError, match="maps no argument"):
        tt.vmap(lambda x: x, in_axes=None)(_c(np.ones(3)))
    with pytest.raises(ValueError, match="out of range"):
        tt.vmap(lambda x: x, in_axes=2)(_c(np.ones((3, 2))))
    with pytest.raises(ValueError, match="has no axis"):
        tt.vmap(lambda x, k: x * k)(_c(np.ones(3)), 2.0)
    with pytest.raises(ValueError, match="2 entries"):
        tt.vmap(lambda x: x, in_axes=(0, 0))(_c(np.ones(3)))
    with pytest.raises(TypeError, match="in_axes"):
        tt.vmap(lambda x: x, in_axes="0")
    with pytest.raises(ValueError, match="out_axes None"):
        tt.vmap(lambda x: x * 2.0, out_axes=None)(_c(np.ones(3)))


def test_axis_size_when_no_argument_is_mapped():
    # JAX: vmap(f, in_axes=None, axis_size=n) broadcasts; a mapped size must equal it
    x = tt.constant(2.0)
    out = tt.vmap(lambda a: a * 2, in_axes=None, axis_size=3)(x)
    np.testing.assert_array_equal(out.numpy(), [4.0, 4.0, 4.0])
    g = tt.grad(lambda v: tt.reduce_sum(tt.vmap(lambda a: a * v, in_axes=None,
                                                 axis_size=3)(v)))(x)
    assert float(g) == 12.0
    assert tt.vmap(lambda a, b: a * b, in_axes=(0, None), axis_size=2)(
        tt.ones(2), 3.0).numpy().tolist() == [3.0, 3.0]
    with pytest.raises(ValueError, match="axis_size=3 but argument 'a'"):
        tt.vmap(lambda a: a, axis_size=3)(tt.ones(2))
    with pytest.raises(TypeError, match="axis_size must be"):
        tt.vmap(lambda a: a, axis_size=1.5)

"""tt.gradients_function and tt.value_and_gradients_function (TensorFlow eager semantics)."""
import numpy as np
import pytest

import tracer as tt


def value(t):
    return np.asarray(t)


def test_gradients_function_gives_one_gradient_per_argument(tt_backend):
    grads = tt.gradients_function(lambda x, y: x * x * y)(3.0, 2.0)
    assert isinstance(grads, list) and len(grads) == 2
    assert [value(g) for g in grads] == [12.0, 9.0]
    assert all(g.dtype == tt.float32 for g in grads)  # Python floats become float32


def test_gradients_function_params_select_by_index_or_name(tt_backend):
    def f(x, y, z):
        return x * y + z

    assert [value(g) for g in tt.gradients_function(f, params=[2, 0])(1.0, 4.0, 5.0)] == \
        [1.0, 4.0]
    assert [value(g) for g in tt.gradients_function(f, params=["y"])(1.0, 4.0, 5.0)] == [1.0]
    with pytest.raises(ValueError, match="gradients_function: params entry 'w'"):
        tt.gradients_function(f, params=["w"])(1.0, 4.0, 5.0)


def test_integer_arguments_get_none(tt_backend):
    def power(x, n):
        out = 1
        for _ in range(int(n)):  # Python control flow on an argument's value
            out = tt.multiply(out, x)
        return out

    gx, gn = tt.gradients_function(power)(2.0, 3)
    assert value(gx) == 12.0 and gn is None


def test_tensor_numpy_and_variable_arguments(tt_backend):
    f = tt.gradients_function(lambda a, b, v: tt.reduce_sum(a * b) * v)
    a = tt.constant([1.0, 2.0])
    b = np.array([3.0, 4.0])  # float64 stays float64
    ga, gb, gv = f(a, b, tt.Variable(2.0))
    np.testing.assert_array_equal(value(ga), [6.0, 8.0])
    assert gb.dtype == tt.float64 and list(value(gb)) == [2.0, 4.0]
    assert value(gv) == 11.0


def test_value_and_gradients_function_returns_value_and_list(tt_backend):
    val, grads = tt.value_and_gradients_function(lambda x: tt.sin(x) * x)(1.0)
    assert np.isclose(value(val), np.sin(1.0))
    assert len(grads) == 1 and np.isclose(value(grads[0]), np.sin(1.0) + np.cos(1.0))


def test_list_valued_function_gradients_add_up(tt_backend):
    (g,) = tt.gradients_function(lambda x: [x * x, 3.0 * x])(2.0)
    assert value(g) == 7.0


def test_nested_gradients_function_gives_higher_derivatives(tt_backend):
    def f(x):
        return tt.square(tt.sin(x))

    def d(fn):
        return lambda x: tt.gradients_function(fn)(x)[0]

    x = tt.constant([0.3, 1.1, -2.0])
    xs = np.asarray(x, np.float64)
    np.testing.assert_allclose(value(d(f)(x)), np.sin(2 * xs), rtol=1e-5)
    np.testing.assert_allclose(value(d(d(f))(x)), 2 * np.cos(2 * xs), rtol=1e-5)
    np.testing.assert_allclose(value(d(d(d(f)))(x)), -4 * np.sin(2 * xs), rtol=1e-4)


def test_gradients_function_under_an_outer_tape_is_differentiable(tt_backend):
    x = tt.constant(2.0)
    with tt.GradientTape() as tape:
        tape.watch(x)
        (dy,) = tt.gradients_function(lambda t: t * t * t)(x)
    assert value(dy) == 12.0
    assert value(tape.gradient(dy, x)) == 12.0


def test_unconnected_argument_gives_none(tt_backend):
    gx, gy = tt.gradients_function(lambda x, y: x * 2.0)(1.0, 5.0)
    assert value(gx) == 2.0 and gy is None


def test_bad_fn_and_bad_argument_name_the_transform():
    with pytest.raises(TypeError, match="gradients_function: fn must be callable"):
        tt.gradients_function(3)
    with pytest.raises(TypeError, match="value_and_gradients_function: argument 0"):
        tt.value_and_gradients_function(lambda x: x)("text")

"""tt.testing: check_gradients and assert_allclose (proposed home: tests/tracer/test_testing.py)."""
import numpy as np
import pytest

import tracer as tt


@pytest.mark.parametrize("order", [1, 2])
def test_check_gradients_accepts_correct_gradients(order):
    x = np.linspace(-1.0, 1.0, 5)
    tt.testing.check_gradients(lambda v: tt.sin(v) * v, [x], order=order)
    a, b = np.full((2, 3), 0.3), np.arange(6.0).reshape(3, 2) / 5
    tt.testing.check_gradients(lambda p, q: tt.matmul(p, q) ** 2, [a, b], order=order)
    tt.testing.check_gradients(tt.reduce_prod, [np.array([1.0, 0.0, 2.0, 0.0])], order=order)


def test_check_gradients_reports_the_worst_element():
    with pytest.raises(AssertionError, match=r"argument 0 .*differs at index \(3, 3\).*tolerance"):
        tt.testing.check_gradients(lambda v: tt.stop_gradient(v) * v, [np.arange(4.0)])


def test_check_gradients_catches_wrong_second_derivatives():
    @tt.custom_gradient
    def f(v):
        def grad(g):
            return g * tt.stop_gradient(tt.cos(v))
        return tt.sin(v), grad
    tt.testing.check_gradients(f, [np.array([0.3, 1.2])], order=1)
    with pytest.raises(AssertionError, match="second derivative"):
        tt.testing.check_gradients(f, [np.array([0.3, 1.2])], order=2)


def test_check_gradients_float32_output_uses_float32_tolerances():
    tt.testing.check_gradients(lambda v: tt.cast(tt.exp(v), tt.float32), [np.array([0.1, 0.5])])


def test_check_gradients_rejects_bad_arguments():
    with pytest.raises(ValueError, match="order"):
        tt.testing.check_gradients(tt.sin, [np.zeros(2)], order=3)
    with pytest.raises(TypeError, match="list or tuple"):
        tt.testing.check_gradients(tt.sin, np.zeros(2))


def test_assert_allclose_accepts_tensors_arrays_and_numbers():
    tt.testing.assert_allclose(tt.constant([1.0, np.nan]), np.array([1.0, np.nan]))
    tt.testing.assert_allclose(tt.constant(np.float32(1.0)), 1.000001)
    tt.testing.assert_allclose(2.0, tt.constant(2.0, dtype=tt.float64))
    with pytest.raises(AssertionError):
        tt.testing.assert_allclose(tt.constant([1.0, 2.0], dtype=tt.float64), [1.0, 2.001])

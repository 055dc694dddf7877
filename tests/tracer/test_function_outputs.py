"""What a tt.function returns for outputs that do not depend on its tensor arguments:
numbers and NumPy values come back as tensors (as tf.function and jax.jit return them),
None and other Python objects as they are."""
import numpy as np

import tracer as tt


def test_python_number_argument_gives_a_tensor():
    f = tt.function(lambda x: x * 2)
    out = f(2.0)                        # keyed by value: nothing is traced
    assert isinstance(out, tt.Tensor) and out.dtype == tt.float32
    assert out.numpy() == 4.0
    assert f(2.0).numpy() == 4.0 and f.trace_count == 1
    assert f(3).dtype == tt.int32 and f(3).numpy() == 6


def test_constant_leaves_become_tensors_and_other_objects_stay():
    f = tt.function(lambda x: {"y": x + 1.0, "n": 3, "a": np.arange(3.0), "none": None,
                               "name": "loss", "flag": True})
    for _ in range(2):
        out = f(tt.constant([1.0, 2.0]))
        np.testing.assert_array_equal(out["y"].numpy(), [2.0, 3.0])
        assert isinstance(out["n"], tt.Tensor) and out["n"].dtype == tt.int32
        assert isinstance(out["a"], tt.Tensor) and out["a"].dtype == tt.float64
        np.testing.assert_array_equal(out["a"].numpy(), [0.0, 1.0, 2.0])
        assert out["flag"].dtype == tt.bool and bool(out["flag"].numpy())
        assert out["none"] is None and out["name"] == "loss"


def test_returned_numpy_array_is_not_aliased():
    a = np.ones(3)
    f = tt.function(lambda x: (x, a))
    out = f(tt.constant(1.0))[1]
    a[0] = 5.0                          # the caller's array changes later
    np.testing.assert_array_equal(out.numpy(), [1.0, 1.0, 1.0])


def test_grad_aux_numbers_become_tensors():
    g = tt.grad(lambda x: (x * x, 7), has_aux=True)
    dx, aux = g(tt.constant(3.0))
    assert dx.numpy() == 6.0
    assert isinstance(aux, tt.Tensor) and aux.numpy() == 7

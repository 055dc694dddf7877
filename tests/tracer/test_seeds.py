"""The three seed tutorials (TensorFlow autodiff), cell by cell.

Each test is one seed cell adapted only in the import (``import tracer as tt``, ``tt.`` for
``tf.`` and ``tfe.``) and where the stored seed text is garbled (noted at the test). Every
assertion of the seed is kept and every printed value is compared with the seed's output,
with ``tt.Tensor(`` for ``tf.Tensor(``. Cells that use state from earlier cells rerun them.
"""
from math import pi

import numpy as np

import tracer as tt

ERROR_TEXT = "GradientTape.gradient can only be called once on non-persistent tapes."


def printed(*lines):
    return "".join(line + "\n" for line in lines)


def matrix(rows, dtype="float32"):
    """The seed's multi-line layout of a 2x2 tensor."""
    body = "\n ".join(rows)
    return f"tt.Tensor(\n[{body}], shape=(2, 2), dtype={dtype})"


# -- seed 000: tfe.gradients_function, higher order, control flow, tapes ---------------------

def seed000_f(x):
    return tt.square(tt.sin(x))


def seed000_grad(f):
    # garbled in the seed: the original tutorial takes element [0] of the gradient list
    return lambda x: tt.gradients_function(f)(x)[0]


def test_seed000_derivatives_of_a_function(tt_backend):
    f = seed000_f
    assert f(pi / 2).numpy() == 1.0
    grad_f = tt.gradients_function(f)
    assert tt.abs(grad_f(pi / 2)).numpy() < 1e-7


def test_seed000_differentiate_as_many_times_as_you_like(tt_backend):
    f, grad = seed000_f, seed000_grad
    x = tt.lin_space(-2 * pi, 2 * pi, 100)
    curves = [f(x), grad(f)(x), grad(grad(f))(x), grad(grad(grad(f)))(x)]
    # the plotted curves: sin^2, sin(2x), 2cos(2x), -4sin(2x)
    xs = np.asarray(x, dtype=np.float64)
    exact = [np.sin(xs) ** 2, np.sin(2 * xs), 2 * np.cos(2 * xs), -4 * np.sin(2 * xs)]
    for curve, want in zip(curves, exact):
        assert curve.shape == (100,) and curve.dtype == tt.float32
        np.testing.assert_allclose(np.asarray(curve), want, rtol=1e-4, atol=1e-4)


def seed000_power(x, y):
    output = 1
    # Must use range(int(y)) instead of range(y) in Python 3 when
    # using TensorFlow 1.10 and earlier. Can use range(y) in 1.11+
    for i in range(int(y)):
        output = tt.multiply(output, x)
    return output


def seed000_g(x, y):
    # Return the gradient of `f` with respect to it's first parameter
    # (garbled in the seed: the original tutorial takes element [0])
    return tt.gradients_function(seed000_power)(x, y)[0]


def test_seed000_python_control_flow(tt_backend):
    f, g = seed000_power, seed000_g
    assert f(3.0, 2).numpy() == 9.0  # f(x, 2) is essentially x * x
    assert g(3.0, 2).numpy() == 6.0  # And its gradient will be 2 * x
    assert f(4.0, 3).numpy() == 64.0  # f(x, 3) is essentially x * x * x
    assert g(4.0, 3).numpy() == 48.0  # And its gradient will be 3 * x * x


def seed000_persistent_tape():
    x = tt.ones((2, 2))
    with tt.GradientTape(persistent=True) as t:
        t.watch(x)
        y = tt.reduce_sum(x)
        z = tt.multiply(y, y)
    return x, y, z, t


def test_seed000_gradient_with_respect_to_intermediate(tt_backend):
    x, y, z, t = seed000_persistent_tape()
    # Use the same tape to compute the derivative of z with respect to the
    # intermediate value y.
    dz_dy = t.gradient(z, y)
    assert dz_dy.numpy() == 8.0


def test_seed000_gradient_with_respect_to_input(tt_backend):
    x, y, z, t = seed000_persistent_tape()
    t.gradient(z, y)
    # Derivative of z with respect to the original input tensor x
    dz_dx = t.gradient(z, x)
    for i in [0, 1]:
        for j in [0, 1]:
            assert dz_dx[i][j].numpy() == 8.0


def test_seed000_higher_order_gradients(tt_backend):
    x = tt.constant(1.0)  # Convert the Python 1.0 to a Tensor object
    with tt.GradientTape() as t:
        with tt.GradientTape() as t2:
            t2.watch(x)
            y = x * x * x
        # Compute the gradient inside the 't' context manager
        # which means the gradient computation is differentiable as well.
        dy_dx = t2.gradient(y, x)
    d2y_dx2 = t.gradient(dy_dx, x)
    assert dy_dx.numpy() == 3.0
    assert d2y_dx2.numpy() == 6.0


# -- seed 001: automatic differentiation and gradient tape -----------------------------------

def seed001_cells_2_3():
    x = tt.ones((2, 2))
    with tt.GradientTape() as t:
        t.watch(x)
        y = tt.reduce_sum(x)
        z = tt.multiply(y, y)
    return x, y, z, t


def test_seed001_cells_2_to_5_print_y_and_z(capsys):
    x, y, z, t = seed001_cells_2_3()
    print(y)
    print(z)
    assert capsys.readouterr().out == printed("tt.Tensor(4.0, shape=(), dtype=float32)",
                                              "tt.Tensor(16.0, shape=(), dtype=float32)")


def test_seed001_cells_6_7_gradient(tt_backend, capsys):
    x, y, z, t = seed001_cells_2_3()
    dz_dx = t.gradient(z, x)
    print(dz_dx)
    assert capsys.readouterr().out == printed(matrix(["[8. 8.]", "[8. 8.]"]))


def test_seed001_cell_13_index_gradient(tt_backend):
    x, y, z, t = seed001_cells_2_3()
    dz_dx = t.gradient(z, x)
    for i in [0, 1]:
        for j in [0, 1]:
            assert dz_dx[i][j].numpy() == 8.0


def test_seed001_cell_15_gradient_wrt_intermediate(tt_backend, capsys):
    x = tt.ones((2, 2))
    with tt.GradientTape() as t:
        t.watch(x)
        y = tt.reduce_sum(x)
        z = tt.multiply(y, y)
    dz_dy = t.gradient(z, y)
    print(dz_dy)
    assert capsys.readouterr().out == printed("tt.Tensor(8.0, shape=(), dtype=float32)")


def test_seed001_cell_17_gradient_of_sum(tt_backend, capsys):
    x = tt.ones((2, 2))
    with tt.GradientTape() as t:
        t.watch(x)
        y = tt.reduce_sum(x)
        z = tt.multiply(y, y)
    dy_dx = t.gradient(y, x)
    print(dy_dx)
    assert capsys.readouterr().out == printed(matrix(["[1. 1.]", "[1. 1.]"]))


def seed001_constant_tape(value, target):
    x = tt.constant([[value, value], [value, value]], dtype=float)
    with tt.GradientTape() as t:
        t.watch(x)
        y = tt.reduce_sum(x)
        z = tt.multiply(y, y)
    return y, z, t.gradient(y if target == "y" else z, x)


def test_seed001_cells_21_22_constant_of_ones(tt_backend, capsys):
    y, z, dy_dx = seed001_constant_tape(1, "y")
    print(dy_dx)
    assert capsys.readouterr().out == printed(matrix(["[1. 1.]", "[1. 1.]"]))


def test_seed001_cells_23_24_constant_of_twos(tt_backend, capsys):
    y, z, dy_dx = seed001_constant_tape(2, "y")
    print(dy_dx)
    assert capsys.readouterr().out == printed(matrix(["[1. 1.]", "[1. 1.]"]))


def test_seed001_cells_25_to_27_gradient_of_square(tt_backend, capsys):
    y, z, dz_dx = seed001_constant_tape(2, "z")
    print(dz_dx)
    print(z)
    print(y)
    assert capsys.readouterr().out == printed(matrix(["[16. 16.]", "[16. 16.]"]),
                                              "tt.Tensor(64.0, shape=(), dtype=float32)",
                                              "tt.Tensor(8.0, shape=(), dtype=float32)")


def test_seed001_cells_28_to_31_persistent_tape(tt_backend, capsys):
    x = tt.constant(3.0)
    with tt.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
        z = y * y
    dz_dx = t.gradient(z, x)  # 108.0 (4*x^3 at x = 3), dy_dx = 2x, dz_dy = 2y = 2x^2
    dy_dx = t.gradient(y, x)  # 6.0
    del t
    print(dz_dx)
    print(dy_dx)
    assert capsys.readouterr().out == printed("tt.Tensor(108.0, shape=(), dtype=float32)",
                                              "tt.Tensor(6.0, shape=(), dtype=float32)")
    assert dz_dx.numpy() == 4 * 27  # cell 31


def seed001_f(x, y):
    output = 1.0
    for i in range(y):
        if i > 1 and i < 5:
            output = tt.multiply(output, x)
    return output


def test_seed001_cells_32_36_control_flow(capsys):
    print(seed001_f(2, 10))
    assert capsys.readouterr().out == printed("tt.Tensor(8.0, shape=(), dtype=float32)")


def seed001_grad(x, y):
    with tt.GradientTape() as t:
        t.watch(x)
        out = seed001_f(x, y)
    return t.gradient(out, x)


def test_seed001_cells_37_to_39_gradient_through_control_flow(tt_backend):
    x = tt.convert_to_tensor(2.0)
    assert seed001_grad(x, 6).numpy() == 12.0
    assert seed001_grad(x, 5).numpy() == 12.0
    assert seed001_grad(x, 4).numpy() == 4.0


def test_seed001_cell_40_nested_tapes_on_variable(tt_backend):
    x = tt.Variable(1.0)  # Create a Tensorflow variable initialized to 1.0
    with tt.GradientTape() as t:
        with tt.GradientTape() as t2:
            y = x * x * x
        # Compute the gradient inside the 't' context manager
        # which means the gradient computation is differentiable as well.
        dy_dx = t2.gradient(y, x)
    d2y_dx2 = t.gradient(dy_dx, x)
    assert dy_dx.numpy() == 3.0  # dy_dx = 3*x^2 at x=1
    assert d2y_dx2.numpy() == 6.0  # d2y_dx2 = 6*x at x=1

"""debug_nans per element and under the public op's name; hangs and unclear errors become
ValueError/TypeError naming the op; matmul refuses vectors; repr of vectors on one line;
check_gradients reports the worst element's own values (issue: trust)."""
import numpy as np
import pytest

import tracer as tt


def test_debug_nans_decides_per_element(debug_nans):
    with pytest.raises(FloatingPointError, match="^log: produced NaN"):
        tt.log(tt.constant([np.nan, -1.0]))
    tt.log(tt.constant([np.nan, 1.0]))                 # the NaN came in: allowed
    tt.add(tt.constant([np.nan, 1.0]), tt.constant([[1.0], [2.0]]))   # broadcast NaN
    tt.reduce_sum(tt.constant([np.nan, 1.0]))
    with pytest.raises(FloatingPointError, match="^subtract"):
        tt.subtract(tt.constant([np.nan, np.inf]), tt.constant(np.inf))


@pytest.mark.parametrize("name, run", [
    ("reduce_mean", lambda: tt.reduce_mean(tt.zeros((0,)))),
    ("nn.softmax", lambda: tt.nn.softmax(tt.constant([np.inf, 1.0]))),
    ("nn.log_softmax", lambda: tt.nn.log_softmax(tt.constant([np.inf, 1.0]))),
    ("einsum", lambda: tt.einsum("ij,jk->ik", tt.constant([[np.inf, 1.0]]),
                                 tt.constant([[0.0], [1.0]]))),
    ("squared_difference", lambda: tt.squared_difference(np.inf, np.inf)),
])
def test_debug_nans_names_the_public_op(debug_nans, name, run):
    with pytest.raises(FloatingPointError, match=f"^{name} \\(its [a-z_]+ step\\): produced"):
        run()
    # and the library still works afterwards
    assert float(tt.reduce_mean(tt.constant([1.0, 3.0]))) == 2.0


def test_self_referential_lists_raise_instead_of_hanging():
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="GradientTape.watch: .*contains itself"):
        with tt.GradientTape() as tape:
            tape.watch(loop)
    with pytest.raises(ValueError, match="constant: .*contains itself"):
        tt.constant(loop)
    with pytest.raises(ValueError, match="convert_to_tensor: .*contains itself"):
        tt.convert_to_tensor([1.0, loop])
    shared = [1.0, 2.0]
    assert tt.constant([shared, shared]).shape == (2, 2)    # shared, not cyclic: fine


def test_deep_nesting_is_not_called_ragged():
    deep = 1.0
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="constant: .*nested more than 64 lists deep"):
        tt.constant(deep)


@pytest.mark.parametrize("run, kind, words", [
    (lambda: tt.constant(1) + 2 ** 40, ValueError, ["add", "1099511627776", "int32", "int64"]),
    (lambda: tt.zeros((2 ** 62, 2 ** 62)), ValueError, ["zeros", "shape", "bytes"]),
    (lambda: tt.linspace(0, 1, -1), ValueError, ["linspace", "num", "-1", ">= 0"]),
    (lambda: tt.eye(-2), ValueError, ["eye", "num_rows", "-2", ">= 0"]),
    (lambda: tt.random.uniform((2,), minval=1, maxval=0), ValueError,
     ["random.uniform", "minval (1)", "maxval (0)"]),
    (lambda: tt.random.uniform((2,), minval=1, maxval=1, dtype=tt.int32), ValueError,
     ["random.uniform", "minval", "maxval", "int32"]),
    (lambda: tt.random.normal((2,), stddev=-1.0), ValueError, ["random.normal", "stddev"]),
    (lambda: tt.grad(lambda x: x * 2)(3), TypeError, ["grad", "argument 0", "int32", "3.0"]),
], ids=["int_overflow", "zeros_huge", "linspace", "eye", "uniform", "uniform_int", "normal",
        "grad_int_argument"])
def test_errors_name_the_op_and_what_is_valid(run, kind, words):
    with pytest.raises(kind) as info:
        run()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_repr_vector_on_one_line_as_tensorflow():
    assert repr(tt.constant(np.array([1.5, 2.0]))) == \
        "tt.Tensor([1.5 2. ], shape=(2,), dtype=float64)"
    assert str(tt.constant([[1.0, 2.0], [3.0, 4.0]])) == \
        "tt.Tensor(\n[[1. 2.]\n [3. 4.]], shape=(2, 2), dtype=float32)"


@tt.custom_gradient
def _square_wrong(x):
    return x * x, lambda dy: dy * 3.0 * x        # should be 2x


def test_check_gradients_reports_the_worst_elements_own_values():
    with pytest.raises(AssertionError) as info:
        tt.testing.check_gradients(lambda x: _square_wrong(x), [np.array(1.5)])
    msg = str(info.value)
    assert "tape 4.5," in msg and "finite differences 2.9999" in msg, msg
    x = np.array([1.5, 0.5, -1.0])
    with pytest.raises(AssertionError) as info:
        tt.testing.check_gradients(lambda v: _square_wrong(v) * [1.0, 2.0, 3.0], [x])
    msg = str(info.value)
    # the worst entry is d out[2] / d x[2]: 3 * 3 * -1 = -9 against 3 * 2 * -1 = -6
    assert "Jacobian" in msg and "index (2, 2)" in msg and "tape -9.0," in msg, msg
    assert "differences -5.9999" in msg, msg


@tt.custom_gradient
def _cube_half_curvature(x):
    # the first derivative is right (3x^2), but its own derivative is 3x, not 6x
    return x ** 3, lambda dy: dy * 3.0 * tt.stop_gradient(x) * x


def test_check_gradients_order_two_reports_the_second_derivatives_own_values():
    with pytest.raises(AssertionError) as info:
        tt.testing.check_gradients(_cube_half_curvature, [np.array(1.5)], order=2)
    msg = str(info.value)
    assert "second derivative" in msg and "tape 4.5," in msg, msg
    assert "finite differences 8.999" in msg or "finite differences 9.000" in msg, msg
    x, z = np.array([1.5, 0.5, -1.0]), np.array([1.0, 2.0, 3.0])
    with pytest.raises(AssertionError) as info:
        tt.testing.check_gradients(lambda v, w: _cube_half_curvature(v) * w, [x, z],
                                   order=2)
    msg = str(info.value)
    # worst: d2 out[2] / d x[2] d x[2] = 3 * 3 * -1 = -9 on the tape, 3 * 6 * -1 = -18
    assert "argument 0 and argument 0" in msg and "index (2, 2, 2)" in msg, msg
    assert "tape -9.0," in msg and "differences -17.99" in msg, msg


@pytest.mark.parametrize("name, f, x", [
    ("reduce_logsumexp", tt.reduce_logsumexp, [-np.inf, -np.inf]),   # exp(-inf - -inf)
    ("reduce_std", tt.reduce_std, [1.0, 1.0]),                      # inf * 0 below sqrt
    ("linalg.norm", tt.linalg.norm, [0.0, 0.0]),
])
def test_debug_nans_in_a_gradient_names_the_public_op(debug_nans, tt_backend, name, f, x):
    # the forward value is not NaN: the NaN is first made by the gradient
    x = tt.constant(x)
    want = f"^mul(tiply)?: produced NaN .* in the gradient of {name} \\(its [a-z_]+ step\\)"
    with pytest.raises(FloatingPointError, match=want):
        with tt.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        tape.gradient(y, x)
    with pytest.raises(FloatingPointError, match=want):
        tt.grad(f)(x)
    assert float(tt.grad(tt.reduce_logsumexp)(tt.constant([0.0, 0.0]))[0]) == 0.5


def test_matmul_refuses_vectors_as_tensorflow(tt_backend):
    m, v = tt.constant(np.arange(6.0).reshape(3, 2)), tt.constant([1.0, 2.0])
    calls = [lambda: tt.matmul(m, v), lambda: v @ tt.transpose(m), lambda: v @ v,
             lambda: tt.function(lambda a, b: a @ b)(m, v)]
    for call in calls:
        with pytest.raises(ValueError, match=r"matmul: a has shape \(\d?,? ?\d?\) and b has "
                                             r"shape .*rank >= 2.*tensordot"):
            call()
    want = np.arange(6.0).reshape(3, 2) @ [1.0, 2.0]
    np.testing.assert_allclose(tt.tensordot(m, v, 1).numpy(), want)
    np.testing.assert_allclose(tt.reshape(m @ tt.reshape(v, (2, 1)), (3,)).numpy(), want)


def test_special_values_print_no_numpy_warnings_but_user_numpy_code_still_does():
    """log(0), 0/0, sqrt(-1), exp overflow and their gradients are IEEE results, silent as
    in TensorFlow; the filter is scoped to tapejit's modules."""
    import subprocess
    import sys
    script = (
        "import numpy as np, tracer as tt\n"
        "x = tt.constant([0.0, -1.0, 1.0])\n"
        "with tt.GradientTape() as t:\n"
        "    t.watch(x)\n"
        "    y = tt.math.log(x) + x / 0.0 + tt.sqrt(x) + tt.exp(x * 1000.0) + x ** -1.0\n"
        "g = t.gradient(y, x)\n"
        "print(np.isnan(y.numpy()).sum(), np.isfinite(g.numpy()).sum())\n"
        "np.log(np.zeros(1))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["2", "0"]
    warned = [ln for ln in proc.stderr.splitlines() if "RuntimeWarning" in ln]
    assert len(warned) == 1 and warned[0].startswith("<string>:8:"), proc.stderr

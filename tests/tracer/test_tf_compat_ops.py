"""TensorFlow names composed of existing ops: values against NumPy formulas (including 0,
+-inf, NaN and domain bounds), first derivatives against finite differences where smooth,
and TensorFlow's gradient conventions at the special points, in both tiers."""
import numpy as np
import pytest

import tracer as tt

INF, NAN = np.inf, np.nan


def _same(got, want, rtol=1e-12):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(np.nan_to_num(got), np.nan_to_num(want), rtol=rtol, atol=0)


def _grads(f, *xs):
    """Gradients of sum(f(*xs)) with respect to every float64 argument."""
    ts = [tt.constant(np.asarray(x, np.float64)) for x in xs]
    with tt.GradientTape() as tape:
        for t in ts:
            tape.watch(t)
        y = tt.reduce_sum(f(*ts))
    return [g.numpy() for g in tape.gradient(y, ts)]


def test_divide_no_nan_and_xlogy(tt_backend):
    x = np.array([1.0, INF, NAN, 0.0, 3.0, -2.0])
    y = np.array([0.0, 0.0, 0.0, 0.0, 2.0, 0.5])
    _same(tt.math.divide_no_nan(x, y), [0, 0, 0, 0, 1.5, -4.0])
    gx, gy = _grads(tt.math.divide_no_nan, x, y)
    _same(gx, [0, 0, 0, 0, 0.5, 2.0])
    _same(gy, [0, 0, 0, 0, -0.75, 8.0])
    a = np.array([0.0, 0.0, 0.0, 2.0, 2.0, -1.5])
    b = np.array([0.0, NAN, 3.0, 0.0, 3.0, 0.25])
    with np.errstate(divide="ignore"):
        _same(tt.math.xlogy(a, b), [0, 0, 0, -INF, 2 * np.log(3), -1.5 * np.log(0.25)])
    with np.errstate(divide="ignore"):
        ga, gb = _grads(tt.math.xlogy, a, b)
    _same(ga, [0, 0, 0, -INF, np.log(3), np.log(0.25)])  # TF: 0 where x == 0
    _same(gb, [0, 0, 0, INF, 2 / 3, -6.0])
    pos = [np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.7, 2.0])]
    tt.testing.check_gradients(tt.math.divide_no_nan, pos)
    tt.testing.check_gradients(tt.math.xlogy, pos)



def test_divide_no_nan_and_xlogy_take_a_python_number_in_the_tensors_dtype(tt_backend):
    """A bare Python number beside a float64 tensor is converted to float64, as TensorFlow
    converts it (it became float32, and the pair raised TypeError)."""
    x = tt.constant([0.0, 1.0, 4.0], dtype=tt.float64)
    for got, want in [(tt.math.divide_no_nan(x, 2.0), [0.0, 0.5, 2.0]),
                      (tt.math.divide_no_nan(x, 0), [0.0, 0.0, 0.0]),
                      (tt.math.divide_no_nan(3, x), [0.0, 3.0, 0.75]),
                      (tt.math.xlogy(x, 2.0), [0.0, np.log(2.0), 4 * np.log(2.0)]),
                      (tt.math.xlogy(2.0, x), [-INF, 0.0, 2 * np.log(4.0)])]:
        assert got.dtype == np.float64
        _same(got, want)
    g = tt.grad(lambda v: tt.reduce_sum(tt.math.xlogy(v, 2.0)))(x)
    _same(g, [0.0, np.log(2.0), np.log(2.0)])
    with pytest.raises(TypeError, match="divide_no_nan"):
        tt.math.divide_no_nan(x, tt.constant(2.0))

INVERSE_HYPERBOLIC = [
    (tt.math.asinh, np.arcsinh, [0.0, -0.0, 1e-300, -1e-8, 0.5, -3.0, 1e10, 1e200, 3e8,
                                 INF, -INF, NAN], [-2.0, -0.3, 0.0, 0.4, 5.0]),
    (tt.math.acosh, np.arccosh, [1.0, 1 + 1e-12, 1.5, 2 ** 28, 3e8, 1e300, INF, 0.5, -1e10,
                                 -INF, NAN], [1.2, 2.0, 7.0]),
    (tt.math.atanh, np.arctanh, [0.0, 1e-300, -1e-9, 0.5, -0.999999, 1.0, -1.0, 1.5, INF,
                                 NAN], [-0.9, -0.2, 0.0, 0.3, 0.8]),
]


@pytest.mark.parametrize("f, ref, special, smooth", INVERSE_HYPERBOLIC,
                         ids=["asinh", "acosh", "atanh"])
def test_inverse_hyperbolic_values_and_gradients(f, ref, special, smooth, tt_backend):
    with np.errstate(all="ignore"):
        for dtype, rtol in (("float64", 4e-16), ("float32", 2e-7)):
            x = np.array(special, dtype)
            got = f(tt.constant(x)).numpy()
            assert got.dtype == dtype
            _same(got, ref(x).astype(dtype), rtol)
        g = _grads(f, np.array(special))[0]
        x = np.array(special)
        want = {tt.math.asinh: lambda: 1 / np.hypot(x, 1),
                tt.math.acosh: lambda: 1 / (np.sqrt(x - 1) * np.sqrt(x + 1)),
                tt.math.atanh: lambda: 1 / (1 - x * x)}[f]()
    _same(g, want, 1e-9)  # including derivative 1 at 0 and inf at the domain bounds
    tt.testing.check_gradients(f, [np.array(smooth)], order=2)


def test_softsign_relu6_l2_normalize(tt_backend):
    x = np.array([-INF, -3.0, 0.0, 2.0, 6.0, 7.0, NAN])
    with np.errstate(invalid="ignore"):
        soft = tt.nn.softsign(x)
    _same(soft, [NAN, -0.75, 0, 2 / 3, 6 / 7, 7 / 8, NAN])  # TF's formula
    _same(tt.nn.relu6(x), [0, 0, 0, 2, 6, 6, NAN])
    _same(_grads(tt.nn.relu6, x)[0], [0, 0, 0, 1, 0, 0, 0])  # 1 only for 0 < x < 6
    smooth = np.array([-3.0, -0.5, 0.5, 2.0])
    tt.testing.check_gradients(tt.math.softsign, [smooth], order=2)
    tt.testing.check_gradients(tt.nn.relu6, [np.array([0.5, 3.0, 5.5])])
    assert tt.math.softsign is tt.nn.softsign and tt.math.l2_normalize is tt.nn.l2_normalize
    m = np.array([[3.0, 4.0], [0.0, 0.0]])
    _same(tt.math.l2_normalize(m, axis=1), [[0.6, 0.8], [0, 0]])
    _same(_grads(lambda a: tt.math.l2_normalize(a, axis=1)[1], m)[0], [[0, 0], [1e6, 1e6]])
    tt.testing.check_gradients(lambda a: tt.math.l2_normalize(a, 0), [np.array([1.0, -2.0])])


def test_bias_add_and_matvec(tt_backend):
    rng = np.random.default_rng(0)
    v, b = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=5)
    _same(tt.nn.bias_add(v, b), v + b)
    _same(tt.nn.bias_add(v, b[:3], data_format="NCHW"), v + b[:3, None, None])
    tt.testing.check_gradients(lambda a, c: tt.nn.bias_add(a, c, "NCHW"), [v[:1, :, :2, :2],
                                                                           b[:3]])
    with pytest.raises(ValueError, match="channels on axis 1"):
        tt.nn.bias_add(v, b, data_format="NCHW")
    a, x = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4))
    _same(tt.linalg.matvec(a, x), np.einsum("bij,bj->bi", a, x))
    _same(tt.linalg.matvec(a, x[:, :3], transpose_a=True), np.einsum("bji,bj->bi", a, x[:, :3]))
    _same(tt.linalg.matvec(a, x[0]), a @ x[0])
    tt.testing.check_gradients(lambda m, u: tt.linalg.matvec(m, u, adjoint_a=True),
                               [a[0], x[0, :3]])


def test_segment_sums_count_nonzero_and_logical_xor(tt_backend):
    data = np.arange(12.0).reshape(4, 3)
    got = tt.math.unsorted_segment_sum(data, [2, 0, 2, -1], 3)
    _same(got, [data[1], np.zeros(3), data[0] + data[2]])  # negative ids dropped
    g = _grads(lambda d: tt.math.unsorted_segment_sum(d, [2, 0, 2, -1], 3) * [1, 2, 3], data)
    _same(g[0], [[1, 2, 3], [1, 2, 3], [1, 2, 3], [0, 0, 0]])
    _same(tt.math.segment_sum(data, [0, 0, 1, 3]), [data[0] + data[1], data[2], 0 * data[0],
                                                    data[3]])
    with pytest.raises(ValueError, match="sorted"):
        tt.math.segment_sum(data, [1, 0, 1, 2])
    c = tt.math.count_nonzero(np.array([[0.0, NAN, -0.0], [1.0, 0.0, INF]]), axis=1)
    assert c.dtype == tt.int64 and c.numpy().tolist() == [1, 2]
    assert tt.math.count_nonzero([[True, False]], keepdims=True, dtype=tt.int32).numpy() \
        .tolist() == [[1]]
    p, q = np.array([True, True, False, False]), np.array([True, False, True, False])
    assert tt.math.logical_xor(p, q).numpy().tolist() == [False, True, True, False]
    with pytest.raises(TypeError, match="bool"):
        tt.math.logical_xor([1.0], [0.0])


def test_aliases_and_random():
    assert tt.truediv is tt.divide and tt.realdiv is tt.divide and tt.floormod is tt.mod
    assert tt.math.floormod is tt.mod and tt.asinh is tt.math.asinh
    assert tt.math.add_n is tt.add_n
    t = tt.random.truncated_normal([20000], mean=1.0, stddev=2.0, seed=3, dtype=tt.float64)
    v = t.numpy()
    assert t.dtype == tt.float64 and np.all(np.abs(v - 1) <= 4)
    assert abs(v.std() - 2 * 0.87962566) < 0.05  # the 2-sigma truncated normal's std
    rows = np.arange(10.0).reshape(5, 2)
    s = tt.random.shuffle(rows, seed=1).numpy()
    assert sorted(s[:, 0].tolist()) == rows[:, 0].tolist() and np.all(s[:, 1] == s[:, 0] + 1)
    with np.errstate(divide="ignore"):
        logits = np.log([[0.25, 0.75, 0.0], [1.0, 0.0, 0.0]])  # -inf: probability 0
    draws = tt.random.categorical(logits, 4000, seed=2)
    assert draws.dtype == tt.int64 and draws.shape == (2, 4000)
    d = draws.numpy()
    assert abs(np.mean(d[0] == 1) - 0.75) < 0.03 and set(d[0]) <= {0, 1} and set(d[1]) == {0}


def test_odd_functions_keep_the_sign_of_zero_and_i1e_is_smooth_at_zero(tt_backend):
    """asinh, elu and selu of -0.0 are -0.0 (NumPy, TensorFlow, JAX); bessel_i1e's
    derivative near 0 comes from its series, so its second derivative is -sign(x) there
    (the closed form i0e - i1e (sign(x) + 1/x) cancels below |x| ~ 1e-8)."""
    z = tt.constant([-0.0, 0.0], tt.float64)
    for f in (tt.math.asinh, tt.nn.elu, tt.nn.selu):
        assert np.signbit(f(z).numpy()).tolist() == [True, False], f.__name__
    x = tt.constant([1e-30, -1e-30, 1e-4, -2e-3, 0.5], tt.float64)
    with tt.GradientTape() as outer:
        outer.watch(x)
        with tt.GradientTape() as inner:
            inner.watch(x)
            y = tt.math.bessel_i1e(x)
        g = inner.gradient(y, x)
    h = outer.gradient(g, x).numpy()
    a = np.abs(x.numpy())
    a = a[:4]
    series = 0.5 - a + 15 / 16 * a ** 2 - 7 / 12 * a ** 3 + 35 / 128 * a ** 4
    np.testing.assert_allclose(g.numpy()[:4], series, rtol=1e-13)
    np.testing.assert_allclose(h[:4], -np.sign(x.numpy()[:4]) * (1 - 15 / 8 * a), rtol=1e-5)
    assert abs(h[4] - -0.39024984) < 1e-7      # the closed form's, away from 0

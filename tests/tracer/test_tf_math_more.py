"""More TensorFlow names: the special functions (values against SciPy, TensorFlow's
gradients at poles and at atan2's origin), the safe products and quotients, segment
reductions, reductions and predicates of tf.math, roll/repeat/meshgrid/searchsorted/
slice/strided_slice/unique, and the tf.nn additions; both tiers where compiled code runs."""
import numpy as np
import pytest
from scipy import special

import tracer as tt
from test_tf_compat_ops import _grads, _same

INF, NAN = np.inf, np.nan


def test_special_functions_values_and_tensorflow_gradients(tt_backend):
    x = np.array([0.3, 1.4616321449683622, 2.5, 7.0, -2.5])
    _same(tt.math.lgamma(x), special.gammaln(x), 1e-14)
    _same(tt.math.digamma(x), special.psi(x), 1e-13)
    _same(tt.math.polygamma(2.0, x), special.polygamma(2, x), 1e-13)
    _same(tt.math.zeta(3.0, x[:4]), special.zeta(3.0, x[:4]), 1e-13)
    _same(_grads(lambda q: tt.math.zeta(3.0, q), x[:4])[0], -3 * special.zeta(4.0, x[:4]),
          1e-13)
    tt.testing.check_gradients(lambda q: tt.math.zeta(3.0, q), [x[:4]], order=2)
    b = np.array([-40.0, -2.0, 0.0, 0.5, 3.0])
    _same(tt.math.bessel_i0e(b), special.i0e(b), 1e-14)
    _same(tt.math.bessel_i1e(b), special.i1e(b), 1e-14)
    _same(_grads(tt.math.bessel_i1e, [0.0])[0], [0.5])
    for f in (tt.math.bessel_i0e, tt.math.bessel_i1e):
        tt.testing.check_gradients(f, [np.array([-2.0, -0.3, 0.4, 5.0])], order=2)
    _same(tt.math.erfc(x), special.erfc(x), 1e-14)
    p = np.array([1e-300, 0.025, 0.5, 0.975, 1 - 2 ** -53])
    _same(tt.math.ndtri(p), special.ndtri(p), 1e-14)
    _same(tt.math.erfinv(2 * p - 1), special.erfinv(2 * p - 1), 1e-14)
    assert tt.math.lgamma(tt.constant(x, tt.float32)).dtype == tt.float32
    # poles: lgamma +inf, digamma NaN, and lgamma's gradient (digamma) NaN, as TensorFlow
    poles = np.array([0.0, -1.0, -3.0])
    _same(tt.math.lgamma(poles), [INF] * 3)
    _same(tt.math.digamma(poles), [NAN] * 3)
    _same(_grads(tt.math.lgamma, poles)[0], [NAN] * 3)
    _same(_grads(tt.math.digamma, x)[0], special.polygamma(1, x), 1e-12)
    _same(_grads(tt.math.erfinv, [0.0, 0.5])[0],
          np.sqrt(np.pi) / 2 * np.exp(special.erfinv([0.0, 0.5]) ** 2), 1e-13)
    assert tt.math.polygamma(0.5, 2.0).numpy() != tt.math.polygamma(0.5, 2.0).numpy()  # NaN
    # atan2(y, x): y first, broadcasting; the gradient at the origin is NaN (TF, JAX)
    y, xx = np.array([[1.0], [-2.0]]), np.array([-1.0, 0.0, 3.0])
    _same(tt.atan2(y, xx), np.arctan2(y, xx))
    assert tt.math.atan2 is tt.atan2
    gy, gx = _grads(tt.atan2, [0.0, 1.0], [0.0, 1.0])
    _same(gy, [NAN, 0.5])
    _same(gx, [NAN, -0.5])
    tt.testing.check_gradients(tt.atan2, [y, xx[[0, 2]]], order=2)


def test_safe_products_and_quotients_follow_tensorflow():
    x = np.array([0.0, 0.0, 2.0, -1.5])
    y = np.array([-1.0, NAN, 0.5, 3.0])
    with np.errstate(all="ignore"):
        _same(tt.math.xlog1py(x, y), [0, 0, 2 * np.log1p(0.5), -1.5 * np.log1p(3.0)])
        gx, gy = _grads(tt.math.xlog1py, x, y)
    _same(gx, [0, 0, np.log1p(0.5), np.log1p(3.0)])       # TF: 0 where x == 0
    _same(gy, [0, 0, 2 / 1.5, -1.5 / 4])
    d = np.array([0.0, 0.0, 2.0, 3.0])
    e = np.array([0.0, NAN, 4.0, -1.5])
    _same(tt.math.xdivy(d, e), [0, 0, 0.5, -2.0])
    gd, ge = _grads(tt.math.xdivy, d, e)
    _same(gd, [0, 0, 0.25, -1 / 1.5])
    _same(ge, [0, 0, -2 / 16, -3 / 2.25])
    _same(tt.math.reciprocal_no_nan([0.0, 4.0, -0.5]), [0.0, 0.25, -2.0])
    _same(_grads(tt.math.reciprocal_no_nan, [0.0, 4.0])[0], [0.0, -1 / 16])
    a = np.array([INF, NAN, 2.0, 2.0])
    b = np.array([0.0, 0.0, 0.0, 3.0])
    _same(tt.math.multiply_no_nan(a, b), [0, 0, 0, 6])
    ga, gb = _grads(tt.math.multiply_no_nan, a, b)
    _same(ga, [0, 0, 0, 3])
    _same(gb[2:], [2, 2])                                  # d/dy = x, also where y == 0
    pos = [np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.7, 2.0])]
    for f in (tt.math.xlog1py, tt.math.xdivy, tt.math.multiply_no_nan):
        tt.testing.check_gradients(f, pos, order=2)
    with pytest.raises(TypeError, match="xdivy"):
        tt.math.xdivy([1], [2])


def test_reductions_scans_and_predicates():
    m = np.array([[3.0, -4.0, 0.5], [1.0, 2.0, -2.0]])
    _same(tt.math.reduce_euclidean_norm(m, axis=1), np.linalg.norm(m, axis=1))
    assert tt.math.reduce_euclidean_norm([3, 4]).numpy() == 5
    tt.testing.check_gradients(lambda v: tt.math.reduce_euclidean_norm(v, 0), [m], order=2)
    v = np.array([0.5, -1.0, 300.0, 2.0])
    _same(tt.math.cumulative_logsumexp(v), np.logaddexp.accumulate(v), 1e-14)
    with np.errstate(divide="ignore"):
        excl = tt.math.cumulative_logsumexp(v, exclusive=True, reverse=True).numpy()
    _same(excl, np.append(np.logaddexp.accumulate(v[::-1])[::-1][1:], -INF), 1e-14)
    _same(tt.math.cumulative_logsumexp(np.array([-INF, -INF])), [-INF, -INF])
    tt.testing.check_gradients(lambda t: tt.math.cumulative_logsumexp(t, axis=1), [m],
                               order=2)
    c = [np.array(2.0), np.array(-1.0), np.array(0.5)]
    _same(tt.math.polyval(c, np.array([0.0, 3.0])), np.polyval([2.0, -1.0, 0.5], [0, 3.0]))
    tt.testing.check_gradients(lambda a, b, t: tt.math.polyval([a, b, 1.0], t),
                               [c[0], c[1], np.array([0.5, -2.0])], order=2)
    _same(tt.math.scalar_mul(2.0, m), 2 * m)
    with pytest.raises(ValueError, match="scalar"):
        tt.math.scalar_mul([1.0, 2.0], m)
    z = tt.math.zero_fraction([[0, 1], [0, 0]])
    assert z.dtype == tt.float32 and float(z) == 0.75
    assert bool(tt.math.is_non_decreasing([[1, 2], [2, 3]]))
    assert not bool(tt.math.is_strictly_increasing([1.0, 2.0, 2.0]))
    assert bool(tt.math.is_strictly_increasing([5])) and bool(tt.math.is_non_decreasing([]))
    assert tt.math.invert_permutation([2, 0, 3, 1]).numpy().tolist() == [1, 3, 0, 2]
    with pytest.raises(ValueError, match="permutation"):
        tt.math.invert_permutation([0, 0, 1])
    pred = np.array([[0.1, 0.5, 0.5, 0.2], [0.3, NAN, 0.2, 0.9], [1.0, 0.0, 0.0, 0.0]])
    got = tt.math.in_top_k([2, 1, 3], pred.astype(np.float32), 1).numpy().tolist()
    assert got == [True, False, False]                     # ties at the boundary count
    assert tt.math.in_top_k([3, 0, 3], pred, 3).numpy().tolist() == [True, True, True]


def test_segment_reductions(tt_backend):
    data = np.array([[1.0, 5.0], [4.0, 5.0], [4.0, -1.0], [0.0, 2.0], [7.0, 7.0]])
    ids = [2, 0, 2, 2, -1]
    low = np.finfo(np.float64).min
    _same(tt.math.unsorted_segment_max(data, ids, 4), [[4, 5], [low, low], [4, 5], [low, low]])
    _same(tt.math.unsorted_segment_min(data, ids, 3), [[4, 5], [-low, -low], [0, -1]])
    _same(tt.math.unsorted_segment_prod(data, ids, 3), [[4, 5], [1, 1], [0, -10]])
    _same(tt.math.unsorted_segment_mean(data, ids, 3), [[4, 5], [0, 0], [5 / 3, 2]])
    # ties share the gradient (TF); the product's gradient is exact with a zero factor
    w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    g = _grads(lambda d: tt.math.unsorted_segment_max(d, ids, 3) * w, data)[0]
    _same(g, [[0, 6], [1, 2], [5, 0], [0, 0], [0, 0]])
    g = _grads(lambda d: tt.math.unsorted_segment_max(d, [0, 0, 1, 1, 1], 2), data)[0]
    _same(g, [[0, 0.5], [1, 0.5], [0, 0], [0, 0], [1, 1]])
    g = _grads(lambda d: tt.math.unsorted_segment_prod(d, ids, 3), data)[0]
    _same(g, [[0, -2], [1, 1], [0, 10], [4, -5], [0, 0]])
    tt.testing.check_gradients(lambda d: tt.math.unsorted_segment_mean(d, ids, 3), [data])
    sorted_ids = [0, 0, 2, 2, 3]
    _same(tt.math.segment_max(data, sorted_ids), [[4, 5], [0, 0], [4, 2], [7, 7]])
    _same(tt.math.segment_min(data, sorted_ids), [[1, 5], [0, 0], [0, -1], [7, 7]])
    _same(tt.math.segment_prod(data, sorted_ids), [[4, 25], [1, 1], [0, -2], [7, 7]])
    _same(tt.math.segment_mean(data, sorted_ids), [[2.5, 5], [0, 0], [2, 0.5], [7, 7]])
    ints = tt.math.unsorted_segment_max(np.array([3, 1, 2], np.int32), [1, 1, 0], 3)
    assert ints.numpy().tolist() == [2, 3, np.iinfo(np.int32).min]
    f = tt.function(lambda d: tt.math.unsorted_segment_max(d, [1, 0, 1, 1, 0], 2))
    _same(f(tt.constant(data)), [[7, 7], [4, 5]])
    with pytest.raises(tt.TracingError, match="segment_ids"):
        tt.function(lambda d, i: tt.math.segment_max(d, i))(tt.constant(data),
                                                           tt.constant(sorted_ids))
    with pytest.raises(ValueError, match="out of range"):
        tt.math.unsorted_segment_max(data, ids, 2)


def test_roll_repeat_meshgrid_searchsorted(tt_backend):
    a = np.arange(12.0).reshape(3, 4)
    _same(tt.roll(a, 1, 1), np.roll(a, 1, 1))
    _same(tt.roll(a, [1, -3, 2], [0, 1, 0]), np.roll(a, [1, -3, 2], [0, 1, 0]))
    rolled = tt.function(lambda x, s: tt.roll(x, s, axis=[0, 1]))
    _same(rolled(tt.constant(a), tt.constant([2, -1])), np.roll(a, [2, -1], [0, 1]))
    tt.testing.check_gradients(lambda x: tt.roll(x, [1, 2], [0, 1]), [a])
    _same(tt.repeat(a, [1, 0, 2], axis=0), np.repeat(a, [1, 0, 2], axis=0))
    _same(tt.repeat(a, 2), np.repeat(a, 2))
    _same(_grads(lambda x: tt.repeat(x, [1, 0, 2], axis=0), a)[0],
          np.array([1.0, 0.0, 2.0])[:, None] * np.ones((3, 4)))
    with pytest.raises(tt.TracingError, match="repeats"):
        tt.function(lambda x, r: tt.repeat(x, r, 0))(tt.constant(a), tt.constant([1, 1, 1]))
    for indexing in ("xy", "ij"):
        got = tt.meshgrid([1.0, 2.0], [3.0, 4.0, 5.0], [6.0], indexing=indexing)
        want = np.meshgrid([1.0, 2.0], [3.0, 4.0, 5.0], [6.0], indexing=indexing)
        for g, w in zip(got, want):
            _same(g, w)
    gx, gy = _grads(lambda u, v: tt.meshgrid(u, v)[0] * 2.0 + tt.meshgrid(u, v)[1],
                    [1.0, 2.0], [3.0, 4.0, 5.0])
    _same(gx, [6.0, 6.0])
    _same(gy, [2.0, 2.0, 2.0])
    s = np.array([[1.0, 2.0, 2.0, 5.0], [0.0, 0.0, 1.0, 3.0]])
    v = np.array([[2.0, 0.0, 6.0], [0.0, 3.0, -1.0]])
    for side in ("left", "right"):
        got = tt.searchsorted(s, v, side=side)
        assert got.dtype == tt.int32
        want = [np.searchsorted(s[i], v[i], side=side) for i in range(2)]
        assert got.numpy().tolist() == np.array(want).tolist()


def test_slice_strided_slice_unique(tt_backend):
    a = np.arange(24.0).reshape(2, 3, 4)
    _same(tt.slice(a, [1, 0, 1], [1, -1, 2]), a[1:2, :, 1:3])
    with pytest.raises(ValueError, match="slice"):
        tt.slice(a, [0, 0, 3], [1, 1, 2])
    cases = [
        (dict(begin=[0, 2, 3], end=[2, 0, 0], strides=[1, -1, -2]), a[0:2, 2:0:-1, 3:0:-2]),
        (dict(begin=[1, 0, 0], end=[2, 3, 4], shrink_axis_mask=1), a[1]),
        (dict(begin=[0, 1, 5], end=[0, 2, 9], begin_mask=1, end_mask=5), a[:, 1:2, 5:]),
        (dict(begin=[0, 0, 1], end=[0, 0, 3], new_axis_mask=2, ellipsis_mask=1),
         a[..., None, 1:3]),
    ]
    for kw, want in cases:
        _same(tt.strided_slice(a, **kw), want)
    g = _grads(lambda x: tt.strided_slice(x, [0, 2, 3], [2, 0, 0], [1, -1, -2]), a)[0]
    want = np.zeros_like(a)
    want[0:2, 2:0:-1, 3:0:-2] = 1.0
    _same(g, want)
    y, idx = tt.unique(tt.constant([3.0, 1.0, 3.0, 2.0, 1.0]))
    assert y.numpy().tolist() == [3.0, 1.0, 2.0] and idx.numpy().tolist() == [0, 1, 0, 2, 1]
    assert idx.dtype == tt.int32 and tt.unique([4, 4], out_idx=tt.int64).idx.dtype == tt.int64
    _same(_grads(lambda x: tt.unique(x).y * [1.0, 2.0], [3.0, 1.0, 3.0])[0], [1, 2, 0])
    with pytest.raises(tt.TracingError, match="unique"):
        tt.function(lambda x: tt.unique(x).y)(tt.constant([1.0, 1.0]))


def test_nn_additions():
    x = np.array([[-3.0, 0.5], [2.0, -0.25]])
    _same(tt.nn.crelu(x), np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], -1))
    z = np.array([[0.0, 1.0], [0.5, 1.0]])
    for q in (0.5, 3.0):
        want = (1 - z) * x + (1 + (q - 1) * z) * np.logaddexp(0, -x)
        _same(tt.nn.weighted_cross_entropy_with_logits(z, x, q), want, 1e-14)
        tt.testing.check_gradients(
            lambda u: tt.nn.weighted_cross_entropy_with_logits(z, u, q), [x], order=2)
    t = np.array([0.0, 1.0, 3.0, 10.0])
    c = np.array([0.5, -1.0, 1.0, 2.0])
    base = np.exp(c) - c * t
    _same(tt.nn.log_poisson_loss(t, c), base, 1e-14)
    stirling = np.where(t > 1, t * np.log(np.maximum(t, 1)) - t +
                        0.5 * np.log(2 * np.pi * np.maximum(t, 1)), 0)
    _same(tt.nn.log_poisson_loss(t, c, compute_full_loss=True), base + stirling, 1e-14)
    tt.testing.check_gradients(lambda u: tt.nn.log_poisson_loss(t, u, True), [c], order=2)
    mean, var = tt.nn.normalize_moments(4.0, [4.0, 8.0], [20.0, 30.0], [1.0, -1.0])
    _same(mean, [2.0, 1.0])
    _same(var, [4.0, 3.5])


def test_aliases():
    assert tt.math.softmax is tt.nn.softmax and tt.math.log_softmax is tt.nn.log_softmax
    assert tt.math.rint([0.5, 1.5, -2.5]).numpy().tolist() == [0.0, 2.0, -2.0]
    for name in ("atan2", "roll", "repeat", "meshgrid", "searchsorted", "slice",
                 "strided_slice", "unique"):
        assert name in tt.__all__


@pytest.mark.parametrize("strides, padding", [(1, "SAME"), (2, "VALID"),
                                              (2, [[0, 0], [1, 0], [0, 2], [0, 0]])])
def test_conv2d_transpose_and_depthwise_conv2d(strides, padding):
    rng = np.random.default_rng(3)
    x = tt.constant(rng.normal(size=(1, 5, 4, 2)))
    w = tt.constant(rng.normal(size=(3, 2, 2, 3)))
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.nn.conv2d(x, w, strides, padding)
    g = tt.constant(rng.normal(size=y.shape))
    _same(tt.nn.conv2d_transpose(g, w, x.shape, strides, padding),
          tape.gradient(y, x, output_gradients=g), 1e-12)
    tt.testing.check_gradients(
        lambda a, b: tt.nn.conv2d_transpose(a, b, x.shape, strides, padding), [g, w])
    wd = tt.constant(rng.normal(size=(2, 3, 2, 2)))
    got = tt.nn.depthwise_conv2d(x, wd, [1, strides, strides, 1], padding)
    want = np.concatenate([tt.nn.conv2d(x[..., c:c + 1], wd[:, :, c:c + 1, :], strides,
                                        padding).numpy() for c in range(2)], -1)
    _same(got, want, 1e-12)
    tt.testing.check_gradients(
        lambda a, b: tt.nn.depthwise_conv2d(a, b, strides, padding), [x, wd])
    with pytest.raises(ValueError, match="does not fit"):
        tt.nn.conv2d_transpose(g, w, (1, 9, 9, 2), strides, padding)

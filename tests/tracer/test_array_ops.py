"""More array operations vs NumPy float64 and finite differences, in both tiers:
cumsum/cumprod, sort/argsort/top_k, split/unstack, pad, reverse, statistics, clipping."""
import numpy as np
import pytest

import tracer as tt

RNG = np.random.default_rng(13)


def r(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, shape)


def check(fn, *arrays, order=2):
    tt.testing.check_gradients(fn, list(arrays), order=order, rtol=1e-5, atol=1e-6)


def _np_cum(f, x, axis, exclusive, reverse):
    if reverse:
        x = np.flip(x, axis)
    y = f(x, axis=axis)
    if exclusive:
        y = np.moveaxis(y, axis, 0)
        ident = 0.0 if f is np.cumsum else 1.0
        y = np.concatenate([np.full((1,) + y.shape[1:], ident), y[:-1]])
        y = np.moveaxis(y, 0, axis)
    return np.flip(y, axis) if reverse else y


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_cumulative_matches_numpy_and_differences(op, exclusive, reverse, tt_backend):
    x = r(3, 4)
    x[1, 1] = 0.0                                     # cumprod's gradient at a zero
    x[2, 1:3] = 0.0                                   # and at two zeros
    fn = getattr(tt, op)
    want = _np_cum(getattr(np, op), x, 1, exclusive, reverse)
    np.testing.assert_allclose(fn(x, axis=1, exclusive=exclusive, reverse=reverse).numpy(),
                               want, rtol=1e-13, atol=1e-15)
    check(lambda a: fn(a, axis=-1, exclusive=exclusive, reverse=reverse), x)


def test_cumprod_gradient_exact_with_zeros():
    x = tt.constant([2.0, 0.0, 3.0, 0.0, 5.0])
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.reduce_sum(tt.cumprod(x))
    # d/dx_i sum_j prod_{k<=j} x_k: only terms up to the second zero survive
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 2.0 + 6.0, 0, 0, 0])


def test_cumsum_integers_and_empty_axis():
    a = np.array([[1, 2], [3, 4]], np.int32)
    out = tt.cumsum(a, axis=0)
    assert out.dtype == tt.int32 and out.numpy().tolist() == [[1, 2], [4, 6]]
    assert tt.cumsum(np.zeros((2, 0)), axis=1, exclusive=True).shape == (2, 0)
    with pytest.raises(ValueError, match="cumsum: axis 2 is out of range"):
        tt.cumsum(a, axis=2)
    with pytest.raises(TypeError, match="cumprod: got dtype bool"):
        tt.cumprod(np.array([True]))


def test_sort_argsort_stable_with_ties(tt_backend):
    x = np.array([[3.0, 1.0, 3.0, 2.0, 1.0], [0.0, -1.0, 0.0, 0.0, 5.0]])
    asc = tt.argsort(x)
    desc = tt.argsort(x, direction="DESCENDING")
    assert asc.dtype == tt.int32 and desc.dtype == tt.int32
    np.testing.assert_array_equal(asc.numpy(), np.argsort(x, kind="stable"))
    # descending: ties keep index order (TensorFlow)
    np.testing.assert_array_equal(desc.numpy(), [[0, 2, 3, 1, 4], [4, 0, 2, 3, 1]])
    np.testing.assert_array_equal(tt.sort(x, direction="DESCENDING").numpy(),
                                  -np.sort(-x, axis=-1))
    np.testing.assert_array_equal(tt.sort(x, axis=0).numpy(), np.sort(x, axis=0))
    check(lambda a: tt.sort(a, axis=0) * tt.constant(np.arange(8.0).reshape(2, 4)), r(2, 4))


def test_top_k_values_indices_and_gradient(tt_backend):
    x = np.array([[1.0, 4.0, 4.0, -2.0, 3.0], [5.0, 5.0, 5.0, 0.0, 1.0]])
    values, indices = tt.math.top_k(x, k=3)
    np.testing.assert_array_equal(values.numpy(), [[4, 4, 3], [5, 5, 5]])
    np.testing.assert_array_equal(indices.numpy(), [[1, 2, 4], [0, 1, 2]])
    assert indices.dtype == tt.int32
    check(lambda a: tt.math.top_k(a, 2)[0], r(3, 6))
    with pytest.raises(ValueError, match=r"top_k: k=6 .* 0\.\.5"):
        tt.math.top_k(x, 6)


def test_split_unstack_reverse(tt_backend):
    x = r(4, 6)
    parts = tt.split(x, 3, axis=1)
    for p, q in zip(parts, np.split(x, 3, axis=1)):
        np.testing.assert_array_equal(p.numpy(), q)
    sizes = tt.split(x, [1, -1, 2], axis=1)
    assert [p.shape for p in sizes] == [(4, 1), (4, 3), (4, 2)]
    rows = tt.unstack(x, axis=0)
    assert len(rows) == 4 and np.array_equal(rows[2].numpy(), x[2])
    np.testing.assert_array_equal(tt.reverse(x, [0, -1]).numpy(), x[::-1, ::-1])
    check(lambda a: tt.concat([p * float(k + 1) for k, p in enumerate(tt.split(a, [2, 4], 1))],
                              1), x)
    with pytest.raises(ValueError, match="split: cannot split axis 1 of size 6"):
        tt.split(x, 4, axis=1)
    with pytest.raises(ValueError, match="split: sizes"):
        tt.split(x, [2, 2], axis=1)


@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC"])
def test_pad_modes(mode, tt_backend):
    x = r(3, 4)
    pads = [[1, 2], [3, 0]] if mode != "REFLECT" else [[2, 1], [3, 2]]
    kw = {"constant_values": 1.5} if mode == "CONSTANT" else {}
    want = np.pad(x, pads, mode=mode.lower(), **kw)
    np.testing.assert_array_equal(tt.pad(x, pads, mode, **kw).numpy(), want)
    check(lambda a: tt.pad(a, pads, mode, **kw), x)


def test_pad_errors():
    with pytest.raises(ValueError, match="REFLECT padding of .3, 0. on axis 0"):
        tt.pad(np.zeros((3, 2)), [[3, 0], [0, 0]], "REFLECT")
    with pytest.raises(ValueError, match="pad: paddings"):
        tt.pad(np.zeros((3, 2)), [[1, 1]])
    with pytest.raises(ValueError, match="pad: mode 'WRAP'"):
        tt.pad(np.zeros((3, 2)), [[1, 1], [0, 0]], "WRAP")


def test_variance_std_any_all(tt_backend):
    x = r(3, 5)
    np.testing.assert_allclose(tt.reduce_variance(x, axis=1).numpy(), np.var(x, axis=1),
                               rtol=1e-13)
    np.testing.assert_allclose(tt.reduce_std(x, axis=[0, 1], keepdims=True).numpy(),
                               np.std(x, keepdims=True), rtol=1e-13)
    check(lambda a: tt.reduce_variance(a, axis=0), x)
    check(lambda a: tt.reduce_std(a, axis=1), x)
    b = x > 0
    assert tt.reduce_any(b, axis=1).numpy().tolist() == b.any(axis=1).tolist()
    assert tt.reduce_all(b).numpy() == b.all()


@pytest.mark.slow
def test_clip_by_norm_and_global_norm(tt_backend):
    x = np.array([[3.0, 4.0], [0.3, 0.4]])
    np.testing.assert_allclose(tt.clip_by_norm(x, 1.0, axes=[1]).numpy(),
                               [[0.6, 0.8], [0.3, 0.4]], rtol=1e-12)
    a, b = r(3), r(2, 2)
    norm = np.sqrt(np.sum(a ** 2) + np.sum(b ** 2))
    np.testing.assert_allclose(tt.global_norm([a, None, b]).numpy(), norm, rtol=1e-13)
    clipped, g = tt.clip_by_global_norm([a, b], 0.5 * norm)
    np.testing.assert_allclose(clipped[0].numpy(), a * 0.5, rtol=1e-12)
    np.testing.assert_allclose(g.numpy(), norm, rtol=1e-13)
    same, _ = tt.clip_by_global_norm([a, b], 2 * norm)
    np.testing.assert_array_equal(same[1].numpy(), b)      # unclipped: unchanged exactly
    check(lambda u, v: tt.clip_by_global_norm([u, v], 0.5 * norm)[0][1], a, b)
    check(lambda u: tt.clip_by_norm(u, 0.5, axes=[1]), r(2, 3))


def test_python_clip_norms_and_pad_constants_take_the_tensors_dtype(tt_backend):
    """A Python number meets a float64 tensor as float64 (TensorFlow converts it in the
    tensor's dtype): 0.3 and 0.1 must not pass through float32 first."""
    x = np.array([0.3, -1.2, 2.5, 0.7])
    want = x * 0.3 / np.sqrt(np.sum(x * x))
    np.testing.assert_allclose(tt.clip_by_norm(x, 0.3).numpy(), want, rtol=4e-16)
    np.testing.assert_allclose(tt.clip_by_global_norm([x], 0.3)[0][0].numpy(), want,
                               rtol=4e-16)
    assert tt.pad(np.zeros(1), [[1, 0]], constant_values=0.1).numpy()[0] == 0.1
    np.testing.assert_array_equal(tt.pad(np.zeros(1, np.int32), [[0, 1]],
                                         constant_values=2).numpy(), [0, 2])
    hot = tt.one_hot([1, 0], 2, on_value=0.3, off_value=0.1, dtype=tt.float64).numpy()
    np.testing.assert_array_equal(hot, [[0.1, 0.3], [0.3, 0.1]])
    got = tt.tensor_scatter_nd_update(np.zeros(3), [[1]], [0.1]).numpy()
    np.testing.assert_array_equal(got, [0.0, 0.1, 0.0])
    got = tt.tensor_scatter_nd_add(np.zeros(3), [[2]], [0.1]).numpy()
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.1])
    # a Python number takes the tensor's dtype on either side (TensorFlow's conversion)
    y = np.array([2.0, 0.7])
    np.testing.assert_array_equal(tt.math.xlogy(0.3, y).numpy(), 0.3 * np.log(y))
    np.testing.assert_array_equal(tt.math.xlogy(y, 0.3).numpy(), y * np.log(0.3))


def test_clipping_gradient_finite_at_zero():
    z = tt.constant(np.zeros(3))
    with tt.GradientTape() as tape:
        tape.watch(z)
        y = tt.reduce_sum(tt.clip_by_global_norm([z], 1.0)[0][0]) + \
            tt.reduce_sum(tt.clip_by_norm(z, 1.0))
    assert np.isfinite(tape.gradient(y, z).numpy()).all()
    out, n = tt.clip_by_global_norm([tt.constant([np.inf, 1.0])], 1.0)
    assert np.isnan(out[0].numpy()).all() and n.numpy() == np.inf


def test_traced_function_matches_eager():
    def f(x, idx):
        top, where = tt.math.top_k(x, 2)
        s = tt.sort(x, axis=0, direction="DESCENDING")
        c = tt.cumprod(tt.pad(x, [[1, 0], [0, 2]], "SYMMETRIC"), axis=1, exclusive=True)
        g = tt.gather_nd(x, idx) + tt.reduce_std(x)
        return tt.reduce_sum(top) + tt.reduce_sum(s * c[1:, :4]) + tt.reduce_sum(g), where
    x = r(3, 4)
    idx = np.array([[0, 1], [2, 3], [0, 1]])
    want = f(tt.constant(x), tt.constant(idx))
    got = tt.function(f)(tt.constant(x), tt.constant(idx))
    np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-12)
    np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    gx = tt.function(tt.grad(lambda a: f(a, tt.constant(idx))[0]))(tt.constant(x))
    tt.testing.check_gradients(lambda a: f(a, tt.constant(idx))[0], [x])
    with tt.GradientTape() as tape:
        a = tt.constant(x)
        tape.watch(a)
        y = f(a, tt.constant(idx))[0]
    np.testing.assert_allclose(gx.numpy(), tape.gradient(y, a).numpy(), rtol=1e-12)

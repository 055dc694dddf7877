"""Advanced indexing (NumPy semantics), gather_nd, scatter_nd, tensor_scatter_nd_*,
boolean_mask: values vs NumPy, gradients with repeated indices, errors."""
import numpy as np
import pytest

import tracer as tt

RNG = np.random.default_rng(8)
X = np.arange(24.0).reshape(2, 3, 4)
MASK = X[..., 0] > 5

KEYS = [1, (tt.constant(1),), ([0, 1],), (slice(None), [2, 0, 2]), ([1, 0], [2, 2]),
        ([1, 0], slice(None), [3, 3]), (0, slice(None), [1, 2]), (Ellipsis, [0, -1]),
        (None, [1, 0]), ([[0, 1], [1, 1]], 1, slice(1, 3)), (MASK,),
        (np.array([True, False]), slice(None), [1, 2]), (np.array(1),),
        ([0, 1], None, [1, 2]), (slice(None), None, [0, 2], [1, 3]),
        (tt.constant([[1], [0]], dtype=tt.int64), tt.constant([0, 2])),
        (slice(None, None, -1), [0, 0]), (np.zeros(0, np.int64),)]


@pytest.mark.parametrize("key", KEYS, ids=lambda k: repr(k)[:40])
def test_advanced_indexing_matches_numpy(key):
    np_key = tuple(k.numpy() if isinstance(k, tt.Tensor) else k for k in key) \
        if isinstance(key, tuple) else key
    want = X[np_key]
    got = tt.constant(X)[key]
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.numpy(), want)


def test_index_gradient_adds_repeated_indices(tt_backend):
    v = tt.constant(np.arange(5.0))
    with tt.GradientTape() as tape:
        tape.watch(v)
        y = tt.reduce_sum(v[[0, 0, 3, -1, 3]] * tt.constant([1.0, 2, 3, 4, 5]))
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [3, 0, 0, 8, 4])
    m = RNG.uniform(-1, 1, (3, 4))
    tt.testing.check_gradients(lambda a: a[[2, 0, 2], 1:3] * a[:, [1, 1]][[0, 0, 2]], [m],
                               order=2)


def test_traced_integer_and_mask_indices():
    f = tt.function(lambda a, i: a[:, i] * 2.0)
    np.testing.assert_array_equal(f(tt.constant(X), tt.constant([2, -1])).numpy(),
                                  X[:, [2, -1]] * 2)
    g = tt.function(lambda a, m: a[m])
    with pytest.raises(tt.TracingError, match="bool mask"):
        g(tt.constant(X), tt.constant(MASK))
    h = tt.function(lambda a, m: tt.boolean_mask(a, m))
    with pytest.raises(tt.TracingError, match="boolean_mask"):
        h(tt.constant(X), tt.constant(MASK))


def test_index_errors_are_clear():
    t = tt.constant(X)
    assert t[tt.constant(1)].shape == (3, 4)       # a 0-d integer tensor is an integer
    with pytest.raises(TypeError, match=r"getitem: unsupported index 1\.5"):
        t[1.5]
    with pytest.raises(TypeError, match="getitem: index tensor has dtype float32"):
        t[tt.constant([1.0])]
    with pytest.raises(TypeError, match="Python bool index"):
        t[True]
    with pytest.raises(IndexError, match="index 5 is out of bounds for a dimension of size 2"):
        t[[5]]
    with pytest.raises(IndexError, match="too many indices"):
        t[[0], [0], [0], [0]]
    with pytest.raises(IndexError, match="cannot be broadcast"):
        t[[0, 1], [0, 1, 2]]
    assert t[np.array([False, True])].shape == (1, 3, 4)   # library still works after


def test_gather_nd_and_scatter_nd(tt_backend):
    p = RNG.uniform(-1, 1, (3, 4, 2))
    idx = np.array([[1, 2], [0, 3], [1, 2]])
    np.testing.assert_array_equal(tt.gather_nd(p, idx).numpy(), p[idx[:, 0], idx[:, 1]])
    np.testing.assert_array_equal(tt.gather_nd(p, [[2]]).numpy(), p[[2]])
    tt.testing.check_gradients(lambda a: tt.gather_nd(a, idx), [p], order=2)
    upd = RNG.uniform(-1, 1, (3, 2))
    want = np.zeros((3, 4, 2))
    np.add.at(want, (idx[:, 0], idx[:, 1]), upd)
    np.testing.assert_allclose(tt.scatter_nd(idx, upd, [3, 4, 2]).numpy(), want, rtol=1e-15)
    tt.testing.check_gradients(lambda u: tt.scatter_nd(idx, u, [3, 4, 2]), [upd], order=2)
    with pytest.raises(ValueError, match=r"scatter_nd: updates have shape \(2, 2\)"):
        tt.scatter_nd(idx, upd[:2], [3, 4, 2])
    with pytest.raises(IndexError, match="gather_nd: index 4 is out of bounds"):
        tt.gather_nd(p, [[0, 4]])
    with pytest.raises(TypeError, match="gather_nd: indices have dtype float32"):
        tt.gather_nd(p, [[0.0, 1.0]])


def test_tensor_scatter_nd_update_and_add(tt_backend):
    t = RNG.uniform(-1, 1, (5, 2))
    idx = np.array([[1], [3], [1]])
    upd = RNG.uniform(-1, 1, (3, 2))
    added = t.copy()
    np.add.at(added, idx[:, 0], upd)
    np.testing.assert_allclose(tt.tensor_scatter_nd_add(t, idx, upd).numpy(), added,
                               rtol=1e-15)
    replaced = t.copy()
    replaced[idx[:, 0]] = upd                       # repeated index: the last update wins
    np.testing.assert_array_equal(tt.tensor_scatter_nd_update(t, idx, upd).numpy(), replaced)
    tt.testing.check_gradients(lambda a, u: tt.tensor_scatter_nd_update(a, idx, u), [t, upd],
                               order=2)
    tt.testing.check_gradients(lambda a, u: tt.tensor_scatter_nd_add(a, idx, u), [t, upd])


def test_boolean_mask(tt_backend):
    x = RNG.uniform(-1, 1, (2, 3, 2))
    m = np.array([[True, False, True], [False, False, True]])
    np.testing.assert_array_equal(tt.boolean_mask(x, m).numpy(), x[m])
    np.testing.assert_array_equal(tt.boolean_mask(x, [True, False, True], axis=1).numpy(),
                                  x[:, [0, 2]])
    tt.testing.check_gradients(lambda a: tt.boolean_mask(a, m), [x], order=2)
    assert tt.boolean_mask(x, np.zeros((2, 3), bool)).shape == (0, 2)
    with pytest.raises(ValueError, match=r"boolean_mask: mask of shape \(3,\)"):
        tt.boolean_mask(x, [True, False, True])

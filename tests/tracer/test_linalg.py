"""matmul, tensordot, einsum (vs NumPy and finite differences), and tt.nn / tt.math."""
import numpy as np
import pytest

import tracer as tt

RNG = np.random.default_rng(99)


def fd_check(fn, *arrays, eps=1e-6, tol=1e-6):
    """Tape gradient of a random projection of fn(*xs) vs central differences (float64)."""
    tt.testing.check_gradients(fn, list(arrays), eps=eps, rtol=tol, atol=tol)


def r(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, shape)


MATMUL = [((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 3), (3,)), ((3,), (3,)),
          ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((2, 1, 2, 3), (4, 3, 2))]


@pytest.mark.parametrize("sa,sb", MATMUL, ids=str)
def test_matmul_matches_numpy(sa, sb, tt_backend):
    a, b = r(*sa), r(*sb)
    np.testing.assert_allclose(tt.matmul(a, b).numpy(), a @ b, rtol=1e-12)
    fd_check(tt.matmul, a, b)


def test_matmul_promotes_and_keeps_integers():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert tt.matmul(a, a.T).dtype == tt.int32
    assert tt.matmul(a, a.T.astype(np.float32)).dtype == tt.float64
    assert (tt.constant(a.astype(np.float32)) @ a.T.astype(np.float32)).dtype == tt.float32


TENSORDOT = [((2, 3, 4), (4, 5), 1), ((2, 3, 4), (3, 4, 5), 2), ((2, 3), (4,), 0),
             ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])), ((2, 3), (3, 2), (0, 1)),
             ((3, 4), (3, 4), 2), ((2, 3, 4), (4, 2), ((2, 0), (0, 1)))]


@pytest.mark.parametrize("sa,sb,axes", TENSORDOT, ids=str)
def test_tensordot_matches_numpy_and_differentiates(sa, sb, axes, tt_backend):
    a, b = r(*sa), r(*sb)
    np.testing.assert_allclose(tt.tensordot(a, b, axes).numpy(), np.tensordot(a, b, axes),
                               rtol=1e-12, atol=1e-14)
    fd_check(lambda x, y: tt.tensordot(x, y, axes), a, b)


EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]), ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]), ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(3,), (4,)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("iij->j", [(3, 3, 2)]), ("ijk,ikl->jl", [(2, 3, 4), (2, 4, 5)]), ("iji->j", [(3, 2, 3)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]), ("ba", [(2, 3)]), ("...->...", [(2, 3)]),
    ("ij...,jk->ik...", [(2, 3, 5), (3, 4)]), (",i->i", [(), (3,)]), ("i,jk->", [(2,), (3, 4)]),
    ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]), ("a,ab,bc->c", [(2,), (2, 3), (3, 4)]),
    ("i j , j k -> k i", [(2, 3), (3, 4)]), ("...i,...i->...", [(2, 1, 3), (4, 3)]),
    ("ij,kj->ik", [(2, 3), (4, 3)]), ("abc->cab", [(2, 3, 4)]), ("i->", [(4,)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM, ids=[e[0] for e in EINSUM])
def test_einsum_matches_numpy_and_differentiates(subscripts, shapes, tt_backend):
    xs = [r(*s) for s in shapes]
    ref = np.einsum(subscripts, *xs)
    out = tt.einsum(subscripts, *xs)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-14)
    fd_check(lambda *ts: tt.einsum(subscripts, *ts), *xs)


def test_einsum_dtypes_and_second_order():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert tt.einsum("ij,kj->ik", a, a).dtype == tt.int32
    np.testing.assert_array_equal(tt.einsum("ij,kj->ik", a, a).numpy(), a @ a.T)
    x = tt.constant(r(3))
    with tt.GradientTape() as outer:
        outer.watch(x)
        with tt.GradientTape() as inner:
            inner.watch(x)
            y = tt.einsum("i,i->", x, x) * tt.einsum("i->", x)
        g = inner.gradient(y, x)
    h = outer.jacobian(g, x)
    xv = np.asarray(x)
    # y = |x|^2 s, s = sum x: H = 2 s I + 2 x 1^T + 2 1 x^T
    ref = 2 * xv.sum() * np.eye(3) + 2 * xv[:, None] + 2 * xv[None, :]
    np.testing.assert_allclose(h.numpy(), ref, rtol=1e-12)


# -- tt.nn and tt.math -------------------------------------------------------------------------

def _np_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_nn_softmax_family_matches_numpy(axis):
    x = r(3, 4, lo=-3, hi=3)
    ls = _np_log_softmax(x, axis)
    np.testing.assert_allclose(tt.nn.log_softmax(x, axis).numpy(), ls, rtol=1e-12)
    np.testing.assert_allclose(tt.nn.softmax(x, axis).numpy(), np.exp(ls), rtol=1e-12)
    y = np.exp(_np_log_softmax(r(3, 4), axis))
    np.testing.assert_allclose(
        tt.nn.softmax_cross_entropy_with_logits(y, x, axis).numpy(), -(y * ls).sum(axis),
        rtol=1e-12)


def test_nn_is_stable_for_large_logits():
    x = np.array([[1000.0, 0.0, -1000.0]], np.float32)
    assert np.isfinite(tt.nn.softmax(x).numpy()).all()
    assert tt.nn.log_softmax(x).numpy()[0, 2] == pytest.approx(-2000)
    assert tt.nn.softmax_cross_entropy_with_logits([[0.0, 0.0, 1.0]], x).numpy()[0] == \
        pytest.approx(2000)
    assert tt.nn.softplus(np.float32(1000)).numpy() == 1000
    assert tt.math.log_sigmoid(np.float32(-1000)).numpy() == -1000


def test_nn_values():
    x = r(5)
    assert tt.nn.l2_loss(x).numpy() == pytest.approx((x ** 2).sum() / 2)
    np.testing.assert_allclose(tt.nn.relu(x).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(tt.nn.tanh(x).numpy(), np.tanh(x))
    z = (r(5) > 0).astype(np.float64)
    ref = -(z * np.log(1 / (1 + np.exp(-x))) + (1 - z) * np.log(1 - 1 / (1 + np.exp(-x))))
    np.testing.assert_allclose(tt.nn.sigmoid_cross_entropy_with_logits(z, x).numpy(), ref,
                               rtol=1e-12)


NN_GRADS = [
    ("softmax", lambda x: tt.nn.softmax(x), [r(2, 4)]),
    ("softmax_axis0", lambda x: tt.nn.softmax(x, axis=0), [r(3, 2)]),
    ("log_softmax", lambda x: tt.nn.log_softmax(x), [r(2, 4)]),
    ("xent", lambda y, x: tt.nn.softmax_cross_entropy_with_logits(y, x), [r(2, 3), r(2, 3)]),
    ("sigmoid_xent", lambda y, x: tt.nn.sigmoid_cross_entropy_with_logits(y, x),
     [r(4), r(4) * 3]),
    ("l2_loss", tt.nn.l2_loss, [r(2, 3)]),
    ("softplus", tt.nn.softplus, [r(4) * 5]),
    ("log_sigmoid", tt.math.log_sigmoid, [r(4) * 5]),
    ("sigmoid", tt.nn.sigmoid, [r(4) * 5]),
]


@pytest.mark.parametrize("name,fn,args", NN_GRADS, ids=[g[0] for g in NN_GRADS])
def test_nn_gradients_match_finite_differences(name, fn, args):
    fd_check(fn, *args)


def test_math_namespace():
    x = np.array([1.0, np.nan, np.inf, -np.inf])
    assert tt.math.is_nan(x).numpy().tolist() == [False, True, False, False]
    assert tt.math.is_inf(x).numpy().tolist() == [False, False, True, True]
    assert tt.math.is_finite(x).numpy().tolist() == [True, False, False, False]
    b = np.array([[True, False], [True, True]])
    assert tt.math.reduce_any(b, axis=1).numpy().tolist() == [True, True]
    assert tt.math.reduce_all(b, axis=1).numpy().tolist() == [False, True]
    assert not tt.math.reduce_any(np.zeros((0,), bool)).numpy()
    for name in ("sin exp log reduce_sum reduce_mean sigmoid softplus square sqrt abs "
                 "maximum minimum pow add multiply subtract divide reduce_logsumexp "
                 "squared_difference").split():
        assert getattr(tt.math, name) is getattr(tt, name)

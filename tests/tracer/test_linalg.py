"""matmul, tensordot, einsum (vs NumPy and finite differences)."""
import numpy as np
import pytest

import tracer as tt
from tracer.testing import check_gradients

RNG = np.random.default_rng(99)


def r(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, shape)


# rank >= 2 only: vectors raise ValueError, as in TensorFlow (tests/tracer/test_nans_and_messages)
MATMUL = [((2, 3), (3, 4)), ((1, 3), (3, 2)), ((2, 3), (3, 1)),
          ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((2, 1, 2, 3), (4, 3, 2))]


@pytest.mark.parametrize("sa,sb", MATMUL, ids=str)
def test_matmul_matches_numpy(sa, sb, tt_backend):
    a, b = r(*sa), r(*sb)
    np.testing.assert_allclose(tt.matmul(a, b).numpy(), a @ b, rtol=1e-12)
    check_gradients(tt.matmul, [a, b], rtol=1e-6, atol=1e-6)


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
    check_gradients(lambda x, y: tt.tensordot(x, y, axes), [a, b], rtol=1e-6,
                    atol=1e-6)


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
    check_gradients(lambda *ts: tt.einsum(subscripts, *ts), xs, rtol=1e-6, atol=1e-6)


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

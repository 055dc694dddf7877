"""Answers at special points that differential checks against JAX and PyTorch found wrong:
each test pins the value JAX/PyTorch give (and mathematics: these functions are smooth
there)."""
import numpy as np
import pytest

import tracer as tt

SINGULAR = [
    np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),      # rank 2
    np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0]),                       # rank 1
    np.zeros((3, 3)),
]


def _adjugate_t(a):
    """adj(A)^T from cofactors (the gradient of det)."""
    n = a.shape[-1]
    out = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, 0), j, 1)
            out[i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return out


@pytest.mark.parametrize("which", range(len(SINGULAR)))
def test_det_gradient_at_a_singular_matrix_is_the_adjugate(tt_backend, which):
    a = SINGULAR[which]
    want = _adjugate_t(a)
    tt.testing.assert_allclose(tt.grad(tt.linalg.det)(a), want, rtol=1e-10, atol=1e-12)
    x = tt.constant(a)
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.linalg.det(x)
    tt.testing.assert_allclose(tape.gradient(y, x), want, rtol=1e-10, atol=1e-12)
    t = np.arange(9.0).reshape(3, 3) / 9
    _, jt = tt.jvp(tt.linalg.det, (a,), (t,))
    tt.testing.assert_allclose(jt, np.sum(want * t), rtol=1e-10, atol=1e-12)
    batch = np.stack([a, a + np.eye(3)]).astype(np.float32)
    got = tt.grad(lambda m: tt.reduce_sum(tt.linalg.det(m)))(batch)
    assert got.dtype == np.float32
    tt.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)
    tt.testing.assert_allclose(got[1], _adjugate_t(batch[1].astype(np.float64)), rtol=1e-5,
                               atol=1e-5)


def test_det_gradient_and_hessian_unchanged_at_a_regular_matrix(tt_backend):
    a = np.array([[2.0, 1.0, 0.5], [0.3, 3.0, -1.0], [1.0, 0.2, 4.0]])
    inv = np.linalg.inv(a)
    det = np.linalg.det(a)
    tt.testing.assert_allclose(tt.grad(tt.linalg.det)(a), det * inv.T, rtol=1e-12)
    # d2 det / dA_ij dA_kl = det (inv_ji inv_lk - inv_li inv_jk)
    want = det * (np.einsum("ji,lk->ijkl", inv, inv) - np.einsum("li,jk->ijkl", inv, inv))
    tt.testing.assert_allclose(tt.hessian(tt.linalg.det)(a), want, rtol=1e-10, atol=1e-12)


def test_einsum_with_an_empty_contracted_label_is_zeros(tt_backend):
    a, b = np.zeros((3, 0)), np.zeros((0, 2))
    out = tt.einsum("ij,jk->ik", a, b)
    assert out.shape == (3, 2)
    tt.testing.assert_allclose(out, np.zeros((3, 2)))
    assert tt.einsum("ij,j->ij", np.ones((3, 0)), np.ones(1)).shape == (3, 0)
    g = tt.grad(lambda x, y: tt.reduce_sum(tt.einsum("ij,jk->ik", x, y)), argnums=(0, 1))
    ga, gb = g(a, b)
    assert ga.shape == (3, 0) and gb.shape == (0, 2)


def test_hessian_is_forward_over_reverse_where_a_second_derivative_is_infinite(tt_backend):
    """hessian = jacfwd(grad) as JAX's: sqrt''(0) = -inf, and the 0 * inf of the other
    directions makes row 0 NaN (d grad_0 / dx_j), not column 0 (reverse over reverse)."""
    x = np.array([0.0, 1.0, 4.0])
    h = tt.hessian(lambda v: tt.reduce_sum(tt.sqrt(v)))(x).numpy()
    want = np.array([[-np.inf, np.nan, np.nan], [0.0, -0.25, 0.0], [0.0, 0.0, -0.03125]])
    np.testing.assert_array_equal(h, want)
    rows = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 0.0]])        # std of a constant row
    h = tt.hessian(lambda v: tt.reduce_sum(tt.reduce_std(v, 1)))(rows).numpy()
    assert np.isnan(h[1]).all()
    assert np.isfinite(h[0, :, 0]).all() and (h[0, :, 1] == 0).all()


class _ArrayLike:
    """An object that is not a NumPy array but converts to one (as JAX and PyTorch arrays)."""

    def __init__(self, array):
        self.array = array

    def __array__(self, dtype=None, copy=None):
        return self.array if dtype is None else self.array.astype(dtype)


def test_array_likes_keep_their_dtype_as_numpy_arrays_do():
    x = _ArrayLike(np.array([0.1, 0.2], np.float64))
    t = tt.constant(x)
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t.numpy(), [0.1, 0.2])
    assert (tt.constant(np.ones(2, np.float32)) * x).dtype == np.float64
    assert tt.constant(_ArrayLike(np.arange(3, dtype=np.int64))).dtype == np.int64
    assert tt.constant(x, dtype=tt.float32).dtype == np.float32
    assert tt.constant([0.1, 0.2]).dtype == np.float32        # Python lists: TF's float32

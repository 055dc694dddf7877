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
@pytest.mark.slow
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


@pytest.mark.slow
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


def _det_hessian(a):
    """d2 det / dA_ij dA_kl from the (n-2)-minors (zero where i == k or j == l)."""
    n = a.shape[-1]
    h = np.zeros((n,) * 4)
    for i, j, k, l in np.ndindex(n, n, n, n):
        if i != k and j != l:
            minor = np.delete(np.delete(a, [i, k], 0), [j, l], 1)
            sign = (-1) ** (i + j + k + l) * (1 if (i < k) == (j < l) else -1)
            h[i, j, k, l] = sign * np.linalg.det(minor)
    return h


def test_det_hessian_at_singular_matrices_is_finite(tt_backend):
    """det is a polynomial: its second derivatives are (n-2)-minors, finite at singular
    matrices (JAX's too); d adj(A) comes from the SVD there, not from A^-1."""
    hess = tt.hessian(tt.linalg.det)
    for a in SINGULAR + [np.array([[2.0, 1.0, 0.5], [0.3, 3.0, -1.0], [1.0, 0.2, 4.0]])]:
        tt.testing.assert_allclose(hess(a), _det_hessian(a), rtol=1e-9, atol=1e-12)
    x, t = SINGULAR[0], np.arange(9.0).reshape(3, 3) / 9
    _, jt = tt.jvp(tt.grad(tt.linalg.det), (x,), (t,))                 # forward over reverse
    tt.testing.assert_allclose(jt, np.einsum("ijkl,kl->ij", _det_hessian(x), t), atol=1e-12)


def test_slogdet_sign_has_zero_derivatives_at_a_singular_matrix(tt_backend):
    """The sign is piecewise constant (JAX: symbolic zero); log|det|'s gradient is the
    inverse transpose as before."""
    sign = lambda m: tt.linalg.slogdet(m)[0]
    for a in SINGULAR[:2]:
        np.testing.assert_array_equal(tt.grad(sign)(a).numpy(), np.zeros((3, 3)))
        assert tt.jvp(sign, (a,), (np.ones((3, 3)),))[1].numpy() == 0.0
        np.testing.assert_array_equal(tt.hessian(sign)(a).numpy(), np.zeros((3,) * 4))
    a = np.array([[2.0, 1.0], [1.0, -3.0]])
    tt.testing.assert_allclose(tt.grad(lambda m: tt.linalg.slogdet(m)[1])(a),
                               np.linalg.inv(a).T, rtol=1e-12)
    # a tape gives zeros for the sign, as TensorFlow's (it is connected, not None)
    for m in (a, SINGULAR[0]):
        mt = tt.constant(m)
        with tt.GradientTape() as tape:
            tape.watch(mt)
            s, _ = tt.linalg.slogdet(mt)
        np.testing.assert_array_equal(tape.gradient(s, mt).numpy(), np.zeros(m.shape))


def test_variance_over_an_empty_axis_is_a_constant_nan(tt_backend):
    """NaN (0 / 0) in value, but a constant: tangent 0, as JAX's where(N > 0, var, nan);
    std's tangent is NaN in both (sqrt'(NaN))."""
    x, t = np.ones((3, 0)), np.ones((3, 0))
    f = lambda v: (tt.reduce_variance(v, axis=1), tt.reduce_variance(v, keepdims=True),
                   tt.reduce_std(v, axis=1))
    (var, var_all, _), (jt, jt_all, jt_std) = tt.jvp(f, (x,), (t,))
    assert np.isnan(var.numpy()).all() and np.isnan(var_all.numpy()).all()
    assert var.shape == jt.shape == (3,) and var_all.shape == jt_all.shape == (1, 1)
    np.testing.assert_array_equal(jt.numpy(), np.zeros(3))
    np.testing.assert_array_equal(jt_all.numpy(), np.zeros((1, 1)))
    assert np.isnan(jt_std.numpy()).all()


def _batched_take(x, idx, axis, batch_dims):
    """TensorFlow's gather with batch_dims, by a loop over the batch."""
    if batch_dims == 0:
        return np.take(x, idx, axis=axis)
    return np.stack([_batched_take(x[i], idx[i], axis - 1, batch_dims - 1)
                     for i in range(x.shape[0])])


@pytest.mark.parametrize("shapes, axis, batch_dims", [
    (((2, 5, 3), (2, 4)), 1, 1),
    (((2, 3, 5, 4), (2, 3, 6)), 3, 2),
    (((2, 3, 5, 4), (2, 2, 2)), 2, -2),
])
def test_gather_with_batch_dims(tt_backend, shapes, axis, batch_dims):
    rng = np.random.default_rng(7)
    x = rng.normal(size=shapes[0])
    b = batch_dims % len(shapes[1])
    n = shapes[0][axis]
    idx = rng.integers(-n, n, shapes[1]).astype(np.int32)
    want = _batched_take(x, idx, axis, b)
    f = lambda p, i: tt.gather(p, i, axis=axis, batch_dims=batch_dims)
    tt.testing.assert_allclose(f(x, idx), want, rtol=0)
    w = rng.normal(size=want.shape)
    g = tt.grad(lambda p: tt.reduce_sum(f(p, idx) * w))(x).numpy()
    want_g = np.zeros_like(x)
    for pos in np.ndindex(*want.shape):             # each output element reads one input
        src = pos[:axis] + (idx[pos[:b] + pos[axis:axis + idx.ndim - b]] % n,) + \
            pos[axis + idx.ndim - b:]
        want_g[src] += w[pos]
    tt.testing.assert_allclose(g, want_g, rtol=1e-12)
    xs, ids = np.stack([x, -x]), np.stack([idx, idx[::-1]])
    tt.testing.assert_allclose(tt.vmap(f)(xs, ids),
                               np.stack([_batched_take(p, i, axis, b) for p, i in zip(xs, ids)]),
                               rtol=0)


def test_gather_nd_with_batch_dims(tt_backend):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 5, 3, 2))
    idx = np.stack([rng.integers(0, 5, (2, 4)), rng.integers(0, 3, (2, 4))], -1)
    want = np.stack([x[b][idx[b, :, 0], idx[b, :, 1]] for b in range(2)])
    f = lambda p: tt.gather_nd(p, idx, batch_dims=1)
    tt.testing.assert_allclose(f(x), want, rtol=0)
    w = rng.normal(size=want.shape)
    want_g = np.zeros_like(x)
    for b in range(2):
        np.add.at(want_g[b], (idx[b, :, 0], idx[b, :, 1]), w[b])
    tt.testing.assert_allclose(tt.grad(lambda p: tt.reduce_sum(f(p) * w))(x), want_g,
                               rtol=1e-12)


def test_gather_batch_dims_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"batch_dims=1 leading axes .* \(2, 3\) .* \(3, 1\)"):
        tt.gather(np.ones((2, 3)), np.zeros((3, 1), np.int32), batch_dims=1)
    with pytest.raises(ValueError, match="axis 0 is inside the batch_dims=1"):
        tt.gather(np.ones((2, 3)), np.zeros((2, 1), np.int32), axis=0, batch_dims=1)
    with pytest.raises(ValueError, match="valid are -2..1"):
        tt.gather(np.ones((2, 3)), np.zeros((2, 1), np.int32), batch_dims=2)
    with pytest.raises(ValueError, match="gather_nd: batch_dims=2"):
        tt.gather_nd(np.ones((2, 3)), np.zeros((2, 1), np.int32), batch_dims=2)


def test_jacfwd_of_integer_outputs_is_zeros_of_their_dtype(tt_backend):
    """JAX's jacfwd gives integer outputs a zero (float0) tangent, returned as zeros of
    the output's dtype; float outputs beside them are differentiated as usual. jacrev
    raises, as JAX's."""
    x = np.array([3.0, 1.0, 2.0])
    f = lambda v: {"order": tt.argsort(v), "big": v > 1.5, "sq": v * v}
    jac = tt.jacfwd(f)(x)
    assert jac["order"].dtype == np.int32 and jac["order"].shape == (3, 3)
    assert jac["big"].dtype == np.bool_ and not jac["big"].numpy().any()
    np.testing.assert_array_equal(jac["order"].numpy(), np.zeros((3, 3)))
    tt.testing.assert_allclose(jac["sq"], np.diag(2 * x))
    ji, jc = tt.jacfwd(lambda v, c: tt.argmax(v * c), argnums=(0, 1))(x, 2.0)
    assert ji.shape == (3,) and jc.shape == () and ji.dtype == jc.dtype == np.int64
    with pytest.raises(TypeError, match="jacrev: .* must return float tensors, got dtype int32"):
        tt.jacrev(lambda v: tt.argsort(v))(x)



def _det_third(a, t, s, r, h=0.5):
    """d3 det(A)[T, S, R] from the 8-point mixed difference: exact (up to rounding) for
    n <= 4, where det(A + xT + yS + zR) has degree 4 and only the xyz term survives."""
    signs = [(i, j, k) for i in (1, -1) for j in (1, -1) for k in (1, -1)]
    return sum(i * j * k * np.linalg.det(a + h * (i * t + j * s + k * r))
               for i, j, k in signs) / (8 * h ** 3)


def test_det_third_derivative_at_singular_matrices_is_finite(tt_backend):
    """The adjugate's second derivative (adjugate_hvp) comes from the SVD, exact at any
    rank: JAX's third derivative is NaN or wrong at rank-deficient 4x4 matrices."""
    rng = np.random.default_rng(7)
    b = rng.normal(size=(4, 2))
    a = np.stack([b @ rng.normal(size=(2, 4)), np.outer(b[:, 0], b[:, 1]),
                  np.zeros((4, 4)), rng.normal(size=(4, 4))])      # rank 2, 1, 0, 4
    t, s, r = rng.normal(size=(3, 4, 4, 4))

    def along(f, d):
        return lambda m: tt.jvp(f, (m,), (d,))[1]

    got = along(along(along(tt.linalg.det, t), s), r)(a)          # forward over forward
    want = [_det_third(*m) for m in zip(a, t, s, r)]
    tt.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    hess = tt.hessian(tt.linalg.det)                              # reverse, then forward
    third = tt.jacfwd(hess)(a[1]).numpy()
    assert np.isfinite(third).all()
    tt.testing.assert_allclose(np.einsum("ijklmn,ij,kl,mn->", third, t[1], s[1], r[1]),
                               want[1], rtol=1e-9, atol=1e-9)

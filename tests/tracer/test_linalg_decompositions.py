"""tt.linalg solves, factorizations, determinants and norms vs NumPy float64 and finite
differences (first and second order), batched, singular and empty, in both tiers."""
import numpy as np
import pytest

import tracer as tt

RNG = np.random.default_rng(21)


def r(*shape):
    return RNG.uniform(-1, 1, shape)


def spd(*shape):
    a = r(*shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def well(*shape):
    return r(*shape) + 3 * np.eye(shape[-1])


def check(fn, *arrays, order=2):
    tt.testing.check_gradients(fn, list(arrays), order=order, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch", [(), (2,), (2, 1)], ids=str)
def test_inverse_solve_det_match_numpy(batch, tt_backend):
    a, b = well(*batch, 3, 3), r(*batch, 3, 2)
    np.testing.assert_allclose(tt.linalg.inv(a).numpy(), np.linalg.inv(a), rtol=1e-12)
    np.testing.assert_allclose(tt.linalg.solve(a, b).numpy(), np.linalg.solve(a, b),
                               rtol=1e-12)
    np.testing.assert_allclose(tt.linalg.det(a).numpy(), np.linalg.det(a), rtol=1e-12)
    sign, logabs = tt.linalg.slogdet(-a)
    want = np.linalg.slogdet(-a)
    np.testing.assert_array_equal(sign.numpy(), want[0])
    np.testing.assert_allclose(logabs.numpy(), want[1], rtol=1e-12)
    check(tt.linalg.inv, a)
    check(tt.linalg.solve, a, b)
    check(lambda m: tt.linalg.solve(m, b, adjoint=True), a)
    check(tt.linalg.det, a)
    check(lambda m: tt.linalg.slogdet(m)[1], a)


def test_solve_broadcasts_batch_dimensions():
    a, b = well(2, 1, 3, 3), r(4, 3, 1)
    np.testing.assert_allclose(tt.linalg.solve(a, b).numpy(), np.linalg.solve(a, b),
                               rtol=1e-12)
    with pytest.raises(ValueError, match=r"solve: matrix has shape \(3, 3\) and rhs has shape "
                                         r"\(3,\)"):
        tt.linalg.solve(a[0, 0], b[0, :, 0])
    with pytest.raises(ValueError, match="inv: input has shape .2, 3.; it needs square"):
        tt.linalg.inv(r(2, 3))
    with pytest.raises(TypeError, match="cholesky: got dtype int32"):
        tt.linalg.cholesky(np.eye(2, dtype=np.int32))


@pytest.mark.parametrize("batch", [(), (2,)], ids=str)
def test_cholesky_logdet_triangular_solve(batch, tt_backend):
    a, b = spd(*batch, 4, 4), r(*batch, 4, 2)
    low = np.linalg.cholesky(a)
    np.testing.assert_allclose(tt.linalg.cholesky(a).numpy(), low, rtol=1e-12)
    np.testing.assert_allclose(tt.linalg.logdet(a).numpy(), np.linalg.slogdet(a)[1],
                               rtol=1e-12)
    for lower, adjoint in [(True, False), (True, True), (False, False), (False, True)]:
        m = low if lower else np.swapaxes(low, -1, -2)
        op = np.swapaxes(m, -1, -2) if adjoint else m
        got = tt.linalg.triangular_solve(m, b, lower=lower, adjoint=adjoint).numpy()
        np.testing.assert_allclose(got, np.linalg.solve(op, b), rtol=1e-10)
    check(tt.linalg.cholesky, a)
    check(tt.linalg.logdet, a)
    check(lambda m, v: tt.linalg.triangular_solve(m, v, lower=True), low, b)
    check(lambda m, v: tt.linalg.triangular_solve(m, v, lower=False, adjoint=True),
          np.swapaxes(low, -1, -2), b)


def test_cholesky_gradient_is_symmetric():
    a = tt.constant(spd(3, 3))
    with tt.GradientTape() as tape:
        tape.watch(a)
        y = tt.reduce_sum(tt.linalg.cholesky(a) * r(3, 3))
    g = tape.gradient(y, a).numpy()
    np.testing.assert_allclose(g, g.T, rtol=1e-12)


def test_ill_posed_inputs_give_inf_or_nan_never_crash(tt_backend):
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert tt.linalg.det(singular).numpy() == 0.0
    assert not np.isfinite(tt.linalg.inv(singular).numpy()).all()
    assert not np.isfinite(tt.linalg.solve(singular, np.ones((2, 1))).numpy()).all()
    assert np.isnan(tt.linalg.cholesky(-np.eye(2)).numpy()).all()
    assert np.isnan(tt.linalg.logdet(-np.eye(2)).numpy())
    assert tt.linalg.slogdet(singular)[1].numpy() == -np.inf
    both = np.stack([np.eye(2), -np.eye(2)])
    out = tt.linalg.cholesky(both).numpy()               # one bad matrix spoils only itself
    np.testing.assert_array_equal(out[0], np.eye(2))
    assert np.isnan(out[1]).all()
    tri = np.array([[0.0, 0.0], [1.0, 1.0]])
    assert not np.isfinite(tt.linalg.triangular_solve(tri, np.ones((2, 1))).numpy()).all()
    assert tt.linalg.inv(np.eye(2)).shape == (2, 2)       # the library still works after


def test_empty_dimensions(tt_backend):
    assert tt.linalg.inv(np.zeros((0, 3, 3))).shape == (0, 3, 3)
    assert tt.linalg.cholesky(np.zeros((0, 0))).shape == (0, 0)
    assert tt.linalg.solve(np.eye(3), np.zeros((3, 0))).shape == (3, 0)
    assert tt.linalg.det(np.zeros((2, 0, 0))).numpy().tolist() == [1.0, 1.0]
    assert tt.linalg.trace(np.zeros((4, 0))).numpy() == 0.0


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 5, 3), (2, 4)], ids=str)
def test_qr(shape, tt_backend):
    a = r(*shape)
    q, rr = tt.linalg.qr(a)
    nq, nr = np.linalg.qr(a)
    np.testing.assert_allclose(q.numpy(), nq, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rr.numpy(), nr, rtol=1e-10, atol=1e-12)
    check(lambda m: tt.linalg.qr(m)[0], a)
    check(lambda m: tt.linalg.qr(m)[1], a)


def test_eigh(tt_backend):
    a = r(2, 4, 4)
    a = a + np.swapaxes(a, -1, -2)
    w, v = tt.linalg.eigh(a)
    nw, nv = np.linalg.eigh(a)
    np.testing.assert_allclose(w.numpy(), nw, rtol=1e-10)
    np.testing.assert_allclose(np.abs(v.numpy()), np.abs(nv), rtol=1e-8, atol=1e-10)
    check(lambda m: tt.linalg.eigh(m)[0], a)
    check(lambda m: tt.linalg.eigh(m)[1], a)


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 2, 3)], ids=str)
@pytest.mark.slow
def test_svd_tensorflow_convention(shape, tt_backend):
    a = r(*shape)
    s, u, v = tt.linalg.svd(a)
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(a, compute_uv=False), rtol=1e-10)
    rebuilt = (u.numpy() * s.numpy()[..., None, :]) @ np.swapaxes(v.numpy(), -1, -2)
    np.testing.assert_allclose(rebuilt, a, rtol=1e-10, atol=1e-12)
    assert tt.linalg.svd(a, compute_uv=False).shape == s.shape
    check(lambda m: tt.linalg.svd(m)[0], a)
    check(lambda m: tt.linalg.svd(m)[1], a)
    check(lambda m: tt.linalg.svd(m)[2], a)


def test_norm_trace_diag(tt_backend):
    x = r(2, 3, 4)
    cases = [({}, np.linalg.norm(x)), ({"axis": -1}, np.linalg.norm(x, axis=-1)),
             ({"ord": 1, "axis": 1}, np.linalg.norm(x, 1, axis=1)),
             ({"ord": np.inf, "axis": 0}, np.linalg.norm(x, np.inf, axis=0)),
             ({"ord": 3, "axis": 2}, np.linalg.norm(x, 3, axis=2)),
             ({"ord": "fro", "axis": (1, 2)}, np.linalg.norm(x, "fro", axis=(1, 2))),
             ({"ord": 1, "axis": (1, 2)}, np.linalg.norm(x, 1, axis=(1, 2))),
             ({"ord": np.inf, "axis": (-2, -1)}, np.linalg.norm(x, np.inf, axis=(-2, -1))),
             ({"ord": 2, "axis": (1, 2)}, np.linalg.norm(x, 2, axis=(1, 2)))]
    for kw, want in cases:
        np.testing.assert_allclose(tt.linalg.norm(x, **kw).numpy(), want, rtol=1e-12,
                                   err_msg=str(kw))
    assert tt.linalg.norm(x, axis=1, keepdims=True).shape == (2, 1, 4)
    check(lambda m: tt.linalg.norm(m, ord=2, axis=(1, 2)), x)
    check(lambda m: tt.linalg.norm(m, axis=-1), x)
    np.testing.assert_allclose(tt.linalg.trace(x).numpy(), np.trace(x, axis1=1, axis2=2))
    np.testing.assert_array_equal(tt.linalg.diag_part(x).numpy(),
                                  np.diagonal(x, axis1=1, axis2=2))
    np.testing.assert_array_equal(tt.linalg.diag(x[0]).numpy()[1], np.diag(x[0, 1]))
    check(lambda m: tt.linalg.diag(tt.linalg.diag_part(m)) * 2.0, x)
    with pytest.raises(ValueError, match="norm: ord 'nuc'"):
        tt.linalg.norm(x, ord="nuc")


def test_linalg_exports_public_names_only():
    public = {n for n in dir(tt.linalg) if not n.startswith("_")}
    want = {"inv", "solve", "cholesky", "triangular_solve", "det", "slogdet", "logdet",
            "norm", "trace", "diag", "diag_part", "qr", "eigh", "svd"}
    assert want <= public
    assert public == set(tt.linalg.__all__)            # no helpers (np, bind, ...)
    assert {n for n in dir(tt.nn) if not n.startswith("_")} == set(tt.nn.__all__)


def test_blocked_cholesky_gradient_matches_formula():
    from compiler.primitives import lapack
    n = 11
    low, lbar = np.linalg.cholesky(spd(n, n)), r(n, n)
    whole = lapack._cholesky_grad1(low, lbar, block=n)          # one block: the formula
    d = low.T @ np.tril(lbar)
    phi = np.tril(d, -1) + 0.5 * np.diag(np.diag(d))
    inv = np.linalg.inv(low)
    formula = inv.T @ phi @ inv
    np.testing.assert_allclose(whole, 0.5 * (formula + formula.T), rtol=1e-10, atol=1e-12)
    for block in (1, 3, 4):
        np.testing.assert_allclose(lapack._cholesky_grad1(low, lbar, block=block), whole,
                                   rtol=1e-10, atol=1e-12)

"""tt.nn and tt.math: values vs NumPy, stability, gradients vs finite differences, and the
public namespaces exporting public names only."""
import types

import numpy as np
import pytest

import tracer as tt
from tracer.testing import check_gradients

RNG = np.random.default_rng(99)


def r(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, shape)


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
    check_gradients(fn, args, rtol=1e-6, atol=1e-6)


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


def test_math_has_every_op_that_applies_a_primitive():
    from tracer import ops
    for name, fn in vars(ops).items():
        if not name.startswith("_") and getattr(fn, "primitive", None) is not None:
            assert getattr(tt.math, name) is fn, name


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_log_softmax_of_a_slice_with_inf_is_nan_as_tensorflow_and_jax():
    out = tt.nn.log_softmax(tt.constant([[np.inf, 1.0], [-np.inf, -np.inf], [-np.inf, 0.0]]))
    assert np.isnan(out.numpy()[:2]).all()
    np.testing.assert_array_equal(out.numpy()[2], [-np.inf, 0.0])


@pytest.mark.parametrize("namespace", [tt, tt.linalg, tt.nn, tt.math])
def test_public_namespaces_export_public_names_only(namespace):
    public_modules = {"linalg", "math", "nn", "optimizers", "testing", "distributed",
                      "checkpoint_policies"}
    for name in namespace.__all__:
        value = getattr(namespace, name)
        assert not name.startswith("_"), name
        assert not isinstance(value, types.ModuleType) or name in public_modules, name
        assert name not in ("np", "P", "bind", "as_tensor", "ops"), name


def test_gelu_keeps_its_relative_precision_in_the_left_tail(tt_backend):
    """gelu(x) = x Phi(x) = x/2 erfc(-x/sqrt(2)): at x = -10 the value is ~-7.6e-23, which
    x/2 (1 + erf(x/sqrt(2))) rounded to 0 in float64 (and lost every digit below x ~ -4 in
    float32); the gradient Phi(x) + x phi(x) keeps its small first term."""
    import math
    xs = np.array([-10.0, -5.0, -1.0, 0.0, 2.0])
    phi = np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in xs])
    pdf = np.exp(-xs * xs / 2) / math.sqrt(2 * math.pi)
    tt.testing.assert_allclose(tt.nn.gelu(xs), xs * phi, rtol=1e-13, atol=0)
    tt.testing.assert_allclose(tt.grad(lambda x: tt.reduce_sum(tt.nn.gelu(x)))(xs),
                               phi + xs * pdf, rtol=1e-12, atol=0)
    x32 = np.array([-6.0, -4.0, -2.5], np.float32)
    want32 = [float(v) * 0.5 * math.erfc(-float(v) / math.sqrt(2.0)) for v in x32]
    tt.testing.assert_allclose(tt.nn.gelu(x32), want32, rtol=3e-6, atol=0)

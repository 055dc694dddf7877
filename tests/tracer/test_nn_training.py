"""tt.nn training ops and tt.one_hot: values against NumPy transcriptions of TensorFlow's
formulas, float64 finite differences (first and second order) in both tiers, and extreme
inputs (+-1e4) giving finite values and gradients."""
import math

import numpy as np
import pytest

import tracer as tt

RNG = np.random.default_rng(12)
_erf = np.vectorize(math.erf)


def r(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, shape)


def away_from_zero(*shape):
    return RNG.uniform(0.2, 2.0, shape) * RNG.choice([-1.0, 1.0], shape)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


ACTIVATIONS = {
    "gelu": (tt.nn.gelu, lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    "gelu_tanh": (lambda x: tt.nn.gelu(x, approximate=True),
                  lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    "leaky_relu": (tt.nn.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x)),
    "leaky_relu_0.1": (lambda x: tt.nn.leaky_relu(x, alpha=0.1),
                       lambda x: np.where(x > 0, x, 0.1 * x)),
    "elu": (tt.nn.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    "selu": (tt.nn.selu, lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0)))),
    "silu": (tt.nn.silu, lambda x: x * sigmoid(x)),
    "swish_beta": (lambda x: tt.nn.swish(x, beta=1.5), lambda x: x * sigmoid(1.5 * x)),
}
SMOOTH = {"gelu", "gelu_tanh", "silu", "swish_beta"}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_values_and_gradients(name, tt_backend):
    fn, ref = ACTIVATIONS[name]
    x = away_from_zero(3, 4)
    np.testing.assert_allclose(fn(x).numpy(), ref(x), rtol=1e-12, atol=1e-14)
    xf = x.astype(np.float32)
    assert fn(xf).dtype == tt.float32
    np.testing.assert_allclose(fn(xf).numpy(), ref(x), rtol=2e-6, atol=1e-6)
    second = tt_backend == "interpret" and (name in SMOOTH or "elu" in name)
    tt.testing.check_gradients(fn, [x], order=2 if second else 1)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_finite_at_extremes(name, dtype):
    fn, ref = ACTIVATIONS[name]
    x = tt.constant(np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype))
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    g = tape.gradient(y, x).numpy()
    assert np.all(np.isfinite(y.numpy())) and np.all(np.isfinite(g)), (y, g)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(y.numpy(), ref(x.numpy().astype(np.float64)), rtol=1e-6)


def test_activation_gradients_at_zero_follow_tensorflow():
    x = tt.constant([0.0, 0.0])
    for fn, want in [(tt.nn.leaky_relu, 0.2), (tt.nn.elu, 1.0),
                     (tt.nn.selu, 1.0507009873554805 * 1.6732632423543772)]:
        with tt.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        np.testing.assert_allclose(tape.gradient(y, x).numpy(), [want, want], rtol=1e-6)


def test_integer_activation_inputs_become_float32():
    assert tt.nn.leaky_relu(tt.constant([-2, 3])).dtype == tt.float32
    np.testing.assert_allclose(tt.nn.leaky_relu([-2, 3]).numpy(), [-0.4, 3.0], rtol=1e-6)


# -- dropout -----------------------------------------------------------------------------------

def test_dropout_scales_kept_elements_and_validates_rate():
    x = np.ones((200, 50), np.float32)
    tt.random.set_seed(4)
    y = tt.nn.dropout(x, 0.25, seed=3).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert abs(kept.mean() - 0.75) < 0.02
    # a new mask per call of the op seed's sequence, which set_seed restarts (TensorFlow)
    assert (tt.nn.dropout(x, 0.25, seed=3).numpy() != y).any()
    tt.random.set_seed(4)
    np.testing.assert_array_equal(tt.nn.dropout(x, 0.25, seed=3).numpy(), y)
    assert tt.nn.dropout(x, 0.0).numpy() is not None
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="rate"):
            tt.nn.dropout(x, bad)
    with tt.GradientTape() as tape:
        xt = tt.constant(x)
        tape.watch(xt)
        z = tt.nn.dropout(xt, 0.5, seed=1)
    np.testing.assert_allclose(tape.gradient(z, xt).numpy(), z.numpy())


def test_dropout_compiled_with_seed_argument_changes_per_call():
    f = tt.function(lambda x, seed: tt.nn.dropout(x, 0.5, seed=seed))
    x = np.ones((64, 64), np.float32)
    a = f(x, tt.constant(1, tt.int64)).numpy()
    b = f(x, tt.constant(2, tt.int64)).numpy()
    c = f(x, tt.constant(1, tt.int64)).numpy()
    assert f.trace_count == 1
    np.testing.assert_array_equal(a, c)
    assert (a != b).mean() > 0.3 and abs((a != 0).mean() - 0.5) < 0.05


def test_dropout_compiled_without_seed_draws_a_new_mask_each_call():
    f = tt.function(lambda x: tt.nn.dropout(x, 0.5) + tt.nn.dropout(x, 0.5))
    x = np.ones((64, 64), np.float32)
    a, b = f(x).numpy(), f(x).numpy()
    assert f.trace_count == 1 and (a != b).mean() > 0.3
    assert abs((a == 4).mean() - 0.25) < 0.05       # the two dropouts are independent


# -- normalisation -------------------------------------------------------------------------------

def test_moments_and_batch_normalization(tt_backend):
    x = r(4, 3, 5)
    mean, var = tt.nn.moments(x, [0, 2])
    np.testing.assert_allclose(mean.numpy(), x.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), x.var(axis=(0, 2)), rtol=1e-12)
    m2, v2 = tt.nn.moments(x, [1], keepdims=True)
    assert m2.shape == v2.shape == (4, 1, 5)
    order = 2 if tt_backend == "interpret" else 1
    tt.testing.check_gradients(lambda a: tt.nn.moments(a, [0, 2])[1], [x], order=order)

    def bn(a, off, sc):
        m, v = tt.nn.moments(a, [0])
        return tt.nn.batch_normalization(a, m, v, off, sc, 1e-3)
    off, sc = r(3, 5), r(3, 5, lo=0.5)
    want = (x - x.mean(0)) * sc / np.sqrt(x.var(0) + 1e-3) + off
    np.testing.assert_allclose(bn(x, off, sc).numpy(), want, rtol=1e-10)
    tt.testing.check_gradients(bn, [x, off, sc], order=order)
    none = tt.nn.batch_normalization(x, np.float64(0.5), np.float64(2.0), None, None, 0.0)
    np.testing.assert_allclose(none.numpy(), (x - 0.5) / np.sqrt(2.0), rtol=1e-12)


def test_l2_normalize(tt_backend):
    x = r(3, 4)
    np.testing.assert_allclose(tt.nn.l2_normalize(x, 1).numpy(),
                               x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_array_equal(tt.nn.l2_normalize(np.zeros(3), 0).numpy(), np.zeros(3))
    tt.testing.check_gradients(lambda a: tt.nn.l2_normalize(a, 0), [x],
                               order=2 if tt_backend == "interpret" else 1)


# -- lookups, one-hot, sparse cross-entropy ------------------------------------------------------

def test_embedding_lookup_has_dense_gradient(tt_backend):
    params = r(6, 3)
    ids = np.array([[0, 5], [2, 0]])
    np.testing.assert_array_equal(tt.nn.embedding_lookup(params, ids).numpy(), params[ids])
    p = tt.Variable(params)
    with tt.GradientTape() as tape:
        y = tt.reduce_sum(tt.nn.embedding_lookup(p, ids) * np.arange(3.0))
    g = tape.gradient(y, p).numpy()
    want = np.zeros((6, 3))
    np.add.at(want, ids.reshape(-1), np.arange(3.0))
    np.testing.assert_array_equal(g, want)
    tt.testing.check_gradients(lambda a: tt.nn.embedding_lookup(a, ids), [params])


def test_one_hot_matches_tensorflow():
    out = tt.one_hot([0, 2, -1, 3], 3)
    assert out.dtype == tt.float32
    np.testing.assert_array_equal(out.numpy(), [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(
        tt.one_hot([[1], [0]], 2, on_value=5, off_value=-1, dtype=tt.int32).numpy(),
        [[[-1, 5]], [[5, -1]]])
    np.testing.assert_array_equal(tt.one_hot([1, 0], 3, axis=0).numpy(),
                                  [[0, 1], [1, 0], [0, 0]])
    with pytest.raises(TypeError, match="indices"):
        tt.one_hot([0.5], 2)
    f = tt.function(lambda i: tt.one_hot(i, 4))
    np.testing.assert_array_equal(f(np.array([3, 1])).numpy(), np.eye(4)[[3, 1]])


def _sparse_ref(labels, logits):
    m = logits.max(-1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(-1)) + m[..., 0]
    return lse - np.take_along_axis(logits, labels[..., None], -1)[..., 0]


def test_sparse_softmax_cross_entropy(tt_backend):
    logits, labels = r(2, 3, 5), RNG.integers(0, 5, (2, 3))
    loss = tt.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    np.testing.assert_allclose(loss.numpy(), _sparse_ref(labels, logits), rtol=1e-12)
    tt.testing.check_gradients(
        lambda z: tt.nn.sparse_softmax_cross_entropy_with_logits(labels, z), [logits],
        order=2 if tt_backend == "interpret" else 1)
    dense = tt.nn.softmax_cross_entropy_with_logits(np.eye(5)[labels], logits)
    np.testing.assert_allclose(loss.numpy(), dense.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_softmax_cross_entropy_extreme_logits(dtype):
    z = tt.constant(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype))
    labels = np.array([1, 2])
    with tt.GradientTape() as tape:
        tape.watch(z)
        loss = tt.nn.sparse_softmax_cross_entropy_with_logits(labels, z)
    g = tape.gradient(loss, z).numpy()
    np.testing.assert_allclose(loss.numpy(), [2e4, np.log(2.0)], rtol=1e-6)
    np.testing.assert_allclose(g, [[1, -1, 0], [0, 0.5, -0.5]], atol=1e-6)


def test_sparse_softmax_cross_entropy_rejects_bad_labels():
    with pytest.raises(ValueError, match=r"label value of 3 .* \[0, 3\)"):
        tt.nn.sparse_softmax_cross_entropy_with_logits([0, 3], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        tt.nn.sparse_softmax_cross_entropy_with_logits([0, 1, 2], np.zeros((2, 3)))
    with pytest.raises(TypeError, match="labels"):
        tt.nn.sparse_softmax_cross_entropy_with_logits([0.0, 1.0], np.zeros((2, 3)))

"""Public ops against NumPy: values, dtypes (NEP 50 with weak Python scalars), creation,
indexing, the Tensor protocol, and tape gradients of composite ops vs finite differences."""
import numpy as np
import pytest

import tracer as tt
from tracer.testing import check_gradients

RNG = np.random.default_rng(1234)


def r(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, shape)


# -- values against NumPy -------------------------------------------------------------------

UNARY = [("negative", np.negative), ("abs", np.abs), ("sign", np.sign),
         ("square", np.square), ("exp", np.exp), ("expm1", np.expm1), ("sin", np.sin),
         ("cos", np.cos), ("tan", np.tan), ("atan", np.arctan), ("sinh", np.sinh),
         ("cosh", np.cosh), ("tanh", np.tanh), ("floor", np.floor), ("ceil", np.ceil),
         ("round", np.round), ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
         ("relu", lambda x: np.maximum(x, 0)), ("softplus", lambda x: np.log1p(np.exp(x)))]
POSITIVE = [("sqrt", np.sqrt), ("rsqrt", lambda x: 1 / np.sqrt(x)), ("log", np.log),
            ("log1p", np.log1p), ("reciprocal", np.reciprocal)]
UNIT = [("asin", np.arcsin), ("acos", np.arccos)]


@pytest.mark.parametrize("name,ref", UNARY + POSITIVE + UNIT, ids=lambda v: str(v)[:12])
def test_unary_matches_numpy(name, ref):
    lo = 0.1 if (name, ref) in POSITIVE else -0.9
    x = r(3, 4, lo=lo, hi=0.9 if (name, ref) in UNIT else 3.0)
    out = getattr(tt, name)(x)
    assert out.dtype == np.float64 and out.shape == x.shape
    np.testing.assert_allclose(out.numpy(), ref(x), rtol=1e-12, atol=1e-12)
    out32 = getattr(tt, name)(x.astype(np.float32))
    assert out32.dtype == np.float32


def test_erf_matches_math_erf():
    import math
    x = r(5)
    np.testing.assert_allclose(tt.erf(x).numpy(), [math.erf(v) for v in x], rtol=1e-12)


BINARY = [("add", np.add), ("subtract", np.subtract), ("multiply", np.multiply),
          ("divide", np.true_divide), ("maximum", np.maximum), ("minimum", np.minimum),
          ("squared_difference", lambda a, b: (a - b) ** 2), ("floordiv", np.floor_divide),
          ("mod", np.mod), ("equal", np.equal), ("not_equal", np.not_equal),
          ("less", np.less), ("less_equal", np.less_equal), ("greater", np.greater),
          ("greater_equal", np.greater_equal)]


@pytest.mark.parametrize("name,ref", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)),
                                    ((), (3,))])
def test_binary_broadcasts_like_numpy(name, ref, shapes):
    a, b = r(*shapes[0]), r(*shapes[1], lo=0.5)
    np.testing.assert_allclose(getattr(tt, name)(a, b).numpy(), ref(a, b), rtol=1e-12)


def test_pow_and_logical_ops():
    a, b = r(3, lo=0.5), r(3)
    np.testing.assert_allclose(tt.pow(a, b).numpy(), a ** b, rtol=1e-12)
    p, q = np.array([True, False, True]), np.array([True, True, False])
    assert (tt.logical_and(p, q).numpy() == (p & q)).all()
    assert (tt.logical_or(p, q).numpy() == (p | q)).all()
    assert (tt.logical_not(p).numpy() == ~p).all()


def test_clip_where_cast_identity_stop_gradient():
    x = r(4, 3)
    np.testing.assert_array_equal(tt.clip_by_value(x, -0.5, 0.5).numpy(), np.clip(x, -.5, .5))
    np.testing.assert_array_equal(tt.where(x > 0, x, 0.0).numpy(), np.where(x > 0, x, 0))
    assert tt.where([True, False], 1, 2.5).dtype == tt.float32
    np.testing.assert_array_equal(tt.cast([1.7, -1.7], tt.int32).numpy(), [1, -1])
    assert tt.cast([1, 0], "bool").dtype == tt.bool
    np.testing.assert_array_equal(tt.identity(x).numpy(), x)
    np.testing.assert_array_equal(tt.stop_gradient(x).numpy(), x)


REDUCTIONS = [("reduce_sum", np.sum), ("reduce_mean", np.mean), ("reduce_max", np.max),
              ("reduce_min", np.min), ("reduce_prod", np.prod),
              ("reduce_logsumexp", lambda x, axis, keepdims: np.log(np.sum(
                  np.exp(x), axis=axis, keepdims=keepdims)))]


@pytest.mark.parametrize("name,ref", REDUCTIONS, ids=[n for n, _ in REDUCTIONS])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), [-1, 1], ()])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(name, ref, axis, keepdims):
    x = r(2, 3, 4)
    ax = tuple(axis) if isinstance(axis, list) else axis
    out = getattr(tt, name)(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.numpy(), ref(x, axis=ax, keepdims=keepdims), rtol=1e-12)


def test_integer_reductions_and_arg_reductions():
    x = np.array([[3, -1, 4], [-1, -5, 9]], np.int32)
    assert tt.reduce_sum(x).dtype == tt.int32
    assert tt.reduce_mean([-1, -2]).numpy() == -1  # truncates toward zero, as TensorFlow
    assert tt.reduce_sum([True, True, False]).numpy() == 2
    for name, ref in (("argmax", np.argmax), ("argmin", np.argmin)):
        for axis in (0, 1, -1):
            out = getattr(tt, name)(x, axis)
            assert out.dtype == tt.int64
            np.testing.assert_array_equal(out.numpy(), ref(x, axis=axis))
    assert tt.argmax([1, 3, 2]).numpy() == 1


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_logsumexp_is_stable():
    x = np.array([[1000.0, 1000.0], [-np.inf, -np.inf]])
    out = tt.reduce_logsumexp(x, axis=1).numpy()
    assert out[0] == pytest.approx(1000 + np.log(2)) and out[1] == -np.inf


def test_logsumexp_over_an_empty_axis_is_minus_inf(tt_backend):
    x = tt.zeros((0, 3), tt.float64)
    np.testing.assert_array_equal(tt.reduce_logsumexp(x, axis=0).numpy(), [-np.inf] * 3)
    assert tt.reduce_logsumexp(x, keepdims=True).shape == (1, 1)
    assert tt.grad(lambda v: tt.reduce_sum(tt.reduce_logsumexp(v, 0)))(x).shape == (0, 3)


def test_max_and_min_over_an_empty_axis_are_tensorflows_identities(tt_backend):
    f = tt.function(lambda v: (tt.reduce_max(v, 1), tt.reduce_min(v, -1, keepdims=True),
                               tt.nn.softmax(v)))
    for run in (f, f.__wrapped__):                  # compiled, eager
        mx, mn, sm = run(tt.zeros((2, 0), tt.float64))
        np.testing.assert_array_equal(mx.numpy(), [-np.inf, -np.inf])
        np.testing.assert_array_equal(mn.numpy(), [[np.inf], [np.inf]])
        assert sm.shape == (2, 0)
    ints = tt.zeros((0,), tt.int32)
    assert int(tt.reduce_max(ints)) == np.iinfo(np.int32).min
    assert int(tt.reduce_min(ints)) == np.iinfo(np.int32).max
    assert tt.grad(lambda v: tt.reduce_sum(tt.reduce_max(v, 0)))(tt.zeros((0, 3))).shape \
        == (0, 3)
    with pytest.raises(ValueError, match="argmax: axis 0 of shape \\(0,\\) is empty"):
        tt.argmax(tt.zeros((0,)))


# -- promotion --------------------------------------------------------------------------------

PROMOTION = [
    (np.float32, 2, "float32"), (np.float32, 2.5, "float32"), (np.int32, 2, "int32"),
    (np.int32, 2.5, "float64"), (np.int64, 2, "int64"), (np.int64, 2.5, "float64"),
    (np.float32, np.float64(1.0), "float64"), (np.int32, np.array([2], np.int64), "int64"),
    (np.float32, np.array([1.0], np.float64), "float64"), (np.float64, 2, "float64"),
]


@pytest.mark.parametrize("dtype,other,expected", PROMOTION)
def test_promotion_is_nep50_with_weak_python_scalars(dtype, other, expected):
    x = tt.constant(np.ones(1, dtype))
    assert (x + other).dtype == np.dtype(expected)
    assert (other * x).dtype == np.dtype(expected)


def test_division_promotion():
    assert (tt.constant(3) / tt.constant(2)).dtype == tt.float64
    assert (tt.constant(3) / tt.constant(2)).numpy() == 1.5
    assert tt.divide(3, 2).dtype == tt.float64
    assert (tt.constant(3.0) / 2).dtype == tt.float32
    assert (tt.constant([1.0]) + tt.constant([1.0], tt.float64)).dtype == tt.float64
    assert tt.add(1, 2).dtype == tt.int32 and tt.add(1, 2.0).dtype == tt.float32


# -- creation ---------------------------------------------------------------------------------

def test_constant_dtypes():
    assert tt.constant(1.0).dtype == tt.float32 and tt.constant(1).dtype == tt.int32
    assert tt.constant(True).dtype == tt.bool and tt.constant([1, 2.5]).dtype == tt.float32
    assert tt.constant(np.array([1.0])).dtype == tt.float64
    assert tt.constant(np.int64(3)).dtype == tt.int64
    for d in (tt.float64, np.float64, "float64", float, int, bool):
        assert tt.constant([1], dtype=d).dtype == tt.dtypes.as_dtype(d)
    assert tt.constant(2 ** 40).dtype == tt.int64  # does not fit int32, as TensorFlow
    np.testing.assert_array_equal(tt.constant(7.0, shape=(2, 2)).numpy(), np.full((2, 2), 7))
    np.testing.assert_array_equal(tt.constant([1, 2, 3, 4], shape=[2, 2]).numpy(),
                                  [[1, 2], [3, 4]])


def test_constant_copies_numpy_input():
    a = np.ones(3)
    t = tt.constant(a)
    a[0] = 5
    assert t.numpy()[0] == 1


def test_convert_to_tensor_stacks_tensors():
    t = tt.convert_to_tensor([tt.constant(1.0), 2.0, tt.Variable(3.0)])
    np.testing.assert_array_equal(t.numpy(), [1, 2, 3])
    assert tt.convert_to_tensor(t) is t
    assert tt.convert_to_tensor(t, dtype=tt.float64).dtype == tt.float64


def test_filled_creation_functions():
    assert tt.zeros((2, 3)).dtype == tt.float32 and tt.zeros((2, 3)).shape == (2, 3)
    assert tt.ones([2], dtype=tt.int32).numpy().tolist() == [1, 1]
    assert tt.fill([2, 2], 3).dtype == tt.int32 and tt.fill([2], 0.5).numpy()[1] == 0.5
    x = tt.constant([[1, 2]], tt.int64)
    assert tt.zeros_like(x).dtype == tt.int64 and tt.ones_like(x).numpy().tolist() == [[1, 1]]
    np.testing.assert_array_equal(tt.eye(2, 3).numpy(), np.eye(2, 3))
    np.testing.assert_allclose(tt.linspace(0.0, 1.0, 5).numpy(), np.linspace(0, 1, 5))
    assert tt.lin_space is tt.linspace
    assert tt.range(5).numpy().tolist() == [0, 1, 2, 3, 4] and tt.range(5).dtype == tt.int32
    assert tt.range(1, 10, 3).numpy().tolist() == [1, 4, 7]
    assert tt.range(0, 1, 0.25).dtype == tt.float32
    assert tt.range(3, dtype=tt.float64).dtype == tt.float64


def test_linspace_is_differentiable_broadcasts_and_traces(tt_backend):
    """TensorFlow's linspace: start + k (stop - start) / (num - 1) with exact ends,
    differentiable in start and stop, along a new axis for tensor ends."""
    np.testing.assert_array_equal(tt.linspace(-2.0, 3.0, 7).numpy(),
                                  np.linspace(-2.0, 3.0, 7).astype(np.float32))
    lo = tt.constant(0.1, tt.float64)
    np.testing.assert_array_equal(tt.linspace(lo, 0.7, 5).numpy(), np.linspace(0.1, 0.7, 5))
    assert tt.linspace(0, 4, 3).dtype == tt.float32
    assert tt.linspace(1.0, 2.0, 0).shape == (0,) and tt.linspace(1.0, 2.0, 1).numpy() == [1]
    a, b = np.array([0.0, 1.0]), np.array([[1.0, 3.0], [2.0, 5.0]])
    np.testing.assert_allclose(tt.linspace(a, b, 3).numpy(),
                               np.linspace(a, b, 3), rtol=1e-15)
    np.testing.assert_allclose(tt.linspace(a, b, 4, axis=-1).numpy(),
                               np.linspace(a, b, 4, axis=-1), rtol=1e-15)
    with pytest.raises(ValueError, match="linspace: axis 3 is out of range"):
        tt.linspace(a, b, 4, axis=3)
    # d/ds sum(linspace(s, e, 5)^2) = sum(2 x_k (1 - k/4)); d/de likewise with k/4
    s, e = tt.constant(1.0, tt.float64), tt.constant(3.0, tt.float64)
    xs, k = np.linspace(1.0, 3.0, 5), np.arange(5) / 4
    ds, de = tt.grad(lambda u, v: tt.reduce_sum(tt.linspace(u, v, 5) ** 2), argnums=(0, 1))(s, e)
    np.testing.assert_allclose([ds.numpy(), de.numpy()],
                               [np.sum(2 * xs * (1 - k)), np.sum(2 * xs * k)], rtol=1e-14)
    check_gradients(lambda u, v: tt.linspace(u, v, 4, axis=0) ** 2, [a, b], order=2)


def test_random_shapes_seeds_and_dtypes():
    tt.random.set_seed(5)
    u = tt.random.uniform((1000,), minval=2, maxval=3, seed=7)
    assert u.dtype == tt.float32 and 2 <= u.numpy().min() and u.numpy().max() < 3
    # an op seed's sequence moves on at every call and restarts at set_seed (TensorFlow)
    assert (u.numpy() != tt.random.uniform((1000,), 2, 3, seed=7).numpy()).any()
    tt.random.set_seed(5)
    assert (u.numpy() == tt.random.uniform((1000,), 2, 3, seed=7).numpy()).all()
    n = tt.random.normal((2000,), mean=1.0, stddev=0.1, dtype=tt.float64, seed=1)
    assert n.dtype == tt.float64 and abs(n.numpy().mean() - 1) < 0.02


# -- indexing and the tensor protocol ---------------------------------------------------------

KEYS = [0, -1, slice(None), slice(1, None), slice(None, None, -1), slice(-1, 0, -2),
        (1, 2), (-1, slice(None, None, -2)), (None, 0), (Ellipsis, 1), (Ellipsis, None),
        (slice(None), None, Ellipsis, -1), (1, Ellipsis, 2, 3), (slice(5, 1),),
        (slice(0, 3, 2), slice(None), slice(1, -1)), np.int64(1), (), Ellipsis]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_getitem_matches_numpy_and_differentiates(key):
    x = r(3, 4, 5)
    np.testing.assert_array_equal(tt.constant(x)[key].numpy(), x[key])
    if x[key].size:
        check_gradients(lambda t: t[key], [x], rtol=1e-6, atol=1e-6)


def test_tensor_protocol():
    x = tt.constant([[1.0, 2.0], [3.0, 4.0]])
    assert len(x) == 2 and [row.numpy().tolist() for row in x] == [[1, 2], [3, 4]]
    assert np.asarray(x).dtype == np.float32 and np.asarray(x).shape == (2, 2)
    assert float(tt.constant(2.5)) == 2.5 and int(tt.constant(3.9)) == 3
    assert bool(tt.constant(1)) and not bool(tt.constant(0.0))
    assert x.ndim == 2 and x.size == 4 and x.shape == (2, 2)
    assert repr(tt.constant(4.0)) == "tt.Tensor(4.0, shape=(), dtype=float32)"
    assert str(x) == "tt.Tensor(\n[[1. 2.]\n [3. 4.]], shape=(2, 2), dtype=float32)"
    assert hash(x) == id(x) and len({x, tt.constant(1.0)}) == 2
    assert ((-x).numpy() == -np.asarray(x)).all() and (abs(-x).numpy() == np.asarray(x)).all()
    assert ((x @ x).numpy() == np.asarray(x) @ np.asarray(x)).all()
    assert ((7 // x).numpy() == 7 // np.asarray(x)).all() and (x % 3).dtype == tt.float32
    assert (2 ** x).numpy()[1, 1] == 16 and (x != 1).numpy().sum() == 3


def test_variable_assign_and_operators():
    v = tt.Variable([1.0, 2.0], name="v")
    assert v.dtype == tt.float32 and v.shape == (2,) and v.name == "v:0"   # as TensorFlow
    assert tt.Variable(1.0).name == tt.Variable(2.0).name == "Variable:0"
    v.assign([3.0, 4.0])
    v.assign_add([1.0, 1.0])
    v.assign_sub(tt.constant([0.5, 0.5]))
    np.testing.assert_array_equal(v.numpy(), [3.5, 4.5])
    assert (v.value().numpy() == [3.5, 4.5]).all() and (v * 2).numpy().tolist() == [7, 9]
    assert (1 - v).numpy().tolist() == [-2.5, -3.5] and v[1].numpy() == 4.5
    assert np.asarray(v).tolist() == [3.5, 4.5] and len(v) == 2
    assert tt.Variable(1).dtype == tt.int32 and float(tt.Variable(2.0)) == 2.0


# -- gradients of composite ops vs finite differences ----------------------------------------

GRADS = [
    ("square", lambda x: tt.square(x), [r(3, 2)]),
    ("rsqrt", lambda x: tt.rsqrt(x), [r(4, lo=0.5)]),
    ("reciprocal", lambda x: tt.reciprocal(x), [r(4, lo=0.5)]),
    ("squared_difference", tt.squared_difference, [r(3, 2), r(2)]),
    ("relu", tt.relu, [r(5) + 0.05]),
    ("softplus", tt.softplus, [r(5) * 10]),
    ("clip_by_value", lambda x: tt.clip_by_value(x, -0.5, 0.7), [np.array([-1, -.2, .3, 1.])]),
    ("where", lambda x, y: tt.where(x > 0, x * y, y), [r(2, 3), r(3)]),
    ("reduce_mean", lambda x: tt.reduce_mean(x, axis=(0, -1), keepdims=True), [r(2, 3, 4)]),
    ("reduce_logsumexp", lambda x: tt.reduce_logsumexp(x, -1), [r(3, 4)]),
    ("reduce_max", lambda x: tt.reduce_max(x, 0), [r(3, 4)]),
    ("reduce_prod", lambda x: tt.reduce_prod(x, 1), [r(3, 4)]),
    ("broadcast_divide", lambda x, y: x / y, [r(3, 1), r(4, lo=0.5)]),
    ("pow", lambda x, y: x ** y, [r(3, lo=0.5), r(3)]),
    ("tile", lambda x: tt.tile(x, [2, 3]), [r(2, 2)]),
    ("stack", lambda x, y: tt.stack([x, y], axis=-1), [r(2, 3), r(2, 3)]),
    ("concat", lambda x, y: tt.concat([x, y], 0), [r(2, 3), r(1, 3)]),
    ("expand_dims", lambda x: tt.expand_dims(x, 1) * tt.expand_dims(x, -3), [r(2, 3)]),
    ("squeeze", lambda x: tt.squeeze(x, [0]), [r(1, 3, 1)]),
    ("reshape_transpose", lambda x: tt.transpose(tt.reshape(x, (-1, 2)), [1, 0]), [r(3, 4)]),
    ("broadcast_to", lambda x: tt.broadcast_to(x, (2, 3, 4)), [r(3, 1)]),
    ("gather", lambda x: tt.gather(x, [[2, 0], [2, -1]], axis=1), [r(2, 3)]),
    ("matmul", tt.matmul, [r(2, 3, 4), r(4, 2)]),
    ("matmul_row", tt.matmul, [r(1, 3), r(3, 2)]),
    ("sigmoid_tanh", lambda x: tt.sigmoid(x) * tt.tanh(x), [r(4)]),
    ("cast_f32_f64", lambda x: tt.cast(tt.cast(x, tt.float32), tt.float64) * 3, [r(3)]),
]


@pytest.mark.parametrize("name,fn,args", GRADS, ids=[g[0] for g in GRADS])
def test_composite_gradients_match_finite_differences(name, fn, args, tt_backend):
    # the float32 round trip needs a step well above float32 resolution
    eps, tol = (1e-2, 1e-4) if name == "cast_f32_f64" else (1e-6, 1e-6)
    check_gradients(fn, args, eps=eps, rtol=tol, atol=tol)


def test_nondifferentiable_ops_give_zero_or_none():
    x = tt.constant([1.3, -2.7])
    with tt.GradientTape(persistent=True) as tape:
        tape.watch(x)
        fl, s = tt.floor(x), tt.sign(x)
        am = tt.argmax(x, 0)
    assert tape.gradient(fl, x).numpy().tolist() == [0, 0]
    assert tape.gradient(s, x).numpy().tolist() == [0, 0]
    assert tape.gradient(am, x) is None
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.relu(x * 0.0) + tt.abs(x * 0.0)
    assert tape.gradient(y, x).numpy().tolist() == [0, 0]


def test_gradient_with_broadcast_constant_operand():
    # a constant operand that needs broadcasting/casting builds nodes the tape does not watch
    x = tt.constant(np.ones((3, 2)))
    c = tt.constant(np.array([[1.0], [2.0], [3.0]], np.float32))
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.reduce_sum(x * c + 1)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[1, 1], [2, 2], [3, 3]])


def test_format_and_bool_operators_as_tensorflow():
    # f-strings format the value (TensorFlow's __format__); & | ^ ~ on bools both ways
    assert f"{tt.constant(2.5):.2f}" == "2.50" and f"{tt.Variable(1.25):.1f}" == "1.2"
    assert f"{tt.constant([1.0, 2.0])}" == "[1. 2.]" and format(tt.constant(3), "d") == "3"
    b = tt.constant([True, False])
    assert (b ^ True).numpy().tolist() == [False, True]
    assert (True & b).numpy().tolist() == [True, False]
    assert (False | b).numpy().tolist() == [True, False]
    assert (tt.Variable(True) & b).numpy().tolist() == [True, False]
    assert bool(~tt.Variable(True)) is False
    with pytest.raises(TypeError, match="it takes bool tensors"):
        tt.constant(1) ^ tt.constant(2)
    seen = []
    tt.function(lambda x: seen.append(f"{x}") or x)(tt.constant(1.0))  # traced: described
    assert "shape=()" in seen[0]
    with pytest.raises(tt.TracingError, match="format"):
        tt.function(lambda x: float(f"{x:.2f}"))(tt.constant(1.0))

"""TensorFlow spellings that TF programs use unchanged: ``name=`` on creation functions,
``convert_to_tensor(dtype_hint=)``, ``tt.shape/size/rank``, ``tt.norm``, ``tt.add_n``."""
import numpy as np
import pytest

import tracer as tt


def test_creation_functions_take_name():
    assert float(tt.constant(3.0, name="x3")) == 3.0
    assert tt.zeros((2,), name="z").shape == (2,) and tt.ones((2,), name="o").shape == (2,)
    assert tt.fill((2,), 5.0, name="f").numpy().tolist() == [5.0, 5.0]
    x = tt.constant([1.0, 2.0])
    assert tt.zeros_like(x, name="a").shape == tt.ones_like(x, name="b").shape == (2,)
    assert tt.eye(2, name="e").shape == (2, 2)
    assert tt.linspace(0.0, 1.0, 3, name="l").shape == (3,)
    assert tt.range(3, name="r").numpy().tolist() == [0, 1, 2]
    assert tt.random.normal((2,), seed=0, name="n").shape == (2,)
    assert tt.random.uniform((2,), seed=0, name="u").shape == (2,)


def test_convert_to_tensor_dtype_hint():
    assert tt.convert_to_tensor(3, dtype_hint=tt.float32).dtype == tt.float32
    assert tt.convert_to_tensor([1, 2], dtype_hint=tt.float64).dtype == tt.float64
    assert tt.convert_to_tensor(3.5, dtype_hint=tt.int32).dtype == tt.float32   # not lossless
    assert tt.convert_to_tensor(tt.constant(2), dtype_hint=tt.float32).dtype == tt.int32


def test_shape_size_rank_norm_add_n(tt_backend):
    x = tt.constant(np.arange(6.0).reshape(2, 3))
    assert tt.shape(x).numpy().tolist() == [2, 3] and tt.shape(x).dtype == tt.int32
    assert tt.shape(x, out_type=tt.int64).dtype == tt.int64
    assert int(tt.size(x)) == 6 and int(tt.rank(x)) == 2
    np.testing.assert_allclose(float(tt.norm(x)), np.linalg.norm(np.arange(6.0)))
    with pytest.raises(TypeError, match="out_type"):
        tt.shape(x, out_type=tt.float32)

    @tt.function
    def f(x):
        n = tt.cast(tt.size(x), x.dtype)
        return tt.reduce_sum(tt.add_n([x * x, x, 1.0 + x * 0.0])) / n * \
            tt.cast(tt.shape(x)[0], x.dtype)

    with tt.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(float(y), np.sum(a * a + a + 1.0) / 6 * 2)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), (2 * a + 1) / 3)
    with pytest.raises(ValueError, match="add_n"):
        tt.add_n([x, tt.constant([1.0])])


def test_eye_batch_shape_where_coordinates_and_scalar_conversion():
    assert tt.eye(2, 3, [4, 1]).shape == (4, 1, 2, 3)              # TF's positional order
    np.testing.assert_array_equal(tt.eye(2, batch_shape=[3], dtype=tt.float64).numpy(),
                                  np.broadcast_to(np.eye(2), (3, 2, 2)))
    got = tt.where(tt.constant([[True, False], [True, True]]))     # tf.where(condition)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.numpy(), [[0, 0], [1, 0], [1, 1]])
    assert tt.where([0.0, 2.0]).numpy().tolist() == [[1]]
    with pytest.raises(tt.TracingError, match="where"):
        tt.function(lambda c: tt.where(c))(tt.constant([True]))
    with pytest.raises(ValueError, match="both"):
        tt.where(tt.constant([True]), 1.0)
    assert float(tt.constant([2.5])) == 2.5 and int(tt.constant([[3]])) == 3
    for convert in (float, int):
        with pytest.raises(TypeError, match=r"shape \(2,\)"):
            convert(tt.constant([1.0, 2.0]))


def test_random_dtype_rules_of_tensorflow():
    with pytest.raises(ValueError, match="maxval must be given for integer dtype int32"):
        tt.random.uniform((3,), dtype=tt.int32)
    assert tt.random.uniform((3,), maxval=5, dtype=tt.int64, seed=1).dtype == np.int64
    assert float(tt.reduce_max(tt.random.uniform((50,)))) < 1.0        # floats: maxval 1
    for sampler in (tt.random.normal, tt.random.truncated_normal):
        with pytest.raises(TypeError, match="valid dtypes are float32, float64"):
            sampler((2,), dtype=tt.int32)
    with pytest.raises(TypeError, match="random.uniform: dtype bool"):
        tt.random.uniform((2,), dtype=tt.bool)


def test_matmul_transpose_flags_and_transpose_conjugate(tt_backend):
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(2, 2, 3)
    f = tt.function(lambda x, y: (tt.matmul(x, y, transpose_b=True),
                                  tt.matmul(x, x, adjoint_a=True),
                                  tt.linalg.matmul(y, x, transpose_a=True, transpose_b=False)))
    ab, aa, ba = f(a, b)
    np.testing.assert_allclose(ab.numpy(), a @ np.swapaxes(b, -1, -2))
    np.testing.assert_allclose(aa.numpy(), a.T @ a)
    np.testing.assert_allclose(ba.numpy(), np.swapaxes(b, -1, -2) @ a)
    g = tt.grad(lambda x: tt.reduce_sum(tt.matmul(x, x, transpose_b=True)))(a)
    np.testing.assert_allclose(g.numpy(), 2 * np.ones((2, 2)) @ a)
    with pytest.raises(ValueError, match="only one of transpose_a and adjoint_a"):
        tt.matmul(a, a, transpose_a=True, adjoint_a=True)
    assert tt.transpose(a, conjugate=True).shape == (3, 2)


def test_softmax_axis_none_and_integer_tensor_axes():
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(tt.nn.softmax(x, axis=None).numpy(), e / e.sum(1, keepdims=True))
    np.testing.assert_allclose(tt.nn.log_softmax(x, axis=None).numpy(),
                               np.log(e / e.sum(1, keepdims=True)))
    one = tt.constant(1)                                   # TF accepts int tensors as axes
    assert tt.concat([x, x], one).shape == (2, 4) and tt.gather(x, [1], axis=one).shape \
        == (2, 1)
    np.testing.assert_array_equal(tt.cumsum(x, one).numpy(), np.cumsum(x, 1))
    assert len(tt.split(x, 2, axis=one)) == 2 and tt.math.top_k(x, one)[0].shape == (2, 1)
    with pytest.raises(TypeError, match="axis must be an int"):
        tt.reduce_sum(x, 1.0)


def test_expand_dims_takes_one_axis_in_a_list_or_tensor():
    x = tt.ones((2, 3))
    assert tt.expand_dims(x, [0]).shape == (1, 2, 3)           # TensorFlow accepts these
    assert tt.expand_dims(x, tt.constant(-1)).shape == (2, 3, 1)
    assert tt.expand_dims(x, np.array([1])).shape == (2, 1, 3)
    with pytest.raises(TypeError, match="axis must be an int"):
        tt.expand_dims(x, 1.0)
    with pytest.raises(ValueError, match="-3..2"):
        tt.expand_dims(x, [3])

"""Bad input raises ValueError/TypeError naming the op, the shapes/dtypes and what is valid;
afterwards the library keeps working, including under a recording tape."""
import numpy as np
import pytest

import tracer as tt

A = np.ones((2, 3), np.float32)
B = np.ones((4, 5), np.float32)

CASES = [
    ("add_shapes", lambda: tt.add(A, np.ones((4,))), ValueError, ["add", "(2, 3)", "(4,)"]),
    ("mul_operator", lambda: tt.constant(A) * tt.ones((3, 2)), ValueError,
     ["multiply", "(2, 3)", "(3, 2)", "broadcast"]),
    ("matmul_inner", lambda: tt.matmul(A, B), ValueError,
     ["matmul", "(2, 3)", "(4, 5)", "must equal"]),
    ("matmul_batch", lambda: tt.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5))), ValueError,
     ["matmul", "(2,)", "(3,)"]),
    ("matmul_scalar", lambda: tt.matmul(2.0, A), ValueError, ["matmul", "rank"]),
    ("reshape", lambda: tt.reshape(A, (4, 2)), ValueError, ["reshape", "(2, 3)", "(4, 2)"]),
    ("reshape_two_minus_one", lambda: tt.reshape(A, (-1, -1)), ValueError,
     ["reshape", "-1"]),
    ("reshape_minus_one", lambda: tt.reshape(A, (-1, 4)), ValueError, ["reshape", "(2, 3)"]),
    ("transpose_perm", lambda: tt.transpose(A, [0, 0]), ValueError,
     ["transpose", "perm", "(2, 3)"]),
    ("transpose_rank", lambda: tt.transpose(A, [1, 0, 2]), ValueError, ["transpose", "perm"]),
    ("reduce_axis", lambda: tt.reduce_sum(A, axis=2), ValueError,
     ["reduce_sum", "axis 2", "-2..1"]),
    ("reduce_axis_type", lambda: tt.reduce_mean(A, axis=1.5), TypeError, ["reduce_mean"]),
    ("argmax_axis", lambda: tt.argmax(A, 3), ValueError, ["argmax", "axis 3"]),
    ("concat", lambda: tt.concat([A, B], 0), ValueError, ["concat", "(2, 3)", "(4, 5)"]),
    ("concat_axis", lambda: tt.concat([A, A], 2), ValueError, ["concat", "axis 2"]),
    ("stack", lambda: tt.stack([A, B]), ValueError, ["stack", "(2, 3)", "(4, 5)"]),
    ("gather_range", lambda: tt.gather(A, [0, 2]), ValueError,
     ["gather", "(2, 3)", "-2..1"]),
    ("gather_float", lambda: tt.gather(A, [0.5]), TypeError, ["gather", "float32"]),
    ("ragged", lambda: tt.constant([[1, 2], [3]]), ValueError, ["constant", "ragged"]),
    ("string", lambda: tt.constant("abc"), TypeError, ["constant", "string"]),
    ("string_list", lambda: tt.convert_to_tensor(["a", "b"]), TypeError,
     ["convert_to_tensor", "string"]),
    ("string_operand", lambda: tt.constant(A) + "x", TypeError, ["add", "string"]),
    ("none_operand", lambda: tt.multiply(A, None), TypeError, ["multiply", "None"]),
    ("object", lambda: tt.constant([object()]), TypeError, ["constant", "valid values"]),
    ("bad_dtype", lambda: tt.constant(1, dtype="complex64"), TypeError,
     ["constant", "complex64", "float32"]),
    ("not_a_dtype", lambda: tt.cast(A, "fish"), TypeError, ["cast", "fish"]),
    ("int_overflow", lambda: tt.constant(2 ** 40, dtype=tt.int32), ValueError,
     ["constant", "int32", "int64"]),
    ("float_op_on_int", lambda: tt.exp(tt.constant([1, 2])), TypeError,
     ["exp", "int32", "float32"]),
    ("bool_arith", lambda: tt.add([True], [False]), TypeError, ["add", "bool"]),
    ("int_neg_pow", lambda: tt.pow(tt.constant([2, 3]), -1), ValueError,
     ["pow", "negative", "float"]),
    ("where_cond", lambda: tt.where(A, A, A), TypeError, ["where", "float32", "bool"]),
    ("where_shapes", lambda: tt.where([True, False], A, A), ValueError,
     ["where", "(2,)", "(2, 3)"]),
    ("expand_dims", lambda: tt.expand_dims(A, 3), ValueError, ["expand_dims", "-3..2"]),
    ("squeeze", lambda: tt.squeeze(A, 0), ValueError, ["squeeze", "(2, 3)", "not 1"]),
    ("broadcast_to", lambda: tt.broadcast_to(A, (3, 3)), ValueError,
     ["broadcast_to", "(2, 3)", "(3, 3)"]),
    ("tile", lambda: tt.tile(A, [2]), ValueError, ["tile", "(2, 3)"]),
    ("getitem_range", lambda: tt.constant(A)[2], IndexError, ["getitem", "index 2", "size 2"]),
    ("getitem_many", lambda: tt.constant(A)[0, 0, 0], IndexError, ["getitem", "(2, 3)"]),
    ("getitem_float", lambda: tt.constant(A)[0.5], TypeError, ["getitem", "0.5", "integer arrays"]),
    ("tensordot_dims", lambda: tt.tensordot(A, B, 1), ValueError,
     ["tensordot", "(2, 3)", "(4, 5)"]),
    ("tensordot_axes", lambda: tt.tensordot(A, B, ([0, 1], [0])), ValueError,
     ["tensordot", "same length"]),
    ("tensordot_range", lambda: tt.tensordot(A, B, 3), ValueError, ["tensordot", "0..2"]),
    ("einsum_operands", lambda: tt.einsum("ij,jk->ik", A), ValueError,
     ["einsum", "2 operands", "1"]),
    ("einsum_rank", lambda: tt.einsum("ijk->i", A), ValueError, ["einsum", "(2, 3)"]),
    ("einsum_sizes", lambda: tt.einsum("ij,jk->ik", A, B), ValueError,
     ["einsum", "'j'", "3", "4"]),
    ("einsum_chars", lambda: tt.einsum("i1->i", A), ValueError, ["einsum", "letters"]),
    ("einsum_output", lambda: tt.einsum("ij->iz", A), ValueError, ["einsum", "'z'"]),
    ("einsum_ellipsis", lambda: tt.einsum("...j->j", np.ones((2, 3, 4))), ValueError,
     ["einsum", "..."]),
    ("softmax_int", lambda: tt.nn.softmax([1, 2]), TypeError, ["softmax", "int32"]),
    ("xent_shapes", lambda: tt.nn.softmax_cross_entropy_with_logits(A, B), ValueError,
     ["softmax_cross_entropy_with_logits", "(2, 3)", "(4, 5)"]),
    ("constant_shape", lambda: tt.constant([1, 2, 3], shape=(2, 2)), ValueError,
     ["constant", "(3,)", "(2, 2)"]),
    ("zeros_shape", lambda: tt.zeros((2, -1)), ValueError, ["zeros", "negative"]),
    ("range_delta", lambda: tt.range(0, 5, 0), ValueError, ["range", "delta"]),
    ("assign_shape", lambda: tt.Variable([1.0, 2.0]).assign([1.0]), ValueError,
     ["assign", "(1,)", "(2,)"]),
    ("bool_ambiguous", lambda: bool(tt.constant(A)), ValueError, ["bool", "(2, 3)"]),
    ("len_scalar", lambda: len(tt.constant(1.0)), TypeError, ["len", "0-d"]),
    # a fractional Python float is refused for an integer dtype (TensorFlow); tt.cast truncates
    ("lossy_int_constant", lambda: tt.constant(3.7, dtype=tt.int32), TypeError,
     ["constant", "3.7", "int32", "whole number", "tt.cast"]),
    ("lossy_int_list", lambda: tt.convert_to_tensor([1.0, 2.5], dtype=tt.int64), TypeError,
     ["convert_to_tensor", "[1.0, 2.5]", "int64"]),
    ("lossy_int_variable", lambda: tt.Variable(0.5, dtype=tt.int32), TypeError,
     ["Variable", "0.5", "int32"]),
]


def _works_after_error():
    x = tt.constant([1.0, 2.0])
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.reduce_sum(x * x)
    assert tape.gradient(y, x).numpy().tolist() == [2.0, 4.0]


@pytest.mark.parametrize("name,fn,exc,fragments", CASES, ids=[c[0] for c in CASES])
def test_error_names_op_and_facts(name, fn, exc, fragments):
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for f in fragments:
        assert f in msg, f"{f!r} missing from {msg!r}"
    _works_after_error()


@pytest.mark.parametrize("name,fn,exc,fragments", CASES[:20], ids=[c[0] for c in CASES[:20]])
def test_error_under_recording_tape_leaves_tape_usable(name, fn, exc, fragments):
    x = tt.constant([1.0, 2.0, 3.0])
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.sin(x)
        with pytest.raises(exc):
            fn()
        z = tt.reduce_sum(y * x)
    g = tape.gradient(z, x).numpy()
    xv = np.array([1.0, 2.0, 3.0], np.float32)
    np.testing.assert_allclose(g, np.sin(xv) + xv * np.cos(xv), rtol=1e-6)
    _works_after_error()


def test_error_on_watched_operand_leaves_tape_usable():
    x = tt.Variable([1.0, 2.0])
    with tt.GradientTape() as tape:
        with pytest.raises(ValueError, match="matmul"):
            tt.matmul(x, tt.ones((3, 3)))
        with pytest.raises(IndexError, match="getitem"):
            x[5]
        y = tt.reduce_sum(x * 3.0)
    assert tape.gradient(y, x).numpy().tolist() == [3.0, 3.0]


def test_whole_python_floats_still_convert_to_integers_and_cast_truncates():
    assert tt.constant(3.0, dtype=tt.int32).numpy() == 3
    assert tt.constant([1.0, -2.0], dtype=tt.int64).numpy().tolist() == [1, -2]
    assert tt.cast(3.7, tt.int32).numpy() == 3 and tt.cast(-3.7, tt.int32).numpy() == -3
    assert tt.constant(np.array([1.5]), dtype=tt.int32).numpy().tolist() == [1]  # NumPy's
    assert tt.convert_to_tensor(3.5, dtype_hint=tt.int32).dtype == tt.float32

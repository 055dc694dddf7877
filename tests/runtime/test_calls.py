"""Native implementations of calls (runtime.calls): the same values as the primitive's
NumPy implementation, bit for bit, and what compiled programs call."""
import numpy as np
import pytest

import runtime
from compiler import Graph
from compiler import primitives as P
from runtime import calls


def test_native_checked_index_equals_the_numpy_implementation():
    rng = np.random.default_rng(7)
    for trial in range(60):
        size = int(rng.integers(1, 6))
        shape = tuple(int(d) for d in rng.integers(0, 5, int(rng.integers(0, 3))))
        idx = rng.integers(-size, size, shape).astype((np.int32, np.int64)[trial % 2])
        if trial % 3 == 0:
            idx = np.asfortranarray(idx)
        got = calls.checked_index(idx, axis=1, size=size, op="gather")
        want = P.checked_index.impl(idx, axis=1, size=size, op="gather")
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    with pytest.raises(IndexError, match="^index 4 is out of bounds for axis 1 with size 3$"):
        calls.checked_index(np.array([1, 4]), axis=1, size=3, op="gather")
    with pytest.raises(IndexError, match="^scatter_add: index -4 is out of bounds"):
        calls.checked_index(np.array([-4, 1]), axis=0, size=3, op="scatter_add")


def test_compiled_programs_check_indices_natively_and_scatter_in_a_loop():
    upd = P.input(shape=(6, 3), dtype=np.dtype("float32"))
    idx = P.input(shape=(6,), dtype=np.dtype("int64"))
    g = Graph([upd, idx], [P.scatter_add(upd, idx, axis=0, size=4)])
    ex = runtime.executable(g, compile=True)
    args = [np.arange(18, dtype=np.float32).reshape(6, 3), np.array([3, 0, 3, -1, 2, 0])]
    got = ex.compile_now(args)[0]
    assert [getattr(c, "func", c) for c in ex.native.calls] == [calls.checked_index]
    np.testing.assert_array_equal(got, runtime.evaluate(g, args)[0])


def test_a_transpose_many_products_read_is_copied_once_into_a_contiguous_array():
    """An unrolled loop's backward pass multiplies by the same transposed weight at every
    step: compiled programs copy it once (BLAS is slower on a strided operand); a
    transpose fewer products read stays a view. Same values as the NumPy implementation."""
    from runtime import native
    w = P.input(shape=(5, 5), dtype=np.dtype("float64"))
    h = P.input(shape=(3, 5), dtype=np.dtype("float64"))
    wt = P.transpose(w, perm=(1, 0))
    outs = [h]
    for _ in range(native.COPY_TRANSPOSE_READERS):
        outs.append(P.matmul(outs[-1], wt))
    once = P.transpose(h, perm=(1, 0))
    g = Graph([w, h], [outs[-1], P.matmul(once, h)])
    ex = runtime.executable(g, compile=True)
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(5, 5)), rng.normal(size=(3, 5))]
    got = ex.compile_now(args)
    want = args[1]
    for _ in range(native.COPY_TRANSPOSE_READERS):
        want = want @ args[0].T
    np.testing.assert_allclose(got[0], want, rtol=1e-12)
    np.testing.assert_allclose(got[1], args[1].T @ args[1], rtol=1e-12)
    bound = [getattr(c, "func", c) for c in ex.native.calls]
    assert bound.count(native._transposed_copy) == 1
    assert native._transposed_copy(args[0], perm=(1, 0)).flags.c_contiguous


def test_compiled_slices_read_rows_and_strided_views_as_numpy():
    """Slices a matrix product reads stay calls (indexing with a key built once)."""
    import operator
    x = P.input(shape=(6, 5), dtype=np.dtype("float32"))
    w = P.input(shape=(5, 5), dtype=np.dtype("float32"))
    rows = [P.slice(x, starts=(t, 0), stops=(t + 1, 5), steps=(1, 1)) for t in range(6)]
    strided = P.slice(x, starts=(1, 0), stops=(6, 5), steps=(2, 3))
    top = P.slice(w, starts=(0, 0), stops=(2, 5), steps=(1, 1))
    g = Graph([x, w], [P.matmul(r, w) for r in rows] + [P.matmul(strided, top)])
    ex = runtime.executable(g, compile=True)
    rng = np.random.default_rng(1)
    args = [rng.normal(size=(6, 5)).astype(np.float32),
            rng.normal(size=(5, 5)).astype(np.float32)]
    got = ex.compile_now(args)
    for out, want in zip(got, runtime.evaluate(g, args)):
        np.testing.assert_array_equal(out, want)
    assert any(isinstance(c, operator.itemgetter) for c in ex.native.calls)

"""scatter_add (the gradient of gather and of embedding lookups) against np.add.at, the
definition it must reproduce bit for bit: the updates of one index added to zeros in
their order."""
import numpy as np
import pytest

from compiler import primitives as P


def _add_at(g, idx, axis, size):
    shape = g.shape[:axis] + (size,) + g.shape[axis + idx.ndim:]
    out = np.zeros(shape, g.dtype)
    upd = g.reshape(g.shape[:axis] + (idx.size,) + g.shape[axis + idx.ndim:])
    np.add.at(np.moveaxis(out, axis, 0), idx.reshape(-1), np.moveaxis(upd, axis, 0))
    return out


@pytest.mark.parametrize("repeats", [4, 40])     # 40: more than the passes it takes
def test_scatter_add_equals_add_at_bit_for_bit(repeats):
    rng = np.random.default_rng(repeats)
    for trial in range(300):
        nd = int(rng.integers(1, 4))
        shape = tuple(int(d) for d in rng.integers(0, 5, nd))
        axis, size = int(rng.integers(0, nd)), int(rng.integers(1, 6))
        ishape = tuple(int(d) for d in rng.integers(0, repeats, int(rng.integers(0, 3))))
        idx = rng.integers(-size, size, ishape)
        gshape = shape[:axis] + ishape + shape[axis + 1:]
        dtype = (np.float32, np.float64, np.int32)[trial % 3]
        g = (rng.normal(size=gshape) * 10).astype(dtype)
        if dtype is not np.int32 and g.size:
            g.reshape(-1)[0] = -0.0                 # 0 + -0.0 is +0.0
        got = P.scatter_add.impl(g, idx, axis=axis, size=size)
        want = _add_at(g, idx, axis, size)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.array_equal(got, want) and np.array_equal(np.signbit(got),
                                                            np.signbit(want))


def test_scatter_add_rejects_an_index_out_of_range():
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 4"):
        P.scatter_add.impl(np.ones(3), np.array([0, 5, 1]), axis=0, size=4)
    with pytest.raises(IndexError, match="index -5"):
        P.scatter_add.impl(np.ones(3), np.array([0, -5, 1]), axis=0, size=4)

"""Gathers read inside loops and scatter_adds computed in them (the native tier): loops
read ``x[idx[i], j]`` through checked indices instead of a gathered copy, and add a
scatter_add's updates where their indices say in the loop over the updates. Values
equal the interpreter's bit for bit (scatter_add: np.add.at's order of sums, repeated
indices included), and out-of-range indices raise the same IndexError as before."""
import numpy as np
import pytest

import runtime
import tracer as tt
from compiler import Graph, autodiff, fusion, pipeline
from compiler import primitives as P

RNG = np.random.default_rng(11)


def _graph(xshape, xdtype, ishape, idtype, axis):
    """Outputs: a gather read by an elementwise op, its sum of squares (one fused
    reduction), the gathered array itself, and scatter_adds of a fused product and of an
    input (the gradient of a gather, and scatter_add alone)."""
    x = P.input(shape=xshape, dtype=np.dtype(xdtype))
    idx = P.input(shape=ishape, dtype=np.dtype(idtype))
    g = P.gather(x, idx, axis=axis)
    w = P.input(shape=g.shape, dtype=g.dtype)
    size = xshape[axis]
    sq = P.mul(g, g)
    outs = [P.mul(g, P.broadcast_to(P.literal(2.0, g.dtype), shape=g.shape)),
            P.reduce_sum(sq, axes=tuple(range(g.ndim))), g,
            P.scatter_add(P.mul(g, w), idx, axis=axis, size=size),
            P.scatter_add(w, idx, axis=axis, size=size)]
    return Graph([x, idx, w], outs)


def _values(xshape, xdtype, ishape, idtype, axis, size_from=None):
    x = (RNG.normal(size=xshape) * 10).astype(xdtype)
    n = xshape[axis]
    idx = RNG.integers(-n, n, ishape).astype(idtype) if n else np.zeros(ishape, idtype)
    gshape = xshape[:axis] + ishape + xshape[axis + 1:]
    w = (RNG.normal(size=gshape) * 1e3).astype(xdtype)
    if w.size:
        w.reshape(-1)[0] = -0.0                 # 0 + -0.0 is +0.0, as np.add.at gives
    return [x, idx, w]


def _same(got, want, summed=()):
    """Equal bit for bit, but for the outputs at positions ``summed`` (float sums, which
    loops accumulate in another order than NumPy's pairwise sum)."""
    for k, (a, b) in enumerate(zip(got, want)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype
        if k in summed:
            np.testing.assert_allclose(a, b, rtol=1e-5 if a.dtype == np.float32 else 1e-12)
            continue
        assert np.array_equal(a, b) and np.array_equal(np.signbit(a), np.signbit(b))


CASES = [((6, 3), "float32", (9,), "int64", 0),
         ((2, 5, 3), "float64", (2, 4), "int32", 1),
         ((2, 3, 4), "float64", (), "int64", 2),
         ((7,), "float32", (5,), "int32", 0)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-axis{c[4]}")
def test_gather_and_scatter_loops_equal_the_interpreter_bit_for_bit(case):
    xshape, xdtype, ishape, idtype, axis = case
    g = _graph(*case)
    low = pipeline.lower(g, runtime.config.parallel_threshold)
    assert not [st for st in low.calls if st.node.prim.name not in ("checked_index",)]
    args = _values(*case)
    _same(runtime.evaluate(g, args, "compiled"), runtime.evaluate(g, args), (1,))
    # the same structure at other extents: empty indices, size-1 axes, every update on
    # one index (duplicates, added in order), extents of 0 outside the gathered axis
    for xs, ishp in [(xshape, (0,) * len(ishape)),
                     (tuple(1 for _ in xshape), ishape),
                     (xshape, tuple(40 for _ in ishape) if ishape else ()),
                     (tuple(0 if d != axis else 3 for d in range(len(xshape))), ishape)]:
        g2 = _graph(xs, xdtype, ishp, idtype, axis)
        args = _values(xs, xdtype, ishp, idtype, axis)
        if ishp and ishp[0] == 40:
            args[1] = np.full(ishp, -1, idtype)
            args[1].reshape(-1)[::3] = 0
        _same(runtime.evaluate(g2, args, "compiled"), runtime.evaluate(g2, args), (1,))


def test_a_gather_its_square_sum_and_gradient_are_one_loop():
    p = P.input(shape=(50, 8), dtype=np.dtype("float32"))
    ids = P.input(shape=(30,), dtype=np.dtype("int64"))
    rows = P.gather(p, ids, axis=0)
    two = P.broadcast_to(P.literal(2.0, "float32"), shape=rows.shape)
    loss = P.reduce_sum(P.pow(rows, two), axes=(0, 1))
    (grad,) = autodiff.vjp([loss], [P.literal(1.0, "float32")], [p])
    for outs in ([loss], [loss, grad]):
        g = pipeline.optimize(Graph([p, ids], outs))
        low = pipeline.lower(g, runtime.config.parallel_threshold)
        assert len(low.kernels) == 1
        # one check of the indices, shared by the gather and its gradient's scatter_add
        assert [st.node.prim.name for st in low.calls] == ["checked_index"]
        assert all(fusion.is_sink(n) or n.prim.name != "scatter_add"
                   for n in low.graph.nodes)
        values = [RNG.normal(size=(50, 8)).astype(np.float32),
                  RNG.integers(-50, 50, 30)]
        _same(runtime.evaluate(g, values, "compiled"), runtime.evaluate(g, values), (0,))


def test_out_of_range_indices_raise_as_before_and_the_program_still_runs():
    x = P.input(shape=(5, 3), dtype=np.dtype("float64"))
    idx = P.input(shape=(2,), dtype=np.dtype("int64"))
    u = P.input(shape=(2, 3), dtype=np.dtype("float64"))
    gather = Graph([x, idx], [P.mul(P.gather(x, idx, axis=0), P.gather(x, idx, axis=0))])
    scatter = Graph([u, idx], [P.scatter_add(P.mul(u, u), idx, axis=0, size=4)])
    both = Graph([x, idx], [P.scatter_add(P.gather(x, idx, axis=0), idx, axis=0, size=5)])
    xv, uv = np.ones((5, 3)), np.ones((2, 3))
    for tier in ("interpret", "compiled"):
        with pytest.raises(IndexError, match="^index 7 is out of bounds for axis 0 with "
                                             "size 5$"):
            runtime.evaluate(gather, [xv, np.array([1, 7])], tier)
        with pytest.raises(IndexError, match="^index -6 is out of bounds"):
            runtime.evaluate(gather, [xv, np.array([-6, 0])], tier)
        with pytest.raises(IndexError, match="^scatter_add: index 4 is out of bounds for "
                                             "axis 0 with size 4$"):
            runtime.evaluate(scatter, [uv, np.array([0, 4])], tier)
        with pytest.raises(IndexError, match="^index 5 is out of bounds for axis 0 with "
                                             "size 5$"):
            runtime.evaluate(both, [xv, np.array([0, 5])], tier)
        np.testing.assert_array_equal(
            runtime.evaluate(gather, [xv, np.array([-5, 4])], tier)[0], np.ones((2, 3)))
        np.testing.assert_array_equal(
            runtime.evaluate(both, [xv, np.array([-5, 0])], tier)[0],
            [[2, 2, 2]] + [[0, 0, 0]] * 4)
        np.testing.assert_array_equal(
            runtime.evaluate(scatter, [uv, np.array([-1, -1])], tier)[0],
            [[0, 0, 0]] * 3 + [[2, 2, 2]])


def _tier(jit_threshold, fn, *args):
    saved = runtime.config.jit_threshold
    runtime.config.update(jit_threshold=jit_threshold)
    try:
        return fn(*args).numpy()
    finally:
        runtime.config.update(jit_threshold=saved)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_embedding_gradients_of_any_order_match_the_interpreter(dtype):
    table = RNG.normal(size=(20, 4)).astype(dtype)
    ids = np.array([3, 3, 3, -1, 0, 19, 3, 7])

    def loss(p, i):
        return tt.reduce_sum(tt.gather(p, i) ** 3)

    first = tt.function(tt.grad(loss))
    second = tt.function(tt.grad(lambda p, i: tt.reduce_sum(tt.grad(loss)(p, i) * p)))
    for f in (first, second):
        want = _tier(1 << 30, f, table, ids)
        np.testing.assert_array_equal(_tier(0, f, table, ids), want)
    with pytest.raises(IndexError, match="index 20 is out of bounds for axis 0 with size 20"):
        _tier(0, first, table, np.array([0, 20]))
    np.testing.assert_array_equal(_tier(0, first, table, ids), _tier(1 << 30, first, table, ids))

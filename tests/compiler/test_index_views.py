"""Index views (slice, pad, rev, transpose) read by loops: index arithmetic inside the
kernel, no NumPy call and no temporary; cheap producers are recomputed where read."""
import numpy as np

import runtime
from compiler import Graph, codegen, fusion
from compiler import primitives as P

F32, F64 = np.dtype("float32"), np.dtype("float64")


def _steps(graph):
    steps = fusion.partition(graph)
    kernels = [s for s in steps if isinstance(s, fusion.Kernel)]
    return steps, [codegen.kernel_source(k, 1 << 20)[0] for k in kernels]


def _check(graph, args):
    with np.errstate(all="ignore"):
        want = runtime.evaluate(graph, args, "interpret")
        got = runtime.evaluate(graph, args, "compiled")
    for g, w in zip(got, want):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(np.asarray(g, F64), np.asarray(w, F64), rtol=1e-6,
                                   atol=1e-6, equal_nan=True)


def _special(a):
    flat = a.reshape(-1)
    flat[:3] = [np.nan, np.inf, -np.inf]
    return a


def test_pads_of_slices_of_cheap_expressions_are_one_kernel_without_temporaries():
    n = 1000
    x, v = P.input(shape=(n,), dtype=F32), P.input(shape=(n,), dtype=F32)
    head = P.slice(x, starts=(0,), stops=(n - 1,), steps=(1,))
    tail = P.slice(x, starts=(1,), stops=(n,), steps=(1,))
    vv = P.mul(v, v)                       # recomputed where the slices read it
    d = P.sub(tail, P.mul(head, P.slice(vv, starts=(1,), stops=(n,), steps=(1,))))
    out = P.add(P.pad(d, config=((1, 0, 0),)), P.pad(P.tanh(d), config=((0, 1, 0),)))
    g = Graph([x, v], [out])
    steps, sources = _steps(g)
    assert len(sources) == 1                          # everything recomputed from x, v
    assert [s.node.prim.name for s in steps if isinstance(s, fusion.Call)] == ["slice"] * 2
    src = sources[0]
    assert "if i >= 1 else" in src and "if i < 999 else" in src and src.count("np.empty") == 1
    rng = np.random.default_rng(0)
    _check(g, [_special(rng.standard_normal(n).astype(F32)), rng.standard_normal(n).astype(F32)])


def test_strided_slice_rev_transpose_and_interior_pad_read_by_loops():
    x = P.input(shape=(5, 6), dtype=F64)
    y = P.input(shape=(3, 4), dtype=F64)
    s = P.slice(P.exp(x), starts=(1, 0), stops=(4, 6), steps=(1, 2))       # (3, 3)
    t = P.transpose(P.rev(s, axes=(1,)), perm=(1, 0))                       # (3, 3)
    p = P.pad(P.exp(y), config=((1, 0, 1), (0, 2, 2)))                      # (6, 12)
    q = P.pad(P.sin(x), config=((0, 1, 0), (3, 3, 0)))                      # (6, 12)
    g = Graph([x, y], [P.mul(t, s), P.add(p, q), P.reduce_sum(P.mul(p, q), axes=(1,))])
    steps, sources = _steps(g)
    assert not any(isinstance(st, fusion.Call) for st in steps)
    assert any("% 2 == 0" in src for src in sources)
    rng = np.random.default_rng(1)
    _check(g, [_special(rng.standard_normal((5, 6))), rng.standard_normal((3, 4))])


def test_views_read_by_calls_or_returned_stay_numpy_views():
    a, w = P.input(shape=(4, 3), dtype=F64), P.input(shape=(4, 5), dtype=F64)
    at = P.transpose(a, perm=(1, 0))
    h = P.tanh(P.matmul(at, w))                                             # (3, 5)
    g = Graph([a, w], [P.slice(h, starts=(0, 1), stops=(3, 5), steps=(1, 1)),
                       P.add(P.transpose(h, perm=(1, 0)), P.transpose(h, perm=(1, 0)))])
    steps, _ = _steps(g)
    called = [s.node.prim.name for s in steps if isinstance(s, fusion.Call)]
    assert sorted(called) == ["matmul", "slice"] + ["transpose"] * 3   # strided views
    rng = np.random.default_rng(2)
    _check(g, [rng.standard_normal((4, 3)), rng.standard_normal((4, 5))])


def test_pad_read_by_a_call_is_materialised_by_a_loop_and_empty_pads_work():
    x = P.input(shape=(2, 3), dtype=F64)
    e = P.input(shape=(0, 3), dtype=F64)
    p = P.pad(P.cos(x), config=((1, 1, 1), (0, 0, 0)))                      # (5, 3)
    w = P.input(shape=(3, 2), dtype=F64)
    g = Graph([x, e, w], [P.matmul(p, w), P.neg(P.pad(e, config=((1, 0, 2), (0, 1, 0))))])
    steps, _ = _steps(g)
    assert [s.node.prim.name for s in steps if isinstance(s, fusion.Call)] == ["matmul"]
    rng = np.random.default_rng(3)
    _check(g, [rng.standard_normal((2, 3)), np.zeros((0, 3)), rng.standard_normal((3, 2))])


def test_views_of_stored_values_are_numpy_views_so_kernels_ignore_offsets():
    x = P.input(shape=(50,), dtype=F64)
    r = P.reduce_sum(x, axes=(0,))
    c = P.add(x, P.broadcast_to(r, shape=(50,)))          # reads a reduction: stored
    d = P.slice(c, starts=(1,), stops=(50,), steps=(1,))
    g = Graph([x], [P.mul(d, d)])
    steps, sources = _steps(g)
    assert [s.node.prim.name for s in steps if isinstance(s, fusion.Call)] == ["slice"]
    assert len(sources) == 3 and "(i + 1)" not in sources[-1]
    _check(g, [_special(np.linspace(-2, 2, 50))])

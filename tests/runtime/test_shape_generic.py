"""Kernels take their extents at run time: one compiled kernel serves every shape of the
same structure, rank and layout, and agrees with the interpreter at each (0 and 1
extents included)."""
import numpy as np
import pytest

import runtime
from compiler import Graph, codegen, fusion
from compiler import primitives as P

F64 = np.dtype("float64")
F32 = np.dtype("float32")


def _structures(n, dtype):
    x = P.input(shape=(n, 4), dtype=dtype)
    b = P.input(shape=(4,), dtype=dtype)
    y = P.tanh(P.add(x, P.broadcast_to(b, shape=(n, 4))))
    return {
        "elementwise": Graph([x, b], [y, P.mul(y, y)]),
        "row_sums": Graph([x, b], [P.reduce_sum(P.mul(y, x), axes=(1,))]),
        "column_max": Graph([x, b], [P.reduce_max(y, axes=(0,))]),
        "total": Graph([x, b], [P.reduce_sum(P.exp(x), axes=(0, 1))]),
    }


def _kernel_sources(graph):
    steps = fusion.partition(fusion.rematerialize(graph))
    return [codegen.kernel_code(k, 1 << 20)[0] for k in steps
            if isinstance(k, fusion.Kernel)]


@pytest.mark.parametrize("dtype", [F64, F32])
def test_shape_generic_kernels_agree_with_interpreter_across_extents(tt_fresh_cache, dtype):
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 5, 33):
        args = [rng.standard_normal((n, 4)).astype(dtype),
                rng.standard_normal(4).astype(dtype)]
        for name, g in _structures(n, dtype).items():
            if n == 0 and name == "column_max":
                continue                       # max over an empty axis has no value
            want = runtime.evaluate(g, args, "interpret")
            got = runtime.evaluate(g, args, "compiled")
            for w, o in zip(want, got):
                assert np.shape(o) == np.shape(w), (name, n)
                np.testing.assert_allclose(o, w, rtol=1e-5, atol=1e-6, err_msg=f"{name} n={n}")


def test_shape_generic_source_has_no_extents():
    a, b = _structures(5, F64), _structures(9, F64)
    for name in a:
        assert _kernel_sources(a[name]) == _kernel_sources(b[name]), name


def test_shape_generic_new_batch_size_compiles_nothing(tt_fresh_cache):
    rng = np.random.default_rng(1)
    for n in (6, 7):
        args = [rng.standard_normal((n, 4)), rng.standard_normal(4)]
        for g in _structures(n, F64).values():
            runtime.evaluate(g, args, "compiled")
    before = runtime.cache_stats()["compiles"]
    for n in (8, 50, 1000):
        args = [rng.standard_normal((n, 4)), rng.standard_normal(4)]
        for name, g in _structures(n, F64).items():
            got = runtime.evaluate(g, args, "compiled")
            want = runtime.evaluate(g, args, "interpret")
            for w, o in zip(want, got):
                np.testing.assert_allclose(o, w, rtol=1e-12, atol=1e-12)
    assert runtime.cache_stats()["compiles"] == before


# -- templates: a lowering reused at other shapes of one structure ------------------------

def _lit(value, dtype=F32):
    return P.literal(value=value, dtype=dtype)


def _template_cases(n):
    """Graphs over a batch of n rows: broadcasting, reductions, a mean (literal 1/n),
    unit-axis reshapes, slices, a product (a NumPy call), and views whose code reads
    extents (rev) or literals written into the source (pow's exponent 1/n)."""
    x = P.input(shape=(n, 4), dtype=F32)
    b = P.input(shape=(4,), dtype=F32)
    w = P.input(shape=(4, 3), dtype=F32)
    y = P.tanh(P.add(x, P.broadcast_to(b, shape=(n, 4))))
    mean = P.mul(P.reduce_sum(y, axes=(0,)), P.broadcast_to(_lit(1.0 / max(n, 1)), shape=(4,)))
    col = P.reshape(P.reduce_sum(P.mul(y, x), axes=(1,)), shape=(n, 1))
    rows = max(n - 1, 0)
    sl = P.slice(x, starts=(1, 0), stops=(n, 4), steps=(1, 1)) if n else x
    return {
        "mean": Graph([x, b], [mean, P.sub(y, P.broadcast_to(mean, shape=(n, 4)))]),
        "column": Graph([x, b], [P.mul(P.broadcast_to(col, shape=(n, 4)), y)]),
        "product": Graph([x, b, w], [P.exp(P.matmul(y, w)), P.reduce_max(y, axes=(1,))]),
        "slice": Graph([x], [P.sin(sl), P.reduce_sum(P.mul(sl, sl), axes=(0, 1))]),
        "rev": Graph([x], [P.mul(P.rev(x, axes=(0,)), x)]),
        "pow": Graph([x], [P.pow(P.abs(x), P.broadcast_to(_lit(1.0 / max(n, 1)),
                                                          shape=(n, 4)))]),
    }, rows


def test_templates_agree_with_fresh_lowering_across_extents():
    from runtime import native, templates
    from runtime.executor import structure_key
    from compiler import pipeline
    runtime.cache.clear()               # executables of these graphs lower afresh here
    templates.clear()
    rng = np.random.default_rng(2)
    threshold = runtime.config.parallel_threshold
    reused = set()
    for n in (6, 0, 1, 2, 3, 9, 40):
        graphs, _ = _template_cases(n)
        args = [rng.standard_normal((n, 4)).astype(F32), rng.standard_normal(4).astype(F32),
                rng.standard_normal((4, 3)).astype(F32)]
        for name, g in graphs.items():
            a = args[:len(g.inputs)]
            found = templates.find(structure_key(g), g, threshold)
            if found is not None:           # must be exactly what lowering writes
                reused.add((name, n))
                fresh = pipeline.lower(g, threshold)
                t, (lg, calls, values) = found
                assert [k.key for k in t.lowered.kernels] == [k.key for k in fresh.kernels]
                assert t.lowered.driver == fresh.driver, (name, n)
                assert values == fresh.driver_values, (name, n)
                assert [c.attrs for c in calls] == [st.node.attrs for st in fresh.calls]
                got = native.NativeProgram(g, template=t, instance=found[1]).run(*a)
            else:
                got = runtime.evaluate(g, a, "compiled")
            want = runtime.evaluate(g, a, "interpret")
            for w_, o in zip(want, got):
                assert np.shape(o) == np.shape(w_), (name, n)
                np.testing.assert_allclose(o, w_, rtol=1e-5, atol=1e-6, err_msg=f"{name} {n}")
    # safe structures at other extents (not 0 or 1) reuse the lowering; rev and pow
    # (extents or literals in the kernel source) never do
    assert {("mean", 9), ("column", 40), ("product", 9), ("slice", 9)} <= reused
    assert not any(name in ("rev", "pow") for name, _ in reused)
    assert not any(n in (0, 1) for _, n in reused)


def test_the_sin_cos_size_bound_splits_templates_only_where_sin_or_cos_runs():
    # kernels of codegen.NEAR_MIN_SIZE elements and more run sin/cos through a
    # near-argument loop: a lowering with sin/cos must not serve both sides of that bound,
    # while one without them serves every size of its shape class (a new batch size of an
    # MLP's gradient is instantiated, not lowered again)
    from runtime import templates
    from runtime.executor import structure_key
    from compiler import pipeline
    threshold = runtime.config.parallel_threshold
    big, small = codegen.NEAR_MIN_SIZE // 4 + 10, codegen.NEAR_MIN_SIZE // 4 - 10

    def graph(n, op):
        x = P.input(shape=(n, 4), dtype=F64)
        return Graph([x], [op(P.mul(x, x))])
    for op, reused in ((P.tanh, True), (P.sin, False), (P.cos, False)):
        templates.clear()
        g1, g2 = graph(big, op), graph(small, op)
        templates.remember(structure_key(g1), g1, pipeline.lower(g1, threshold), threshold)
        found = templates.find(structure_key(g2), g2, threshold)
        assert (found is not None) == reused, op
        if found is not None:
            fresh = pipeline.lower(g2, threshold)
            assert [k.key for k in found[0].lowered.kernels] == \
                [k.key for k in fresh.kernels]
    templates.clear()

"""compiler.rewrites and compiler.pipeline: CSE, folding, IEEE-safe identities, DCE, keys."""
import numpy as np
import pytest

import runtime
from compiler import autodiff, pipeline, rewrites
from compiler import primitives as P
from compiler.ir import Graph

F64 = np.dtype("float64")
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -2.5])


def leaf(shape=(7,), dtype=F64):
    return P.input(shape=shape, dtype=np.dtype(dtype))


def fill(v, shape=(7,), dtype=F64):
    return P.full(v, shape, dtype)


def optimized(x, y):
    """The optimised single-output graph of ``y`` over input ``x``."""
    return pipeline.optimize(Graph([x], [y]))


def assert_same_values(graph, other, values):
    """Both graphs give bit-identical results (NaN where NaN, signed zeros) on values."""
    with np.errstate(all="ignore"):
        a = runtime.evaluate(graph, values)
        b = runtime.evaluate(other, values)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
        zero = np.asarray(v) == 0
        np.testing.assert_array_equal(np.signbit(u)[zero], np.signbit(v)[zero])


def test_cse_merges_structurally_equal_nodes():
    x, y = leaf(), leaf()
    a, b = P.mul(P.sin(x), y), P.mul(P.sin(x), y)
    g = pipeline.optimize(Graph([x, y], [a, b]))
    assert g.outputs[0] is g.outputs[1]
    assert [n.prim.name for n in g.nodes].count("sin") == 1


def test_cse_keeps_different_attrs_apart():
    x = leaf((2, 3))
    a = P.reduce_sum(x, axes=(0,))
    b = P.reduce_sum(x, axes=(1,))
    g = pipeline.optimize(Graph([x], [P.reduce_sum(a, axes=(0,)), P.reduce_sum(b, axes=(0,))]))
    assert g.outputs[0] is not g.outputs[1]


def test_constant_folding_computes_fills():
    x = leaf()
    y = P.mul(x, P.add(fill(2.0), fill(3.0)))
    g = optimized(x, y)
    folded = g.outputs[0].inputs[1]
    assert rewrites.full_value(folded) == 5.0
    assert "add" not in [n.prim.name for n in g.nodes]


def test_constant_folding_is_exact_ieee():
    x = leaf()
    for y, want in [(P.div(fill(0.0), fill(0.0)), np.nan), (P.div(fill(1.0), fill(-0.0)), -np.inf),
                    (P.neg(fill(0.0)), -0.0), (P.log(fill(-1.0)), np.nan)]:
        g = pipeline.optimize(Graph([x], [P.add(x, y)]))
        v = rewrites.full_value(g.outputs[0].inputs[1])
        assert v is not None
        np.testing.assert_array_equal(v, want)
        assert np.isnan(v) or np.signbit(v) == np.signbit(want)


def test_constant_folding_leaves_runtime_errors_to_run_time():
    y = P.pow(P.literal(2, "int32"), P.literal(-1, "int32"))
    g = pipeline.optimize(Graph([], [y]))
    assert g.outputs[0].prim.name == "pow"


@pytest.mark.parametrize("build", [
    lambda x: P.mul(x, fill(1.0)),
    lambda x: P.mul(fill(1.0), x),
    lambda x: P.div(x, fill(1.0)),
    lambda x: P.sub(x, fill(0.0)),
    lambda x: P.neg(P.neg(x)),
    lambda x: P.reshape(x, shape=(7,)),
    lambda x: P.broadcast_to(x, shape=(7,)),
    lambda x: P.cast(x, dtype="<f8"),
    lambda x: P.transpose(x, perm=(0,)),
    lambda x: P.reduce_max(x, axes=()),
    lambda x: P.reduce_prod(x, axes=()),
    lambda x: P.select(P.less(x, fill(0.0)), x, x),
    lambda x: P.reshape(P.reshape(x, shape=(7, 1)), shape=(7,)),
    lambda x: P.pow(x, fill(1.0)),
    lambda x: P.select(P.full(True, (7,), "bool"), x, fill(2.0)),
    lambda x: P.select(P.full(False, (7,), "bool"), fill(2.0), x),
    # a reduction's seed: a literal reshaped, then broadcast
    lambda x: P.mul(P.broadcast_to(P.reshape(P.literal(1.0, F64), shape=(1,)), shape=(7,)), x),
    lambda x: P.div(x, P.reshape(P.broadcast_to(P.literal(1.0, F64), shape=(7, 1)),
                                 shape=(7,))),
], ids=["mul1", "1mul", "div1", "sub0", "negneg", "reshape", "broadcast", "cast", "transpose",
        "max_none", "prod_none", "select_same", "reshape_chain", "pow1", "select_true",
        "select_false", "mul_reshaped_1", "div_reshaped_1"])
def test_identity_is_applied_and_exact(build):
    x = leaf()
    y = build(x)
    g = optimized(x, y)
    assert g.outputs[0] is x, f"not simplified:\n{g}"
    assert_same_values(g, Graph([x], [y]), [SPECIAL])


@pytest.mark.parametrize("build", [
    lambda x: P.mul(x, fill(0.0)),             # nan * 0 is nan, -1 * 0 is -0.0
    lambda x: P.add(x, fill(0.0)),             # -0.0 + 0.0 is +0.0
    lambda x: P.sub(x, fill(-0.0)),            # -0.0 - -0.0 is +0.0
    lambda x: P.sub(x, x),                     # inf - inf is nan
    lambda x: P.div(x, x),                     # 0 / 0 is nan
    lambda x: P.mul(P.div(x, fill(3.0)), fill(3.0)),
    lambda x: P.neg(P.sub(fill(0.0), x)),      # -(0 - 0.0) is -0.0, not 0.0
    lambda x: P.reduce_sum(x, axes=()),        # NumPy's sum starts at +0.0: -0.0 -> 0.0
], ids=["mul0", "add0", "sub_negzero", "sub_self", "div_self", "div_mul", "neg_sub",
        "sum_none"])
def test_ieee_unsafe_identity_is_not_applied(build):
    x = leaf()
    y = build(x)
    g = optimized(x, y)
    assert g.outputs[0] is not x
    assert_same_values(g, Graph([x], [y]), [SPECIAL])


def test_negative_zero_literal_is_not_merged_with_zero():
    x = leaf()
    a, b = P.add(x, fill(-0.0)), P.add(x, fill(0.0))
    g = pipeline.optimize(Graph([x], [a, b]))
    assert g.outputs[0] is not g.outputs[1]
    assert_same_values(g, Graph([x], [a, b]), [SPECIAL])


def test_dce_drops_nodes_no_output_needs():
    x = leaf()
    dead = P.exp(P.sin(x))
    y = P.mul(P.cos(x), fill(1.0))
    g = optimized(x, y)
    assert [n.prim.name for n in g.nodes] == ["input", "cos"]
    assert dead.prim.name == "exp"


def test_optimize_reaches_a_fixed_point_on_gradient_graphs():
    x, w = leaf((3, 4)), leaf((4, 2))
    y = P.reduce_sum(P.tanh(P.matmul(x, w)), axes=(0, 1))
    gx, gw = autodiff.vjp([y], [P.literal(1.0, F64)], [x, w])
    (hx,) = autodiff.vjp([P.reduce_sum(P.mul(gx, gx), axes=(0, 1))], [P.literal(1.0, F64)], [x])
    raw = Graph([x, w], [y, gx, gw, hx])
    once = pipeline.optimize(raw)
    assert rewrites.rewrite(once).key == once.key
    assert len(once.nodes) < len(raw.nodes)
    rng = np.random.default_rng(0)
    vals = [rng.standard_normal((3, 4)), rng.standard_normal((4, 2))]
    for a, b in zip(runtime.evaluate(raw, vals), runtime.evaluate(once, vals)):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_passes_are_named_functions():
    assert pipeline.PASSES and all(isinstance(name, str) and callable(fn)
                                   for name, fn in pipeline.PASSES)


# -- structural keys -------------------------------------------------------------------------

def _graph(shape=(2, 3), dtype=F64, axes=(1,), value=2.0, swap=False):
    x, y = leaf(shape, dtype), leaf(shape, dtype)
    a, b = (y, x) if swap else (x, y)
    z = P.mul(P.sub(a, b), P.full(value, shape, dtype))
    return Graph([x, y], [P.reduce_sum(z, axes=axes)])


def test_structurally_equal_graphs_have_equal_keys():
    assert _graph().key == _graph().key
    assert hash(_graph().key) == hash(_graph().key)
    assert _graph(value=float("nan")).key == _graph(value=float("nan")).key


@pytest.mark.parametrize("change", [
    {"shape": (3, 3)}, {"dtype": np.dtype("float32")}, {"axes": (0,)}, {"value": 3.0},
    {"value": -0.0}, {"swap": True}])
def test_structurally_different_graphs_have_different_keys(change):
    base = _graph(value=0.0) if change.get("value") == -0.0 else _graph()
    assert base.key != _graph(**change).key


def test_key_depends_on_input_order_and_outputs():
    x, y = leaf(), leaf()
    z = P.sub(x, y)
    assert Graph([x, y], [z]).key != Graph([y, x], [z]).key
    assert Graph([x, y], [z, x]).key != Graph([x, y], [x, z]).key


def test_pow_by_zero_is_one_everywhere():
    x = leaf()
    y = P.pow(x, fill(0.0))
    g = optimized(x, y)
    assert rewrites.full_value(g.outputs[0]) == 1.0
    assert_same_values(g, Graph([x], [y]), [SPECIAL])


def test_rewrite_never_looks_through_a_bound_input():
    # neg(neg(x)) = x, but when neg(x) is itself a graph input (a value a tape holds) the
    # graph does not bind x: the rule must leave the node alone
    x = leaf()
    nx = P.neg(x)
    g = pipeline.optimize(Graph([nx], [P.sigmoid(P.neg(nx))]))
    assert g.inputs == [nx]
    v = np.linspace(-2, 2, 7)
    np.testing.assert_allclose(runtime.evaluate(g, [-v])[0], 1 / (1 + np.exp(-v)))

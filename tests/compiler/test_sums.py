"""A sum of many products transpose(a_t) @ b_t (a shared weight's gradient) becomes one
product of the operands stacked by rows (compiler.sums), with the same values."""
import numpy as np
import pytest

import runtime
import tracer as tt
from compiler import pipeline, sums
from compiler import primitives as P
from compiler.ir import Graph

F64 = np.dtype("float64")


def _sum_graph(n_terms, shared=False):
    """sum_t a_t^T @ b_t (+ a plain matrix) over ``n_terms`` terms; ``shared``: the last
    product is also an output of its own."""
    a = [P.input(shape=(3, 4), dtype=F64) for _ in range(n_terms)]
    b = [P.input(shape=(3, 5), dtype=F64) for _ in range(n_terms)]
    c = P.input(shape=(4, 5), dtype=F64)
    prods = [P.matmul(P.transpose(x, perm=(1, 0)), y) for x, y in zip(a, b)]
    total = c
    for p in prods:
        total = P.add(total, p)
    outs = [P.tanh(total)] + ([prods[-1]] if shared else [])
    return Graph(a + b + [c], outs)


def _products(g):
    return [n for n in g.nodes if n.prim.name == "matmul"]


def _values(g, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=n.shape) for n in g.inputs]


@pytest.mark.parametrize("n_terms, merged", [(2, 2), (3, 1), (70, 2)])
def test_many_products_in_a_sum_become_one_per_chunk(n_terms, merged):
    raw = _sum_graph(n_terms)
    g = pipeline.optimize(raw)
    assert len(_products(g)) == merged              # 70 terms: chunks of sums.CHUNK
    if merged < n_terms:
        assert sum(n.prim.name == "concat" for n in g.nodes) == 2 * merged
    vals = _values(raw)
    want = runtime.Program(raw)(*vals)
    for tier in ("interpret", "compiled"):
        for got, w in zip(runtime.evaluate(g, vals, tier), want):
            np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-12)


def test_a_product_read_elsewhere_stays_and_the_rest_merge():
    g = pipeline.optimize(_sum_graph(4, shared=True))
    # the shared product is computed once (kept as a term); the other three merge
    assert len(_products(g)) == 2
    assert sum(n.prim.name == "concat" for n in g.nodes) == 2
    assert sums.merge(g) is g                       # nothing left to merge


def test_unrolled_rnn_gradient_makes_one_product_for_the_weight():
    rng = np.random.default_rng(1)
    w = tt.constant(rng.normal(size=(6, 6)) * 0.3)
    xs = tt.constant(rng.normal(size=(5, 2, 6)))
    h0 = tt.constant(np.zeros((2, 6)))

    def loss(w, h, xs):
        for t in range(xs.shape[0]):
            h = tt.tanh(tt.matmul(h, w) + xs[t])
        return tt.reduce_sum(h * h)
    f = tt.function(tt.grad(loss))
    got = f(w, h0, xs)
    entry, = f._entries.values()
    weight = [n for n in entry.graph.nodes if n.prim.name == "matmul" and n.shape == (6, 6)]
    assert len(weight) == 1 and weight[0].inputs[1].prim.name == "concat"
    tt.testing.check_gradients(lambda w: loss(w, h0, xs), [w])
    with tt.GradientTape() as tape:
        tape.watch(w)
        y = loss(w, h0, xs)
    np.testing.assert_allclose(got.numpy(), tape.gradient(y, w).numpy(), rtol=1e-12)

"""compiler.autodiff.vjp: gradients as graphs of primitives."""
import math
import time

import numpy as np
import pytest

import runtime
from compiler import autodiff, pipeline
from compiler import primitives as P
from compiler.ir import Graph

F64 = np.dtype("float64")


def leaf(shape=(), dtype=F64):
    return P.input(shape=shape, dtype=np.dtype(dtype))


def run(inputs, outputs, values):
    return runtime.evaluate(Graph(inputs, outputs), values)


def test_vjp_fan_out_accumulates():
    x = leaf((3,))
    y = P.add(P.mul(x, x), P.add(P.sin(x), x))      # x used four times
    g = leaf((3,))
    (gx,) = autodiff.vjp([y], [g], [x])
    xv, gv = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, -3.0])
    (got,) = run([x, g], [gx], [xv, gv])
    np.testing.assert_allclose(got, gv * (2 * xv + np.cos(xv) + 1), rtol=1e-14)


def test_vjp_several_outputs_add_up():
    x = leaf()
    a, b = P.exp(x), P.mul(x, x)
    one = P.literal(1.0, F64)
    (gx,) = autodiff.vjp([a, b], [one, P.literal(2.0, F64)], [x])
    (got,) = run([x], [gx], [np.float64(0.3)])
    np.testing.assert_allclose(got, np.exp(0.3) + 2 * 2 * 0.3, rtol=1e-14)


def test_vjp_unconnected_source_is_none():
    x, z = leaf(), leaf()
    assert autodiff.vjp([P.sin(x)], [P.literal(1.0, F64)], [x, z])[1] is None


def test_vjp_integer_and_bool_sources_are_none():
    i = leaf((2,), "int32")
    b = leaf((2,), "bool")
    x = leaf((2,))
    y = P.mul(P.cast(i, dtype="<f8"), P.select(b, x, P.neg(x)))
    grads = autodiff.vjp([y], [P.full(1.0, (2,), F64)], [i, b, x])
    assert grads[0] is None and grads[1] is None and grads[2] is not None


def test_vjp_integer_output_has_no_gradient():
    x = leaf((3,))
    assert autodiff.vjp([P.argmax(x, axis=0)], [P.literal(1, "int64")], [x]) == [None]


def test_vjp_stop_gradient_cuts_flow():
    x = leaf()
    y = P.mul(P.stop_gradient(x), x)
    (gx,) = autodiff.vjp([y], [P.literal(1.0, F64)], [x])
    (got,) = run([x], [gx], [np.float64(3.0)])
    assert got == 3.0                               # d(c x)/dx with c = x held constant
    assert autodiff.vjp([P.stop_gradient(x)], [P.literal(1.0, F64)], [x]) == [None]


def test_vjp_output_that_is_a_source_gets_its_cotangent():
    x = leaf((2,))
    g = leaf((2,))
    assert autodiff.vjp([x], [g], [x]) == [g]
    assert autodiff.vjp([x], [None], [x]) == [None]


def test_vjp_inactive_nodes_are_constants():
    x = leaf()
    s = P.sin(x)
    y = P.mul(s, x)
    (gx,) = autodiff.vjp([y], [P.literal(1.0, F64)], [x], active=lambda n: n is not s)
    (got,) = run([x], [gx], [np.float64(0.7)])
    assert got == np.sin(0.7)                       # s treated as a known constant


def _times_five(g, out, xs):
    return (P.mul(g, P.full_like(g, 5.0)),)


def test_vjp_custom_rule_replaces_inner_gradient():
    x = leaf((2,))
    y = P.custom_vjp(x, P.sin(x), rule=_times_five)
    (gx,) = autodiff.vjp([y], [P.full(1.0, (2,), F64)], [x])
    xv = np.array([0.1, 0.2])
    got, val = run([x], [gx, y], [xv])
    np.testing.assert_array_equal(got, [5.0, 5.0])
    np.testing.assert_array_equal(val, np.sin(xv))


def test_vjp_custom_rule_with_wrong_arity_names_the_problem():
    x = leaf()
    y = P.custom_vjp(x, P.sin(x), rule=lambda g, out, xs: (g, g))
    with pytest.raises(ValueError, match="returned 2 gradients for 1 inputs"):
        autodiff.vjp([y], [P.literal(1.0, F64)], [x])


def test_vjp_cotangent_of_wrong_shape_is_rejected():
    x = leaf((3,))
    with pytest.raises(RuntimeError, match="cotangent has shape"):
        autodiff.vjp([P.sin(x)], [leaf((2,))], [x])


def test_vjp_is_differentiable_again():
    x = leaf()
    (g1,) = autodiff.vjp([P.mul(P.sin(x), x)], [P.literal(1.0, F64)], [x])
    (g2,) = autodiff.vjp([g1], [P.literal(1.0, F64)], [x])
    (got,) = run([x], [g2], [np.float64(0.4)])
    np.testing.assert_allclose(got, 2 * np.cos(0.4) - 0.4 * np.sin(0.4), rtol=1e-14)


def test_vjp_of_a_100k_node_chain_is_iterative_and_fast():
    x = leaf()
    y = x
    for _ in range(100_000):
        y = P.sin(y)
    start = time.process_time()    # this process's CPU time: immune to machine load
    (gx,) = autodiff.vjp([y], [P.literal(1.0, F64)], [x])
    graph = pipeline.optimize(Graph([x], [y, gx]))
    val, grad = runtime.evaluate(graph, [np.float64(0.5)])
    elapsed = time.process_time() - start
    v, d = 0.5, 1.0
    for _ in range(100_000):
        d *= math.cos(v)
        v = math.sin(v)
    np.testing.assert_allclose([val, grad], [v, d], rtol=1e-9)
    assert len(graph.nodes) >= 200_000
    assert elapsed < 60, f"differentiating and optimising took {elapsed:.1f} s"

"""Graphs that differ only in unused inputs take different argument lists: they must not
share a cached executable (a tape gradient once ran another graph's driver and failed with
"run() missing 2 required positional arguments")."""
import numpy as np

import runtime
from compiler import primitives as P
from compiler.ir import Graph


def test_graph_key_counts_unused_inputs(tt_backend):
    a, b, c = (P.input(shape=(2,), dtype=np.dtype("float64")) for _ in range(3))
    g2, g3 = Graph([a, b], [P.neg(b)]), Graph([a, b, c], [P.neg(b)])
    assert g2.key != g3.key
    one = np.ones(2)
    assert runtime.executable(g2)(one, one)[0].tolist() == [-1.0, -1.0]
    assert runtime.executable(g3)(one, one, one)[0].tolist() == [-1.0, -1.0]


def test_graphs_reading_different_arguments_do_not_share_a_program(tt_backend):
    # d/dx and d/dy of sum(x * y): one product of the other argument each; the second
    # once ran the first's program and returned y for both
    import tracer as tt
    x, y = tt.constant([1.0, 2.0]), tt.constant([3.0, 4.0])
    for _ in range(3):
        gx = tt.grad(lambda x, y: tt.reduce_sum(x * y), argnums=0)(x, y)
        gy = tt.grad(lambda x, y: tt.reduce_sum(x * y), argnums=1)(x, y)
        assert gx.numpy().tolist() == [3.0, 4.0] and gy.numpy().tolist() == [1.0, 2.0]

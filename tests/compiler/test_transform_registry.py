"""The registry test for the transforms: every primitive, every ``Case``, both tiers.

- Forward mode (``compiler.forward.jvp``, derived from the gradient rules) against central
  differences of the primitive along random tangents, in float64.
- Batching (``compiler.batching``, the primitive's ``batch`` rule) against a Python loop
  over the batch, with every input batched and with each input alone batched.
Coverage tests fail, naming the primitive, when one lacks what a transform needs.
"""
import numpy as np
import pytest

import runtime
from compiler import batching, forward
from compiler import primitives as P
from compiler.ir import Graph

from test_primitives import REFERENCE, _rng, assert_same, leaves_for, tolerance

F64 = np.dtype("float64")
NO_INPUTS = ("input", "literal", "iota")     # leaves: nothing to batch or differentiate
# region primitives (control flow) hold sub-graphs, so they have no generic cases: their
# gradients are tested in test_regions.py and their batching (vmap against a loop over the
# examples, composed with grad and jvp) in tests/tracer/test_vmap_control.py
REGIONS = tuple(n for n, p in P.PRIMITIVES.items() if p.kind == "region")
NAMES = [n for n in P.PRIMITIVES if n not in ("input", "literal") + REGIONS]
BATCHED = [n for n in P.PRIMITIVES if n not in NO_INPUTS + REGIONS]


def test_every_region_primitive_has_a_batching_rule():
    missing = [n for n in REGIONS if batching.rule_of(P.PRIMITIVES[n]) is None]
    assert not missing, (f"control-flow primitives without a batching rule: {missing}; "
                         f"see compiler/primitives/region_batch.py")
SIZE = 3


def test_every_primitive_has_a_batching_rule():
    missing = [n for n in BATCHED if batching.rule_of(P.PRIMITIVES[n]) is None]
    assert not missing, (
        f"primitives without a batching rule (vmap cannot run them): {missing}. Declare "
        f"batch=... with the primitive; shared rules are in "
        f"compiler/primitives/batch_rules.py (elementwise, shift_axes('axes'), "
        f"shift_axis('axis')), or write one: rule(node, size, xs, batched) -> node batched "
        f"along a new leading axis")


def test_every_differentiable_primitive_has_forward_mode():
    # forward mode is derived from the gradient rule: a differentiable primitive needs one
    missing = [n for n in NAMES if P.PRIMITIVES[n].differentiable and
               P.PRIMITIVES[n].vjp is None]
    assert not missing, (f"differentiable primitives without a gradient rule, so without "
                         f"forward mode (tt.jvp, tt.jacfwd): {missing}; declare vjp=...")


# -- forward mode --------------------------------------------------------------------------

def directional_differences(f, arrays, tangents, which, eps=1e-6):
    """sum over inputs k in ``which`` and their elements j of t_kj * d f / d x_kj, by
    central differences one element at a time (as the gradient check does)."""
    base = [a.astype(F64) if a.dtype.kind == "f" else a for a in arrays]
    total = np.zeros(np.shape(f(base)))
    for k in which:
        for j in np.ndindex(base[k].shape):
            hi = [a.copy() for a in base]
            lo = [a.copy() for a in base]
            hi[k][j] += eps
            lo[k][j] -= eps
            d = (f(hi) - f(lo)) / (2 * eps) * float(tangents[k][j])
            total = total + d
    return total


@pytest.mark.parametrize("name", NAMES)
def test_forward_mode(name, tt_backend):
    prim = P.PRIMITIVES[name]
    for i, case in enumerate(prim.cases):
        what = f"{name} case {i} {case.shapes} {case.attrs}: jvp"
        arrays = case.arrays(_rng(name, i))
        nodes = leaves_for(arrays)
        out = prim(*nodes, **case.attrs)
        which = [k for k, n in enumerate(nodes) if n.dtype.kind == "f"]
        if not (prim.differentiable and which and out.dtype.kind == "f"):
            continue
        rng = _rng(what, 3)
        tangents = [rng.uniform(-1, 1, a.shape).astype(a.dtype) for a in arrays]
        t_nodes = [leaves_for([tangents[k]])[0] for k in which]
        (jt,) = forward.jvp([out], [nodes[k] for k in which], t_nodes)
        assert (jt.shape, jt.dtype) == (out.shape, out.dtype), what
        got = runtime.evaluate(Graph(nodes + t_nodes, [jt]),
                               arrays + [tangents[k] for k in which], tt_backend)[0]
        ref = REFERENCE.get(name, prim.impl)

        def f(xs):
            with np.errstate(all="ignore"):
                return np.asarray(ref(*xs, **case.attrs), F64)
        want = directional_differences(f, arrays, tangents, which)
        got = np.asarray(got, F64)
        rtol, atol = (1e-5, 1e-6) if out.dtype == F64 else (1e-3, 1e-4)
        atol *= max(1.0, float(np.max(np.abs(want), initial=0.0)))
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def test_forward_mode_leaves_no_seed_behind():
    """The cotangent seeds of the double-VJP construction do not survive in J t."""
    x = P.input(shape=(3,), dtype=F64)
    t = P.input(shape=(3,), dtype=F64)
    y = P.reduce_sum(P.mul(P.sin(x), P.exp(x)), axes=(0,))
    (jt,) = forward.jvp([y], [x], [t])
    Graph([x, t], [jt])                 # raises if an unbound seed leaf were reachable


# -- batching ------------------------------------------------------------------------------

def _patterns(n):
    """Which inputs are batched: all, then each one alone (when there are several)."""
    pats = [(True,) * n]
    if n > 1:
        pats += [tuple(k == j for k in range(n)) for j in range(n)]
    return pats


@pytest.mark.parametrize("name", BATCHED)
def test_batching_matches_a_loop(name, tt_backend):
    prim = P.PRIMITIVES[name]
    for i, case in enumerate(prim.cases):
        examples = [case.arrays(_rng(name, 10 * i + b)) for b in range(SIZE)]
        nodes = leaves_for(examples[0])
        out = prim(*nodes, **case.attrs)
        for pattern in _patterns(len(nodes)):
            what = f"{name} case {i} {case.shapes} {case.attrs} batched {pattern}"
            arrays, mapping, inputs = [], {}, []
            for k, (node, b) in enumerate(zip(nodes, pattern)):
                if b:
                    value = np.stack([ex[k] for ex in examples])
                    leaf = P.input(shape=value.shape, dtype=value.dtype)
                    mapping[id(node)] = leaf
                else:
                    value, leaf = examples[0][k], node
                arrays.append(value)
                inputs.append(leaf)
            (batched,) = batching.batch_graph([out], mapping, SIZE)
            with np.errstate(all="ignore"):
                got = runtime.evaluate(Graph(inputs, [batched]), arrays, tt_backend)[0]
                want = np.stack([np.asarray(prim.impl(*[ex[k] if b else examples[0][k]
                                                        for k, b in enumerate(pattern)],
                                                      **case.attrs))
                                 for ex in examples])
            rtol, atol = tolerance(out.dtype)
            assert_same(got, want, what, rtol, atol)


def test_batched_matmul_is_one_product():
    """A batched operand times a shared one is a single matmul (rows folded), not a loop."""
    a = P.input(shape=(1, 4), dtype=F64)
    w = P.input(shape=(4, 2), dtype=F64)
    ab = P.input(shape=(7, 1, 4), dtype=F64)
    (out,) = batching.batch_graph([P.matmul(a, w)], {id(a): ab}, 7)
    g = Graph([ab, w], [out])
    products = [n for n in g.nodes if n.prim.name == "matmul"]
    assert len(products) == 1 and products[0].shape == (7, 2)

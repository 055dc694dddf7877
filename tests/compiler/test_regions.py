"""Regions in the IR: every region primitive (registry-style, both tiers, gradients against
float64 finite differences), every other primitive inside a loop body (both tiers), and
the passes (structural keys cover bodies, rewrites inside bodies, hoisting, sharing the
forward scan with the gradient's residual scan)."""
import warnings

import numpy as np
import pytest

import runtime
from compiler import autodiff, pipeline
from compiler import primitives as P
from compiler.ir import Graph
from compiler.primitives.control import outputs
from compiler.regions import Body, leaves_like, out_types
from runtime.executor import CompileWarning
from test_primitives import NO_GRADIENT_INPUTS, _rng, compare_gradient
from tracer.testing import central_differences

F64 = np.dtype("float64")
LEAVES = ("input", "literal")
REGIONS = [n for n, p in P.PRIMITIVES.items() if p.kind == "region"]
OTHERS = [n for n, p in P.PRIMITIVES.items() if p.kind != "region" and n not in LEAVES]


def inputs(*shapes):
    return [P.input(shape=s, dtype=F64) for s in shapes]


# -- region cases: (input nodes, output nodes) built from primitives --------------------------

def scan_case(reverse):
    w, h0, xs = inputs((3, 3), (3,), (4, 3))
    leaves = leaves_like([w, h0, P.input(shape=(3,), dtype=F64)])
    bw, bh, bx = leaves
    h = P.tanh(P.add(P.reduce_sum(P.mul(bw, P.broadcast_to(bh, shape=(3, 3))), axes=(1,)), bx))
    b = Body(Graph(leaves, [h, P.reduce_sum(P.mul(h, h), axes=(0,))]))
    node = P.scan(w, h0, xs, body=b, n_consts=1, n_carry=1, length=4, reverse=reverse,
                  out_types=out_types([h]) + (((4,), "<f8"),))
    return [w, h0, xs], outputs(node)


def cond_case(index):
    i, x, y = P.input(shape=(), dtype=np.dtype("int32")), *inputs((3,), (3,))
    leaves = leaves_like([x, y])
    branches = (Body(Graph(leaves, [P.mul(leaves[0], P.sin(leaves[1]))])),
                Body(Graph(leaves, [P.exp(P.mul(leaves[0], leaves[1]))])))
    node = P.cond(i, x, y, branches=branches, out_types=out_types([x]))
    return [i, x, y], outputs(node), index


def while_case():
    c, x = inputs((2,), (2,))
    leaves = leaves_like([c, x])
    test = Body(Graph(leaves, [P.less(P.reduce_sum(leaves[1], axes=(0,)),
                                      P.literal(8.0, F64))]))
    step = Body(Graph(leaves, [P.add(P.mul(leaves[1], P.full(1.5, (2,), F64)),
                                     P.mul(leaves[0], P.sin(leaves[1])))]))
    node = P.while_loop(c, x, cond=test, body=step, n_consts=1, max_iter=-1,
                        out_types=out_types([x]))
    return [c, x], outputs(node)


def while_grad_case():
    """The gradient of ``while_case``'s loop for a cotangent input: its registry check at
    second order is the loop's third order (and differentiates the cotangent too)."""
    ins, outs = while_case()
    g = P.input(shape=outs[0].shape, dtype=F64)
    return ins + [g], autodiff.vjp(outs, [g], ins)


def tuple_get_case(index):
    """A cond with two outputs of different shapes: each tuple_get takes its own (a mix-up
    changes the shape), and gradients flow back through the one the loss reads."""
    i, x, y = P.input(shape=(), dtype=np.dtype("int32")), *inputs((3,), (2,))
    a, b = leaves = leaves_like([x, y])
    first = [P.mul(a, P.sin(a)), P.reduce_sum(P.exp(b), axes=(0,))]
    second = [P.sin(a), P.reduce_sum(P.mul(b, b), axes=(0,))]
    node = P.cond(i, x, y, branches=(Body(Graph(leaves, first)), Body(Graph(leaves, second))),
                  out_types=out_types(first))
    return [i, x, y], outputs(node), index


def _cases(name):
    if name == "scan":
        return [scan_case(False) + (None,), scan_case(True) + (None,)]
    if name == "cond":
        return [cond_case(0), cond_case(1), cond_case(7)]
    if name == "while_loop":
        return [while_case() + (None,)]
    if name == "while_grad":
        return [while_grad_case() + (None,)]
    if name == "tuple_get":
        return [tuple_get_case(1)]
    raise AssertionError(f"no region test case for {name}")


def _values(nodes, rng, index):
    return [np.asarray(index, np.int32) if n.dtype.kind == "i" else
            rng.uniform(0.3, 1.0, n.shape) for n in nodes]


def test_every_region_primitive_has_cases():
    for name in REGIONS:
        assert _cases(name), name


@pytest.mark.parametrize("name", REGIONS)
@pytest.mark.slow
def test_region(name, tt_backend):
    for k, (ins, outs, index) in enumerate(_cases(name)):
        what = f"{name} case {k}"
        vals = _values(ins, _rng(name, k), index)
        graph = Graph(ins, outs)
        want = runtime.evaluate(graph, vals, "interpret")
        got = runtime.evaluate(graph, vals, tt_backend)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=what)
        _check_gradients(ins, outs, vals, tt_backend, what, 2)


def _loss(outs, ws):
    terms = [P.reduce_sum(P.mul(o, w), axes=tuple(range(o.ndim))) for o, w in zip(outs, ws)]
    s = terms[0]
    for t in terms[1:]:
        s = P.add(s, t)
    return s


def _check_gradients(ins, outs, vals, tier, what, order, held=()):
    """Gradients (and, with ``order=2``, second derivatives) against central differences,
    for every float input but those in ``held`` (inputs with no gradient by convention)."""
    rng = _rng(what, 3)
    ws = [rng.uniform(-1, 1, o.shape) for o in outs]
    w_nodes = leaves_like(outs)
    s = _loss(outs, w_nodes)
    which = [k for k, n in enumerate(ins) if n.dtype.kind == "f" and k not in held]
    srcs = [ins[k] for k in which]
    grads = autodiff.vjp([s], [P.literal(1.0, F64)], srcs)
    full = Graph(ins + w_nodes, [s])
    value = runtime.Program(full)
    fds = central_differences(lambda xs: float(value(*xs, *ws)[0]), vals, which)
    got = runtime.evaluate(Graph(ins + w_nodes, grads), vals + ws, tier)
    for k, g, fd in zip(which, got, fds):
        compare_gradient(g, fd, f"{what}: d/d input {k}", F64)
    if order == 2:
        u_nodes = leaves_like(srcs)
        us = [rng.uniform(-1, 1, n.shape) for n in srcs]
        second = autodiff.vjp([_loss(grads, u_nodes)], [P.literal(1.0, F64)], srcs)
        first = runtime.Program(Graph(ins + w_nodes + u_nodes, [_loss(grads, u_nodes)]))
        fds = central_differences(lambda xs: float(first(*xs, *ws, *us)[0]), vals, which)
        got = runtime.evaluate(Graph(ins + w_nodes + u_nodes, second), vals + ws + us, tier)
        for k, g, fd in zip(which, got, fds):
            compare_gradient(g, fd, f"{what}: second order, d/d input {k}", F64)


# -- every primitive inside a loop body -------------------------------------------------------

def _scan_body(names):
    """One two-step scan whose body applies each of ``names`` (its first registry case) to
    its own slices of stacked inputs: (inputs, their values, {name: (ys, per-step arrays)})."""
    x_nodes, xs, slices, ys, steps = [], [], [], [], {}
    for name in names:
        prim = P.PRIMITIVES[name]
        case = prim.cases[0]
        steps[name] = [case.arrays(_rng(name, t)) for t in range(2)]
        own = [np.stack([s[k] for s in steps[name]]) for k in range(len(steps[name][0]))]
        x_nodes += [P.input(shape=x.shape, dtype=x.dtype) for x in own]
        xs += own
        here = leaves_like([P.input(shape=x.shape[1:], dtype=x.dtype) for x in own])
        slices += here
        ys.append(prim(*here, **case.attrs))
    node = P.scan(*x_nodes, body=Body(Graph(slices, ys)), n_consts=0, n_carry=0, length=2,
                  reverse=False, out_types=tuple(((2,) + y.shape, y.dtype.str) for y in ys))
    return x_nodes, xs, dict(zip(names, zip(outputs(node), steps.values())))


# The compiled tier runs the primitives in groups, one scan per group: each still runs
# inside a natively compiled loop body, for a fraction of the compile time (a loop per
# primitive compiles its loop scaffolding ninety times over).
GROUP = 8
_compiled_groups = {}


def _compiled_in_group(name):
    """``name``'s per-step outputs from its group's compiled scan; None if that group does
    not compile as a native loop or does not run (the test then runs ``name`` in a scan of
    its own, which names the culprit)."""
    k = OTHERS.index(name) // GROUP
    if k not in _compiled_groups:
        x_nodes, xs, outs = _scan_body(OTHERS[k * GROUP:(k + 1) * GROUP])
        names = list(outs)
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("error", CompileWarning)
                got = runtime.evaluate(Graph(x_nodes, [outs[n][0] for n in names]), xs,
                                       "compiled")
            _compiled_groups[k] = dict(zip(names, got))
        except Exception:  # noqa: BLE001  (each test of the group retries on its own)
            _compiled_groups[k] = {}
    return _compiled_groups[k].get(name)


@pytest.mark.parametrize("name", OTHERS)
def test_primitive_inside_scan_body(name, tt_backend):
    """Each primitive's first registry case, run in the body of a two-step scan over
    stacked inputs: per-step outputs equal ``impl``; the gradient through the loop equals
    finite differences (interpreted tier: the compiled tier is compared on values)."""
    prim = P.PRIMITIVES[name]
    case = prim.cases[0]
    x_nodes, xs, outs = _scan_body([name])
    ys, steps = outs[name]
    got = _compiled_in_group(name) if tt_backend == "compiled" else None
    with np.errstate(all="ignore"):
        if got is None:
            got = runtime.evaluate(Graph(x_nodes, [ys]), xs, tt_backend)[0]
        for t, s in enumerate(steps):
            want = np.asarray(prim.impl(*s, **case.attrs))
            np.testing.assert_allclose(got[t], want, rtol=1e-12, atol=1e-12, equal_nan=True,
                                       err_msg=f"{name} step {t} ({tt_backend})")
    if tt_backend == "interpret" and prim.differentiable and ys.dtype.kind == "f" \
            and name not in ("stop_gradient", "straight_through", "custom_vjp", "cast"):
        _check_gradients(x_nodes, [ys], xs, tt_backend, f"{name} in a scan body", 1,
                         held=NO_GRADIENT_INPUTS.get(name, ()))


# -- passes ------------------------------------------------------------------------------------

def test_structural_key_covers_bodies():
    a, b = scan_case(False)[1][0], scan_case(False)[1][0]
    assert Graph(a.inputs[0].inputs, [a]).key == Graph(b.inputs[0].inputs, [b]).key
    x, = inputs((3,))
    leaves = leaves_like([x])
    sin = P.cond(P.literal(0, np.dtype("int32")), x,
                 branches=(Body(Graph(leaves, [P.sin(leaves[0])])),), out_types=out_types([x]))
    cos = P.cond(P.literal(0, np.dtype("int32")), x,
                 branches=(Body(Graph(leaves, [P.cos(leaves[0])])),), out_types=out_types([x]))
    assert Graph([x], [sin]).key != Graph([x], [cos]).key


def test_rewrites_apply_inside_bodies_and_invariants_are_hoisted():
    w, x = inputs((3,), (3,))
    leaves = leaves_like([w, x])
    # exp(w) * 1 reads only the captured w: hoisted; "* 1" folds away inside the body
    h = P.add(leaves[1], P.mul(P.exp(leaves[0]), P.full(1.0, (3,), F64)))
    b = Body(Graph(leaves, [h]))
    node = P.scan(w, x, body=b, n_consts=1, n_carry=1, length=5, reverse=False,
                  out_types=out_types([x]))
    g = pipeline.optimize(Graph([w, x], outputs(node)))
    scan = [n for n in g.nodes if n.prim.name == "scan"][0]
    body_prims = [n.prim.name for n in scan.params["body"].graph.nodes]
    assert "exp" not in body_prims and "mul" not in body_prims
    assert any(n.prim.name == "exp" for n in g.nodes)
    vals = [np.array([0.1, 0.2, 0.3]), np.zeros(3)]
    np.testing.assert_allclose(runtime.evaluate(g, vals)[0], 5 * np.exp(vals[0]))


def test_gradient_shares_the_forward_scan():
    ins, outs = scan_case(False)[:2]
    s = _loss(outs, [P.full(1.0, o.shape, F64) for o in outs])
    grads = autodiff.vjp([s], [P.literal(1.0, F64)], ins)
    g = pipeline.optimize(Graph(ins, [s] + grads))
    scans = [n for n in g.nodes if n.prim.name == "scan"]
    assert len(scans) == 2          # one forward scan (storing residuals), one reverse
    assert sorted(n.params["reverse"] for n in scans) == [False, True]


def test_unread_scan_outputs_are_pruned():
    ins, outs = scan_case(False)[:2]
    s = _loss(outs, [P.full(1.0, o.shape, F64) for o in outs])
    raw = Graph(ins, autodiff.vjp([s], [P.literal(1.0, F64)], ins[:1]))   # d/dw only
    g = pipeline.optimize(raw)
    back = [n for n in g.nodes if n.prim.name == "scan" and n.params["reverse"]][0]
    # carried: the cotangent of h and the summed cotangent of w; xs' cotangents are gone
    assert back.params["n_carry"] == 2 and len(back.params["out_types"]) == 2
    vals = _values(ins, _rng("prune", 0), None)
    np.testing.assert_allclose(runtime.evaluate(g, vals)[0], runtime.Program(raw)(*vals)[0],
                               rtol=1e-12)


def test_gradient_scan_stores_the_step_products_it_reads():
    """An RNN step h' = tanh(h @ W + x @ U): x @ U reads no carry, so it is one product
    over all steps before the loop; the forward scan stores h @ W per step, so the reverse
    scan recomputes no product; d/dW and d/dU (sums of one product per step) are one
    product each after the loop: the reverse scan keeps d/dh alone."""
    rng = _rng("rnn", 0)
    W, U = (rng.normal(size=(4, 4)) * 0.5 for _ in range(2))
    xs, h0 = rng.normal(size=(6, 3, 4)), rng.normal(size=(3, 4))
    ins = [P.input(shape=a.shape, dtype=F64) for a in (W, U, xs, h0)]
    w, u, h, x = leaves_like([ins[0], ins[1], ins[3], ins[2]])[:3] + \
        leaves_like([P.input(shape=(3, 4), dtype=F64)])
    step = P.tanh(P.add(P.matmul(h, w), P.matmul(x, u)))
    body = Body(Graph([w, u, h, x], [step]))
    node = P.scan(ins[0], ins[1], ins[3], ins[2], body=body, n_consts=2, n_carry=1,
                  length=6, reverse=False, out_types=out_types([ins[3]]))
    s = P.reduce_sum(P.mul(outputs(node)[0], outputs(node)[0]), axes=(0, 1))
    grads = autodiff.vjp([s], [P.literal(1.0, F64)], ins[:2])
    g = pipeline.optimize(Graph(ins, grads))
    back = [n for n in g.nodes if n.prim.name == "scan" and n.params["reverse"]][0]
    assert sum(n.prim.name == "matmul" for n in back.params["body"].graph.nodes) == 1
    assert back.params["n_carry"] == 1
    fwd, = [n for n in g.nodes if n.prim.name == "scan" and not n.params["reverse"]]
    assert sum(n.prim.name == "matmul" for n in fwd.params["body"].graph.nodes) == 1
    outside = sorted(n.inputs[0].shape + n.inputs[1].shape for n in g.nodes
                     if n.prim.name == "matmul")
    assert outside == [(4, 18, 18, 4), (4, 18, 18, 4), (18, 4, 4, 4)]
    vals = [W, U, xs, h0]

    def loss(a):
        hh = a[3]
        for t in range(6):
            hh = np.tanh(hh @ a[0] + a[2][t] @ a[1])
        return np.sum(hh * hh)
    want = central_differences(loss, vals)
    for got, w_ in zip(runtime.evaluate(g, vals), want[:2]):
        np.testing.assert_allclose(got, w_, rtol=1e-6, atol=1e-8)


def test_products_of_step_slices_are_computed_before_the_loop_for_every_step():
    """tanh(x_t) @ U + h @ W: the product that reads no carry is one batched product over
    the steps, outside the loop, in both scan directions; values are unchanged."""
    rng = _rng("hoist", 0)
    W, U = rng.normal(size=(4, 4)) * 0.5, rng.normal(size=(5, 4)) * 0.5
    xs, h0 = rng.normal(size=(7, 3, 5)), rng.normal(size=(3, 4))
    ins = [P.input(shape=a.shape, dtype=F64) for a in (W, U, h0, xs)]
    w, u, h = leaves_like(ins[:3])
    x, = leaves_like([P.input(shape=(3, 5), dtype=F64)])
    step = P.add(P.matmul(h, w), P.matmul(P.tanh(x), u))
    for reverse in (False, True):
        node = P.scan(*ins, body=Body(Graph([w, u, h, x], [step, step])), n_consts=2,
                      n_carry=1, length=7, reverse=reverse,
                      out_types=out_types([ins[2]]) + (((7, 3, 4), "<f8"),))
        raw = Graph(ins, outputs(node))
        g = pipeline.optimize(raw)
        scan, = [n for n in g.nodes if n.prim.name == "scan"]
        body = scan.params["body"].graph
        assert sum(n.prim.name == "matmul" for n in body.nodes) == 1
        assert not any(n.prim.name == "tanh" for n in body.nodes)
        vals = [W, U, h0, xs]
        for got, want in zip(runtime.evaluate(g, vals), runtime.Program(raw)(*vals)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)

"""The registry test: every primitive in ``PRIMITIVES``, every ``Case``, every tier.

For each case: ``infer`` agrees with ``impl`` (shape and dtype), the tier agrees with
``impl`` (the oracle), the symbolic VJP (evaluated in the tier) agrees with central
differences in float64, and, for smooth cases, so does the gradient of <w, vjp> (second
order, again symbolic). Elementwise primitives are also run on NaN, +-inf and +-0.
"""
import zlib

import numpy as np
import pytest

import runtime
from compiler import autodiff
from compiler import primitives as P
from compiler.ir import Graph
from tracer.testing import central_differences

F64 = np.dtype("float64")
LEAVES = ("input", "literal")
# regions (tuple-valued, holding bodies) have their own registry test in test_regions.py
NAMES = [n for n in P.PRIMITIVES if n not in LEAVES and P.PRIMITIVES[n].kind != "region"]
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0]

# The function whose derivatives a VJP must equal, where that is not ``impl`` itself:
# stop_gradient is a constant to differentiation; cast's gradient is that of the identity
# (to float) or none (to int/bool); the registry's custom_vjp cases carry ``double_rule``,
# the gradient of y = 2 x; straight_through differentiates as the identity of its source;
# polygamma's order and zeta's exponent (integers in their cases) have no gradient
# (TensorFlow's), so they are held at their values.
REFERENCE = {
    "polygamma": lambda n, x: P.polygamma.impl(np.round(n), x),
    "zeta": lambda x, q: P.zeta.impl(np.round(x), q),
    "stop_gradient": lambda x: np.zeros_like(x),
    "straight_through": lambda source, value: source,
    "cast": lambda x, *, dtype: x if np.dtype(dtype).kind == "f" else np.zeros_like(x),
    "custom_vjp": lambda x, y, *, rule: 2.0 * x,
}

# the inputs REFERENCE holds at their values: no gradient by TensorFlow's convention
NO_GRADIENT_INPUTS = {"polygamma": (0,), "zeta": (0,)}


def _rng(name, i):
    return np.random.default_rng(zlib.crc32(f"{name}/{i}".encode()))


def leaves_for(arrays):
    return [P.input(shape=a.shape, dtype=a.dtype) for a in arrays]


def tolerance(dtype):
    return (1e-12, 1e-12) if np.dtype(dtype) == F64 else (2e-6, 1e-6)


def assert_same(got, want, what, rtol=1e-12, atol=1e-12, signed_zeros=False):
    """Shape, dtype and values (NaN where NaN, equal infinities) of ``got`` vs ``want``."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
    if signed_zeros:
        zero = want == 0
        np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]),
                                      err_msg=f"{what}: sign of zero")


# -- finite differences --------------------------------------------------------------------

def compare_gradient(got, want, what, dtype):
    """Symbolic gradient ``got`` (None means zero) against finite differences ``want``."""
    got = np.zeros(want.shape) if got is None else np.asarray(got, dtype=F64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    rtol, atol = (1e-5, 1e-6) if np.dtype(dtype) == F64 else (1e-3, 1e-4)
    atol *= max(1.0, float(np.max(np.abs(want), initial=0.0)))
    bad = np.abs(got - want) > atol + rtol * np.abs(want)
    if bad.any():
        j = np.unravel_index(np.argmax(np.abs(got - want)), want.shape)
        raise AssertionError(f"{what}: at index {j} symbolic {got[j]!r}, finite differences "
                             f"{want[j]!r} (atol {atol:.2g}, rtol {rtol:.2g})")


def with_zeros(values, nodes):
    return [np.zeros(n.shape, n.dtype) if v is None else v for v, n in zip(values, nodes)]


# -- the registry test ---------------------------------------------------------------------

def test_every_primitive_has_cases():
    missing = [n for n in NAMES if not P.PRIMITIVES[n].cases]
    assert not missing, f"primitives without registry test cases: {missing}"


def test_every_differentiable_primitive_has_a_vjp():
    missing = [n for n in NAMES if P.PRIMITIVES[n].differentiable and P.PRIMITIVES[n].vjp is None]
    assert not missing, f"differentiable primitives without a gradient rule: {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_primitive(name, tt_backend):
    prim = P.PRIMITIVES[name]
    assert prim.cases, f"{name}: no registry test cases; add Case(...) to its declaration"
    for i, case in enumerate(prim.cases):
        what = f"{name} case {i} {case.shapes} {case.attrs}"
        arrays = case.arrays(_rng(name, i))
        nodes = leaves_for(arrays)
        out = prim(*nodes, **case.attrs)
        with np.errstate(all="ignore"):
            want = np.asarray(prim.impl(*arrays, **case.attrs))
        assert out.shape == want.shape, f"{what}: infer says {out.shape}, impl {want.shape}"
        assert out.dtype == want.dtype, f"{what}: infer says {out.dtype}, impl {want.dtype}"
        with np.errstate(all="ignore"):
            got = runtime.evaluate(Graph(nodes, [out]), arrays, tt_backend)[0]
        rtol, atol = tolerance(out.dtype)
        assert_same(got, want, f"{what}: {tt_backend} vs impl", rtol, atol)
        if prim.differentiable and out.dtype.kind == "f":
            check_vjp(prim, case, arrays, nodes, out, tt_backend, what)


def check_vjp(prim, case, arrays, nodes, out, tier, what):
    rng = _rng(what, 1)
    which = [k for k, n in enumerate(nodes) if n.dtype.kind == "f"]
    if not which:
        return
    g = rng.uniform(-1, 1, out.shape).astype(out.dtype)
    g_node = P.input(shape=out.shape, dtype=out.dtype)
    srcs = [nodes[k] for k in which]
    cts = autodiff.vjp([out], [g_node], srcs)
    live = [c for c in cts if c is not None]
    got = iter(runtime.evaluate(Graph(nodes + [g_node], live), arrays + [g], tier))
    got = [None if c is None else next(got) for c in cts]
    for c, v, s in zip(cts, got, srcs):
        if c is not None:
            assert c.shape == s.shape and c.dtype == s.dtype, f"{what}: cotangent {c}"
            assert np.shape(v) == s.shape, f"{what}: cotangent value shape {np.shape(v)}"
    ref = REFERENCE.get(prim.name, prim.impl)

    def projected(xs):
        with np.errstate(all="ignore"):
            return float(np.sum(g.astype(F64) * np.asarray(ref(*xs, **case.attrs), F64)))

    fds = central_differences(projected, arrays, which)
    for k, v, fd in zip(which, got, fds):
        compare_gradient(v, fd, f"{what}: d/d input {k}", arrays[k].dtype)
    if case.smooth and live:
        check_second_order(case, arrays, nodes, which, cts, g, g_node, tier, what)


def check_second_order(case, arrays, nodes, which, cts, g, g_node, tier, what):
    """The gradient of s = sum_k <w_k, vjp_k> w.r.t. the inputs, against differences of s."""
    rng = _rng(what, 2)
    ws = [rng.uniform(-1, 1, nodes[k].shape).astype(nodes[k].dtype) for k in which]
    w_nodes = leaves_for(ws)
    terms = []
    for c, w in zip(cts, w_nodes):
        if c is not None:
            t = P.reduce_sum(P.mul(c, w), axes=tuple(range(c.ndim)))
            terms.append(t if t.dtype == F64 else P.cast(t, dtype=F64.str))
    s = terms[0]
    for t in terms[1:]:
        s = P.add(s, t)
    srcs = [nodes[k] for k in which]
    second = autodiff.vjp([s], [P.literal(1.0, F64)], srcs)
    inputs, values = nodes + [g_node] + w_nodes, arrays + [g] + ws
    live = [c for c in second if c is not None]
    got = iter(runtime.evaluate(Graph(inputs, live), values, tier) if live else [])
    got = [None if c is None else next(got) for c in second]
    first = runtime.Program(Graph(inputs, [s]))

    def s_at(xs):
        cast = [x.astype(a.dtype) for x, a in zip(xs, arrays)]
        with np.errstate(all="ignore"):
            return float(first(*cast, g, *ws)[0])

    fds = central_differences(s_at, arrays, which)
    for k, v, fd in zip(which, got, fds):
        compare_gradient(v, fd, f"{what}: second order d/d input {k}", arrays[k].dtype)


# -- leaves --------------------------------------------------------------------------------

def test_leaves_input_and_literal(tt_backend):
    x = P.input(shape=(2, 3), dtype=np.dtype("float32"))
    assert (x.shape, x.dtype, x.inputs) == ((2, 3), np.dtype("float32"), ())
    value = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert_same(runtime.evaluate(Graph([x], [x]), [value], tt_backend)[0], value, "input")
    for v, dt in [(2.5, "float64"), (-0.0, "float64"), (-3, "int32"), (True, "bool"),
                  (np.inf, "float32")]:
        lit = P.literal(v, dt)
        assert (lit.shape, lit.dtype, lit.inputs) == ((), np.dtype(dt), ())
        y = P.input(shape=(), dtype=np.dtype(dt))
        got = runtime.evaluate(Graph([y], [lit, P.select(P.literal(True, "bool"), lit, y)]),
                               [np.array(0, dt)], tt_backend)
        for out in got:
            assert_same(out, np.array(v, dt), f"literal {v!r} {dt}", signed_zeros=True)
    assert P.PRIMITIVES["input"].kind == P.PRIMITIVES["literal"].kind == "leaf"


def test_graph_with_unbound_input_is_rejected():
    x = P.input(shape=(2,), dtype=F64)
    with pytest.raises(ValueError, match="not bound"):
        Graph([], [P.neg(x)])


# -- IEEE special values ---------------------------------------------------------------------

def _ieee_inputs(prim):
    """One grid of special values per input, in the dtypes of the first all-float case."""
    for case in prim.cases:
        dtypes = [np.dtype(d) for d in (case.dtypes or (F64,) * len(case.shapes))]
        if prim.name == "select":
            dtypes = dtypes[1:]
        if all(d.kind == "f" for d in dtypes):
            break
    else:
        return None, None
    grids = np.meshgrid(*[np.array(SPECIAL)] * len(dtypes), indexing="ij")
    arrays = [a.ravel().astype(d) for a, d in zip(grids, dtypes)]
    if prim.name == "select":
        arrays = [np.arange(arrays[0].size) % 3 == 0] + arrays
    return arrays, case


# elementwise primitives that take floats (logical ops take bool only)
ELEMENTWISE = [n for n in NAMES if P.PRIMITIVES[n].kind == "elementwise" and
               _ieee_inputs(P.PRIMITIVES[n])[0] is not None]


def test_ieee_special_values_cover_float_elementwise_primitives():
    assert {"add", "div", "pow", "select", "cast", "sqrt", "sign"} <= set(ELEMENTWISE)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_ieee_special_values(name, tt_backend):
    prim = P.PRIMITIVES[name]
    arrays, case = _ieee_inputs(prim)
    attrs = [case.attrs] if name != "cast" else [{"dtype": "<f4"}, {"dtype": "<f8"},
                                                 {"dtype": "|b1"}]
    for a in attrs:
        nodes = leaves_for(arrays)
        out = prim(*nodes, **a)
        with np.errstate(all="ignore"):
            want = np.asarray(prim.impl(*arrays, **a))
            got = runtime.evaluate(Graph(nodes, [out]), arrays, tt_backend)[0]
        rtol, atol = tolerance(out.dtype)
        assert_same(got, want, f"{name} {a} on {[list(x) for x in arrays]}", rtol, atol,
                    signed_zeros=True)


# -- slice and pad are adjoint -------------------------------------------------------------

@pytest.mark.parametrize("shape,starts,stops,steps", [
    ((7,), (1,), (7,), (3,)), ((5, 4), (0, 1), (5, 4), (2, 2)), ((4, 3), (2, 0), (2, 3), (1, 1)),
    ((6, 2, 3), (5, 0, 0), (6, 2, 3), (4, 1, 2))])
def test_slice_and_pad_are_adjoint(shape, starts, stops, steps):
    """slice(pad(g)) == g, and <pad(g), x> == <g, slice(x)>: each is the other's gradient."""
    rng = np.random.default_rng(7)
    x = P.input(shape=shape, dtype=F64)
    y = P.slice(x, starts=starts, stops=stops, steps=steps)
    g = P.input(shape=y.shape, dtype=F64)
    (padded,) = autodiff.vjp([y], [g], [x])
    assert padded.prim.name == "pad" or 0 in y.shape
    back = P.slice(padded, starts=starts, stops=stops, steps=steps)
    xv, gv = rng.standard_normal(shape), rng.standard_normal(y.shape)
    sl, pd, bk = runtime.evaluate(Graph([x, g], [y, padded, back]), [xv, gv])
    np.testing.assert_array_equal(bk, gv)
    np.testing.assert_allclose(np.sum(pd * xv), np.sum(gv * sl), rtol=1e-12, atol=1e-12)


# -- reference implementations are accurate ------------------------------------------------

def test_sigmoid_impl_has_full_precision_in_both_tails():
    import decimal
    decimal.getcontext().prec = 40
    x = np.concatenate([np.linspace(-700, 36, 301), [-1e-8, 0.0, 1e-8]])
    want = np.array([float(1 / (1 + (-decimal.Decimal(float(v))).exp())) for v in x])
    got = P.sigmoid.impl(x)
    ulps = np.abs(got - want) / np.spacing(want)
    assert ulps.max() <= 2, f"sigmoid impl is {ulps.max():.0f} ulp off at x={x[ulps.argmax()]}"
    with np.errstate(over="raise", invalid="raise"):
        assert list(P.sigmoid.impl(np.array([-np.inf, np.inf, -1e308]))) == [0.0, 1.0, 0.0]
    assert np.isnan(P.sigmoid.impl(np.float64(np.nan)))
    assert P.sigmoid.impl(np.float32(3.0)).dtype == np.float32

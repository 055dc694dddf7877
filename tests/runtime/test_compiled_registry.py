"""Every primitive of the registry, compiled vs interpreted, on its registry cases with
NaN, +-inf and zeros planted in the float inputs, in float64 and float32."""
import zlib

import numpy as np
import pytest

import runtime
from compiler import Graph
from compiler import primitives as P

# regions have their own registry test (tests/compiler/test_regions.py)
NAMES = [n for n in P.PRIMITIVES if n not in ("input", "literal") and
         P.PRIMITIVES[n].kind != "region"]
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -1.0])


def _inputs(case, rng, float_dtype):
    """The case's arrays in ``float_dtype``, with two special values planted in each
    float input of 4 or more elements."""
    out = []
    for a in case.arrays(rng):
        if a.dtype.kind == "f":
            a = a.astype(float_dtype)
            if a.size >= 4:
                flat = a.reshape(-1)
                flat[rng.choice(a.size, 2, replace=False)] = rng.choice(SPECIAL, 2)
        out.append(a)
    return out


@pytest.mark.parametrize("float_dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", NAMES)
def test_compiled_matches_interpreter_with_specials(name, float_dtype):
    prim = P.PRIMITIVES[name]
    for i, case in enumerate(prim.cases):
        rng = np.random.default_rng(zlib.crc32(f"{name}/{i}/{float_dtype}".encode()))
        arrays = _inputs(case, rng, np.dtype(float_dtype))
        attrs = dict(case.attrs)
        if name == "cast" and float_dtype == "float32":
            attrs["dtype"] = "<f8"
        nodes = [P.input(shape=a.shape, dtype=a.dtype) for a in arrays]
        graph = Graph(nodes, [prim(*nodes, **attrs)])
        with np.errstate(all="ignore"):
            want = runtime.evaluate(graph, arrays, "interpret")[0]
            got = runtime.evaluate(graph, arrays, "compiled")[0]
        want, got = np.asarray(want), np.asarray(got)
        what = f"{name} case {i} {float_dtype}"
        assert got.shape == want.shape and got.dtype == want.dtype, what
        if want.dtype.kind != "f":
            np.testing.assert_array_equal(got, want, err_msg=what)
            continue
        rtol = 1e-12 if want.dtype == np.float64 else 4e-6
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True,
                                   err_msg=what)


EXACT = [n for n in NAMES if P.PRIMITIVES[n].exact]
GRID = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e-40, 3.0e38])


def _bits_equal(got, want):
    """Equal values, signs of zeros and NaN positions (NaN payloads may differ)."""
    if want.dtype.kind != "f":
        return np.array_equal(got, want)
    return (np.array_equal(np.isnan(got), np.isnan(want)) and
            np.array_equal(np.signbit(got) | np.isnan(got), np.signbit(want) | np.isnan(want))
            and np.array_equal(np.nan_to_num(got), np.nan_to_num(want)))


@pytest.mark.parametrize("float_dtype", ["float64", "float32"])
def test_exact_primitives_reproduce_numpy_bit_for_bit(float_dtype):
    # fusion.rematerialize recomputes stored values of these primitives: the compiled code
    # must give exactly NumPy's answer (signed zeros, NaN, Inf, subnormals) on every pair.
    # One graph holds them all, so the check costs one compile per dtype.
    x, y = (g.reshape(-1).astype(float_dtype) for g in np.meshgrid(GRID, GRID, indexing="ij"))
    cond = np.arange(x.size) % 3 == 0
    values = {"f": (x, y), "b": (x > 0, y < 0)}
    inputs, arrays, outputs = [], [], []

    def leaf(a):
        n = P.input(shape=a.shape, dtype=a.dtype)
        inputs.append(n)
        arrays.append(a)
        return n
    for name in EXACT:
        prim, case = P.PRIMITIVES[name], P.PRIMITIVES[name].cases[0]
        kind = np.dtype((case.dtypes or ("float64",))[-1]).kind
        ins = [leaf(a) for a in values[kind][:len(case.shapes)]]
        if name == "select":
            ins = [leaf(cond)] + [leaf(a) for a in (x, y)]
        outputs.append(prim(*ins, **dict(case.attrs)))
    graph = Graph(inputs, outputs)
    with np.errstate(all="ignore"):
        wants = runtime.evaluate(graph, arrays, "interpret")
        gots = runtime.evaluate(graph, arrays, "compiled")
    for name, got, want in zip(EXACT, gots, wants):
        got, want = np.asarray(got), np.asarray(want)
        assert got.dtype == want.dtype, name
        bad = [(x[i], y[i], got[i], want[i]) for i in range(got.size)
               if not _bits_equal(got[i:i + 1], want[i:i + 1])]
        assert not bad, f"{name} {float_dtype}: (x, y, compiled, numpy) {bad[:5]}"

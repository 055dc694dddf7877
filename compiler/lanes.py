"""Float max/min reductions in vector lanes, with an exact fallback (used by codegen).

A row's ``r = max_nan(r, v)`` does not vectorise. Its lane form accumulates through
``acc_max`` (``llvm.maximum``, runtime.vecmax), which LLVM splits into SIMD lanes, and
raises two flags per row: a -0.0 seen, a +0.0 seen. The two forms give the same value
(NaN where NaN) except on a row whose extremum is a zero and which holds zeros of both
signs: ``max_nan`` keeps the last zero in order, ``acc_max`` the positive one (``acc_min``
the negative one). A kernel whose rows raised both flags with a zero result runs again
with the exact form, as codegen's sin/cos first pass does: rare (signed zeros of both
signs tied at a row's extremum), and always the sequential answer.
"""
import numpy as np

IMPORT = "from runtime.vecmax import acc_max, acc_min\n"
_STEP = {"max": "acc_max", "min": "acc_min"}
_EXACT = {"max": "max_nan", "min": "min_nan"}


def applies(op, dtype, depth, parallel):
    """Whether a reduction accumulated in a scalar at ``depth`` takes the lane form: float
    max/min, and not the reduction of a prange loop itself (Numba reduces those)."""
    return (op in _STEP and np.dtype(dtype).kind == "f" and depth >= 0 and
            (not parallel or depth >= 1))


def body(op, j, acc, val):
    """(lane lines, exact lines) accumulating ``val`` into ``acc`` for reduction ``j``."""
    t = f"t{j}"
    lane = [f"{t} = {val}", f"{acc} = {_STEP[op]}({acc}, {t})",
            f"zn{j} = zn{j} | (({t} == 0) & np.signbit({t}))",
            f"zp{j} = zp{j} | (({t} == 0) & ~np.signbit({t}))"]
    return lane, [f"{acc} = {_EXACT[op]}({acc}, {val})"]


def flags(j):
    """Names of reduction ``j``'s row flags (accumulators that start False)."""
    return f"zn{j}", f"zp{j}"


def close(j, acc, depth, outer):
    """The line after a row's accumulation that marks the kernel for the exact rerun:
    ``fx`` (a scalar) for a reduction outside every loop, ``fxa[outer]`` inside them
    (one entry per iteration of the outermost loop, which may be a prange)."""
    cond = f"zn{j} & zp{j} & ({acc} == 0)"
    if depth == 0:
        return f"fx = fx | ({cond})"
    return f"fxa[{outer}] = fxa[{outer}] | ({cond})"


def exact_body(lines, alternatives):
    """The body with each lane step replaced by its exact lines (flag lines dropped)."""
    out = []
    for k, line in enumerate(lines):
        out += alternatives.get(k, [line])
    return out


def with_fallback(fast_loops, exact_loops, inits, outer_extent):
    """The lane loops, then everything again exactly when a row flagged itself."""
    head = ["    fx = False"]
    test = "fx"
    if outer_extent is not None:
        head.append(f"    fxa = np.zeros({outer_extent}, np.bool_)")
        test = "fx or fxa.any()"
    return (head + fast_loops + [f"    if {test}:"] +
            ["    " + line for line in inits + exact_loops])

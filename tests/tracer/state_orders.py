"""Shared helpers of the Variable-state gradient tests: run ``fn(u, x)`` on a fresh
Variable ``u`` and constant ``x`` under tapes and return the values and gradients the
tests compare between eager code and ``tt.function`` (not a test module)."""

import tracer as tt


def taped(fn, u0, x0):
    """``[z, dz/du, dz/dx, u after the call]`` as floats (a missing gradient is None)."""
    u, x = tt.Variable(u0), tt.constant(x0)
    with tt.GradientTape(persistent=True) as tape:
        tape.watch(x)
        z = fn(u, x)
    gu, gx = tape.gradient(z, u), tape.gradient(z, x)
    return [None if g is None else float(g) for g in (z, gu, gx)] + [float(u.numpy())]


def second_order(fn, u0, x0):
    """``(dz/du, d2z/du2)`` from two nested tapes around ``fn(u, x)``."""
    u, x = tt.Variable(u0), tt.constant(x0)
    with tt.GradientTape() as t2:
        with tt.GradientTape() as t1:
            z = fn(u, x)
        g = t1.gradient(z, u)
    return float(g), float(t2.gradient(g, u))

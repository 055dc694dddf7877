"""Plot f(x) = sin(x)^2 and its first three derivatives (seed tutorial 000).

Run: python examples/plot_sin_derivatives.py [output.png]
Writes the plot to the given PNG file (default: sin_derivatives.png in the current
directory). Needs matplotlib, the optional extra `plot`: pip install -e .[plot]
Without matplotlib it still computes the derivatives and checks them.
"""
import sys
from math import pi

import numpy as np

import tracer as tt


def f(x):
    return tt.square(tt.sin(x))


def grad(f):
    return lambda x: tt.gradients_function(f)(x)[0]


x = tt.lin_space(-2 * pi, 2 * pi, 100)  # 100 points between -2π and +2π
curves = {"f": f(x), "first derivative": grad(f)(x),
          "second derivative": grad(grad(f))(x),
          "third derivative": grad(grad(grad(f)))(x)}

# check against the closed forms: sin^2 x, sin 2x, 2 cos 2x, -4 sin 2x
xs = np.asarray(x, dtype=np.float64)
exact = [np.sin(xs) ** 2, np.sin(2 * xs), 2 * np.cos(2 * xs), -4 * np.sin(2 * xs)]
for (label, curve), want in zip(curves.items(), exact):
    err = np.max(np.abs(np.asarray(curve, np.float64) - want))
    print(f"{label:>17}: max |error| vs closed form = {err:.2e}")
    assert err < 1e-4

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed, so no plot was written; get it with: "
          "pip install -e .[plot]")
    sys.exit(0)

path = sys.argv[1] if len(sys.argv) > 1 else "sin_derivatives.png"
for label, curve in curves.items():
    plt.plot(x, curve, label=label)
plt.legend()
plt.savefig(path)
print(f"wrote {path}")

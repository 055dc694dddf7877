"""Higher-order gradients with nested tapes (seed tutorials 000, 001 and 002).

A gradient computed while an outer tape records is recorded too, so the outer tape can
differentiate it again; a gradient computed after the outer tape stopped is a constant.

Run: python examples/nested_tapes.py
"""
from math import pi

import tracer as tt


def f(x):
    return tt.square(tt.sin(x))


assert f(pi / 2).numpy() == 1.0

# grad_f will return a list of derivatives of f
# with respect to its arguments. Since f() has a single argument,
# grad_f will return a list with a single element.
grad_f = tt.gradients_function(f)
assert tt.abs(grad_f(pi / 2)).numpy() < 1e-7


def grad(f):
    return lambda x: tt.gradients_function(f)(x)[0]


# The same API can be used to differentiate as many times as you like:
x = tt.constant(pi / 4)
print("f(x) = sin(x)^2 at x = pi/4 and its first three derivatives:")
print(f(x))
print(grad(f)(x))
print(grad(grad(f))(x))
print(grad(grad(grad(f)))(x))

x = tt.constant(1.0)  # Convert the Python 1.0 to a Tensor object

with tt.GradientTape() as t:
    with tt.GradientTape() as t2:
        t2.watch(x)
        y = x * x * x
    # Compute the gradient inside the 't' context manager
    # which means the gradient computation is differentiable as well.
    dy_dx = t2.gradient(y, x)
d2y_dx2 = t.gradient(dy_dx, x)

assert dy_dx.numpy() == 3.0
assert d2y_dx2.numpy() == 6.0

# Nested tapes on a variable: the first gradient is computed inside the outer `with` block
x = tt.Variable(1.0)

with tt.GradientTape() as tape_2:
    with tt.GradientTape() as tape_1:
        y = x * x * x

        # The first gradient calculation can also be within the inner with block
        dy_dx = tape_1.gradient(y, x)
        d2y_dx2 = tape_2.gradient(dy_dx, x)

print("first gradient inside the outer block:")
print(dy_dx)
print(d2y_dx2)

x = tt.Variable(1.0)

with tt.GradientTape() as tape_2:
    with tt.GradientTape() as tape_1:
        y = x * x * x

# The first gradient call is outside the outer with block
# so the tape will expire after this
dy_dx = tape_1.gradient(y, x)

# The tape is now expired and the gradient output will be `None`
d2y_dx2 = tape_2.gradient(dy_dx, x)

print("first gradient outside the outer block:")
print(dy_dx)
print(d2y_dx2)

x = tt.Variable(1.0)

with tt.GradientTape() as tape_2:
    with tt.GradientTape() as tape_1:
        y = x * x * x

        dy_dx = tape_1.gradient(y, x)

    # this is also acceptable
    d2y_dx2 = tape_2.gradient(dy_dx, x)

print("second gradient in the outer block:")
print(dy_dx)
print(d2y_dx2)

"""Gradient tape basics (seed tutorials 001 and 002): watch, record, differentiate.

Run: python examples/tape_basics.py
"""
import tracer as tt

x = tt.ones((2, 2))

with tt.GradientTape() as t:
    t.watch(x)
    y = tt.reduce_sum(x)
    z = tt.multiply(y, y)

print(y)
print(z)

# Derivative of z with respect to the original input tensor x
dz_dx = t.gradient(z, x)
print(dz_dx)

for i in [0, 1]:
    for j in [0, 1]:
        assert dz_dx[i][j].numpy() == 8.0

# Use a tape to compute the derivative of z with respect to the intermediate value y.
x = tt.ones((2, 2))
with tt.GradientTape() as t:
    t.watch(x)
    y = tt.reduce_sum(x)
    z = tt.multiply(y, y)
dz_dy = t.gradient(z, y)
print(dz_dy)

x = tt.constant([[2, 2], [2, 2]], dtype=float)
with tt.GradientTape() as t:
    t.watch(x)
    y = tt.reduce_sum(x)
    z = tt.multiply(y, y)
dz_dx = t.gradient(z, x)
print(dz_dx)
print(z)
print(y)

# Define a 2x2 array of 1's
x = tt.ones((2, 2))

with tt.GradientTape() as t:
    # Record the actions performed on tensor x with 'watch'
    t.watch(x)

    # Define y as the sum of the elements in x
    y = tt.reduce_sum(x)

    # Let z be the square of y
    z = tt.square(y)

# Get the derivative of z wrt the original input tensor x
dz_dx = t.gradient(z, x)

# Print our result
print(dz_dx)

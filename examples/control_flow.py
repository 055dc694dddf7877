"""Python control flow (seed tutorials 000 and 001): operations are recorded as they run,
so `if`, `for` and `while` on values just work.

Run: python examples/control_flow.py
"""
import tracer as tt


def f(x, y):
    output = 1
    # Must use range(int(y)) instead of range(y) in Python 3 when
    # using TensorFlow 1.10 and earlier. Can use range(y) in 1.11+
    for i in range(int(y)):
        output = tt.multiply(output, x)
    return output


def g(x, y):
    # Return the gradient of `f` with respect to it's first parameter
    return tt.gradients_function(f)(x, y)[0]


assert f(3.0, 2).numpy() == 9.0  # f(x, 2) is essentially x * x
assert g(3.0, 2).numpy() == 6.0  # And its gradient will be 2 * x
assert f(4.0, 3).numpy() == 64.0  # f(x, 3) is essentially x * x * x
assert g(4.0, 3).numpy() == 48.0  # And its gradient will be 3 * x * x
print("g(3.0, 2) =", g(3.0, 2))
print("g(4.0, 3) =", g(4.0, 3))


def f(x, y):
    output = 1.0
    for i in range(y):
        if i > 1 and i < 5:
            output = tt.multiply(output, x)
    return output


print(f(2, 10))


def grad(x, y):
    with tt.GradientTape() as t:
        t.watch(x)
        out = f(x, y)
    return t.gradient(out, x)


x = tt.convert_to_tensor(2.0)

assert grad(x, 6).numpy() == 12.0
assert grad(x, 5).numpy() == 12.0
assert grad(x, 4).numpy() == 4.0
print("grad(x, 6) =", grad(x, 6))
print("grad(x, 4) =", grad(x, 4))

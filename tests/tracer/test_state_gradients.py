"""TensorFlow semantics of Variables, tapes and compiled functions together: a tape around a
``tt.function`` call that updates Variables gives the gradients of the same computation
written eagerly (every read of a Variable is a source of its gradient, an update carries
no gradient to the value assigned); ``custom_gradient`` with Variables inside
``tt.function``; returned Variables are their values; op-seeded eager draws move on at
every call until ``set_seed`` and equal traced ones; traced draws from several threads never collide."""

import numpy as np
import pytest

import tracer as tt
from state_orders import second_order, taped


def _update_then_read(u, x):
    y = u * x
    u.assign(y)                      # no gradient from the value assigned
    z = u * x + tt.sin(u)            # a read after the update: a source of u's gradient
    u.assign_add(z)
    return z * u


def _read_then_update(u, x):
    y = tt.sin(u) * u + x * u
    u.assign_add(1.0)
    return y


def _taped(fn):
    return taped(fn, 3.0, 2.0)


@pytest.mark.parametrize("body", [_update_then_read, _read_then_update])
def test_tape_around_a_compiled_update_matches_the_eager_gradients(tt_backend, body):
    want = _taped(body)
    assert want[1] is not None
    f = tt.function(body)
    for _ in range(2):               # traced, then the cached entry
        np.testing.assert_allclose(_taped(f), want, rtol=1e-6)
    assert f.trace_count == 1


def test_second_order_and_jacobian_through_a_compiled_update_match_eager():
    def jacobian(fn):
        u = tt.Variable([1.0, 2.0])
        with tt.GradientTape() as t:
            z = fn(u, tt.constant([0.5, 3.0]))
        return t.jacobian(z, u).numpy()

    def batch_jacobian(fn):
        u = tt.Variable([[1.0, 2.0], [0.5, -1.0]])
        with tt.GradientTape() as t:
            z = fn(u, tt.constant([[0.5, 3.0], [2.0, 1.0]]))
        return t.batch_jacobian(z, u).numpy()

    f = tt.function(_update_then_read)
    np.testing.assert_allclose(second_order(f, 1.5, 0.7),
                               second_order(_update_then_read, 1.5, 0.7), rtol=1e-6)
    np.testing.assert_allclose(jacobian(f), jacobian(_update_then_read), rtol=1e-6)
    np.testing.assert_allclose(batch_jacobian(f), batch_jacobian(_update_then_read),
                               rtol=1e-6)
    # the compiled graph itself computes only the outputs and the updates
    entry = next(iter(f._entries.values()))
    assert len(entry.graph.outputs) == 1 + 1


def test_read_then_update_gradient_is_the_value_read(tt_backend):
    v = tt.Variable(2.0)
    w = tt.Variable(0.0)

    @tt.function
    def f():
        y = v * v + 3.0 * v
        w.assign(y)                  # another Variable
        v.assign_add(1.0)            # and the one read
        return y

    with tt.GradientTape() as tape:
        y = f()
    np.testing.assert_allclose(float(tape.gradient(y, v)), 2 * 2.0 + 3.0)
    assert float(v.numpy()) == 3.0 and float(w.numpy()) == 10.0


def test_eager_update_keeps_earlier_reads_as_sources():
    v = tt.Variable(2.0)
    with tt.GradientTape() as tape:
        y = tt.sin(v) * v
        v.assign_add(1.0)
        y = y + v * v
    np.testing.assert_allclose(float(tape.gradient(y, v)),
                               np.cos(2.0) * 2.0 + np.sin(2.0) + 2 * 3.0, rtol=1e-6)


def test_tape_inside_a_function_that_updates_matches_eager():
    def inner(u, x):
        with tt.GradientTape() as t:
            t.watch(x)
            z = _update_then_read(u, x)
        return t.gradient(z, [u, x])

    want = [float(g) for g in inner(tt.Variable(3.0), tt.constant(2.0))]
    got = tt.function(inner)(tt.Variable(3.0), tt.constant(2.0))
    np.testing.assert_allclose([float(g) for g in got], want, rtol=1e-6)


@pytest.mark.parametrize("trainable", [True, False])
def test_explicitly_watched_variable_counts_reads_after_updates(tt_backend, trainable):
    def body(u, x):
        u.assign(u * x)
        return u * x * x

    def taped(fn):
        u, x = tt.Variable(3.0, trainable=trainable), tt.constant(2.0)
        with tt.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
            tape.watch([u, x])
            z = fn(u, x)
        return [float(tape.gradient(z, u)), float(tape.gradient(z, x))]

    assert taped(body) == [4.0, 24.0]        # d/du: the read after the update, x * x
    assert taped(tt.function(body)) == [4.0, 24.0]


def test_custom_gradient_with_a_loop_updating_a_variable_in_a_function():
    c = tt.Variable(0.0, trainable=False)

    @tt.custom_gradient
    def cube(x):
        def body(i, acc):
            c.assign_add(1.0)                # three updates, in the loop
            return i + 1, acc * x
        _, y = tt.while_loop(lambda i, a: i < 3, body, (tt.constant(0), tt.constant(1.0)))
        return y, lambda dy: dy * 3.0 * x * x

    assert float(tt.function(cube)(tt.constant(2.0))) == 8.0 and float(c.numpy()) == 3.0
    assert float(cube(tt.constant(2.0))) == 8.0 and float(c.numpy()) == 6.0


def _scaled_by(v):
    @tt.custom_gradient
    def scale(x):
        def grad_fn(dy, variables=None):
            assert variables is not None and len(variables) == 1
            return dy * v * 10.0, [dy * x * 100.0]
        return x * v, grad_fn
    return scale


@pytest.mark.parametrize("passed", [False, True])
def test_custom_gradient_with_variables_in_a_function_under_a_tape(tt_backend, passed):
    w = tt.Variable(3.0)

    def body(x, v):
        y = _scaled_by(v)(x)
        v.assign_add(1.0)            # the update must not hide the read from the tape
        return y

    f = tt.function(body) if passed else tt.function(lambda x: body(x, w))
    x = tt.constant(2.0)
    for k in range(2):
        with tt.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = f(x, w) if passed else f(x)
        np.testing.assert_allclose(float(tape.gradient(y, x)), (3.0 + k) * 10.0)
        np.testing.assert_allclose(float(tape.gradient(y, w)), 2.0 * 100.0)


def test_returned_variables_are_values_captured_or_passed():
    c = tt.Variable(5.0)

    def bump():
        c.assign_add(1.0)
        return c, [c * 2.0]

    f = tt.function(bump)
    first, (double,) = f()
    second, _ = f()
    assert type(first) is tt.Tensor and type(tt.function(lambda a: a)(c)) is tt.Tensor
    assert (float(first), float(double), float(second)) == (6.0, 12.0, 7.0)
    with tt.GradientTape() as tape:
        y = tt.function(lambda: c)()
    assert float(tape.gradient(y, c)) == 1.0


SAMPLERS = [lambda: tt.random.uniform((5,), seed=3),
            lambda: tt.random.normal((5,), seed=3),
            lambda: tt.random.truncated_normal((5,), seed=3),
            lambda: tt.random.shuffle(tt.range(8), seed=3),
            lambda: tt.random.categorical(tt.zeros((1, 50)), 5, seed=3),
            lambda: tt.nn.dropout(tt.ones((20,)), 0.5, seed=3)]


@pytest.mark.parametrize("draw", SAMPLERS)
def test_op_seed_moves_on_per_call_and_set_seed_restarts_it(draw):
    tt.random.set_seed(11)
    first = [draw().numpy() for _ in range(3)]
    assert not np.array_equal(first[0], first[1]) or not np.array_equal(first[1], first[2])
    tt.random.set_seed(11)
    again = [draw().numpy() for _ in range(3)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_eager_and_traced_op_seeds_follow_the_same_rules():
    f = tt.function(lambda: tt.random.uniform((6,), seed=4))
    for run in (lambda: tt.random.uniform((6,), seed=4), f):
        tt.random.set_seed(2)
        a, b = run().numpy(), run().numpy()
        tt.random.set_seed(2)
        np.testing.assert_array_equal(run().numpy(), a)
        assert not np.array_equal(a, b)
        tt.random.set_seed(3)
        assert not np.array_equal(run().numpy(), a)


@pytest.mark.parametrize("draw", [
    lambda: tt.random.uniform((5,), seed=6),
    lambda: tt.random.uniform((5,), maxval=9, dtype="int32", seed=6),
    lambda: tt.random.normal((2, 3), seed=6, dtype="float64"),
    lambda: tt.random.truncated_normal((4,), seed=6),
    lambda: tt.random.shuffle(tt.range(6), seed=6),
    lambda: tt.random.categorical(tt.constant([[0.0, 1.0, -1.0]]), 4, seed=6),
    lambda: tt.nn.dropout(tt.ones((6,)), 0.5, seed=6)],
    ids=["uniform", "int", "normal", "truncated", "shuffle", "categorical", "dropout"])
def test_eager_and_traced_op_seeded_draws_are_the_same_numbers(tt_backend, draw):
    # TensorFlow: the same kernel with the same seeds, call by call (A1, A2 eagerly and
    # in a tf.function), after the same set_seed
    f = tt.function(draw)
    tt.random.set_seed(5)
    eager = [draw().numpy() for _ in range(2)]
    tt.random.set_seed(5)
    for want in eager:
        np.testing.assert_allclose(f().numpy(), want, rtol=1e-6, atol=1e-7)

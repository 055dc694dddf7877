"""State in compiled functions: Variables assigned inside tt.function (program order, later
reads see updates, every call performs them, updates inside loop bodies and branches),
tapes inside traced functions differentiating w.r.t. Variables, and Variable creation."""
import numpy as np
import pytest

import tracer as tt
from tracer.testing import assert_allclose
from tracer.tracing import variable_creation


def test_updates_in_program_order_every_call():
    v = tt.Variable(1.0)

    @tt.function
    def step(x):
        before = v * 1.0
        v.assign_add(x)
        middle = v * 1.0
        v.assign(v * 3.0)
        return before, middle
    for want_v, want in [(6.0, (1.0, 2.0)), (21.0, (6.0, 7.0)), (66.0, (21.0, 22.0))]:
        got = step(tt.constant(1.0))
        assert_allclose(np.array([float(g) for g in got]), np.array(want))
        assert_allclose(v.numpy(), want_v)
    assert step.trace_count == 1


def test_assign_sub_and_shape_check():
    w = tt.Variable([1.0, 2.0])
    @tt.function
    def f():
        w.assign_sub(tt.ones((2,)))

    @tt.function
    def bad():
        w.assign(tt.ones((3,)))
    f()
    f()
    assert_allclose(w.numpy(), [-1.0, 0.0])
    with pytest.raises(ValueError, match="shape"):
        bad()
    assert_allclose(w.numpy(), [-1.0, 0.0])     # the failed trace changed nothing


def test_assign_takes_tensorflows_keywords():
    # TF: assign(value, use_locking=False, name=None, read_value=True); read_value=False
    # returns no value
    v = tt.Variable(1.0)
    assert v.assign(2.0, use_locking=True, name="a") is v
    assert v.assign_add(1.0, read_value=False) is None
    assert v.assign_sub(0.5, name="s", read_value=False) is None
    f = tt.function(lambda u: (u.assign_add(2.0, read_value=False), u * 1.0)[1])
    assert float(f(v)) == 4.5 and float(v) == 4.5


def test_compiled_training_step_matches_eager():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16,))
    w0 = rng.normal(size=(3,))

    def make():
        w = tt.Variable(w0)

        def step(x, y):
            with tt.GradientTape() as tape:
                loss = tt.reduce_mean(tt.square(tt.reduce_sum(x * w, axis=1) - y))
            g = tape.gradient(loss, w)
            w.assign_sub(0.1 * g)
            return loss
        return w, step
    w_e, eager = make()
    w_c, step = make()
    compiled = tt.function(step)
    xt, yt = tt.constant(x), tt.constant(y)
    for _ in range(5):
        assert_allclose(compiled(xt, yt), eager(xt, yt), rtol=1e-12)
        assert_allclose(w_c.numpy(), w_e.numpy(), rtol=1e-12)
    assert compiled.trace_count == 1


def test_updates_inside_loop_bodies_and_branches():
    acc, count = tt.Variable(0.0, dtype=tt.float64), tt.Variable(0)

    @tt.function
    def f(xs):
        def body(c, x):
            acc.assign_add(x)
            count.assign_add(1)
            return c + acc * 1.0, None
        c, _ = tt.scan(body, tt.constant(0.0, tt.float64), xs)

        def big():
            acc.assign(acc * 10.0)
        tt.cond(c > 5.0, big, lambda: None)
        tt.while_loop(lambda i: i < 2, lambda i: (count.assign_add(5), i + 1)[1],
                      tt.constant(0))
        return c
    assert_allclose(f(tt.range(4.0, dtype=tt.float64)), 10.0)
    assert_allclose(acc.numpy(), 60.0)
    assert int(count.numpy()) == 14
    assert_allclose(f(tt.range(4.0, dtype=tt.float64)), 250.0)
    assert_allclose(acc.numpy(), 660.0)


def test_tape_inside_function_differentiates_variables():
    w = tt.Variable([1.0, -2.0], dtype=tt.float64)

    @tt.function
    def g(x):
        with tt.GradientTape() as tape:
            loss = tt.reduce_sum(w * w * x)
        return tape.gradient(loss, w)
    assert_allclose(g(tt.constant(3.0, tt.float64)), [6.0, -12.0])


def test_creating_a_variable_while_tracing_raises():
    @tt.function
    def f(x):
        tt.Variable(1.0)
        return x
    with pytest.raises(tt.TracingError, match="created while tracing"):
        f(tt.constant(1.0))
    assert_allclose(tt.function(lambda x: x * 2.0)(tt.constant(1.0)), 2.0)   # still works


def test_slot_variables_created_on_first_trace():
    w = tt.Variable([1.0, 1.0])
    slots = []

    @tt.function
    def step(g):
        if not slots:
            with variable_creation():
                slots.append(tt.Variable(tt.zeros((2,)), trainable=False))
        slots[0].assign(0.5 * slots[0] + g)
        w.assign_sub(slots[0])
        return w.value()
    step(tt.ones((2,)))
    out = step(tt.ones((2,)))
    assert_allclose(slots[0].numpy(), [1.5, 1.5])
    assert_allclose(out, [-1.5, -1.5])
    assert step.trace_count == 1 and len(slots) == 1


def test_variable_initial_value_may_be_a_callable():
    # TF: initial_value "can also be a callable with no argument"
    v = tt.Variable(lambda: tt.zeros((3,)), name="z")
    assert v.shape == (3,) and v.name == "z:0"
    assert tt.Variable(lambda: 2, dtype=tt.float64).numpy() == 2.0
    w = tt.Variable(tt.Variable(1.5))                       # a Variable is not called
    assert float(w) == 1.5

"""Distinct tensors are distinct sources, tensors own their data, static arguments are keyed
by their bits (issue: identity(x) and repeated arguments merged gradients, tensors aliased
the caller's arrays, nan retraced forever and -0.0 reused 0.0's trace)."""
import numpy as np
import pytest

import tracer as tt


def _grads(tape, y, xs):
    return [None if g is None else float(g) for g in tape.gradient(y, xs)]


@pytest.mark.parametrize("make", [tt.identity, lambda v: v + 0, lambda v: v * 1],
                         ids=["identity", "plus_zero", "times_one"])
def test_sources_structurally_equal_tensors_are_distinct(tt_backend, make):
    x = tt.constant(1.5)
    x1 = make(x)
    with tt.GradientTape() as tape:
        tape.watch([x, x1])
        loss = 2 * x + 3 * x1
    assert _grads(tape, loss, [x, x1]) == [2.0, 3.0]
    # computed inside the tape from x: the path through x1 counts for x (TensorFlow)
    with tt.GradientTape() as tape:
        tape.watch(x)
        x1 = make(x)
        tape.watch(x1)
        loss = 2 * x + 3 * x1
    assert _grads(tape, loss, [x, x1]) == [5.0, 3.0]


@pytest.mark.parametrize("make", [tt.identity, lambda v: v + 0], ids=["identity", "plus_zero"])
def test_sources_watched_value_recorded_by_an_outer_tape_is_a_leaf(tt_backend, make):
    # x1 was computed before the inner tape opened (the outer tape recorded it): the inner
    # tape must not differentiate through it back to x
    x = tt.constant(1.5)
    with tt.GradientTape() as outer:
        outer.watch(x)
        x1 = make(x)
        with tt.GradientTape() as inner:
            inner.watch([x, x1])
            loss = 2 * x + 3 * x1
        assert _grads(inner, loss, [x, x1]) == [2.0, 3.0]
    assert _grads(outer, loss, [x]) == [5.0]


def test_sources_same_tensor_twice_gets_one_gradient_per_position(tt_backend):
    x = tt.constant(1.5)
    assert [float(g) for g in tt.gradients_function(lambda a, b: a * b)(x, x)] == [1.5, 1.5]
    assert [float(g) for g in tt.grad(lambda a, b: a * b, argnums=(0, 1))(x, x)] == [1.5, 1.5]
    # nested: d/da of (d/du u^2 v at u = v = a) = d/da 2a^2 = 4a
    inner = tt.gradients_function(lambda u, v: u * u * v)
    outer = tt.gradients_function(lambda a: inner(a, a)[0])
    assert float(outer(x)[0]) == 6.0


def test_sources_identity_is_a_new_tensor_in_compiled_functions():
    x = tt.constant(1.5)

    @tt.function
    def f(x):
        with tt.GradientTape() as tape:
            tape.watch(x)
            x1 = tt.identity(x)
            tape.watch(x1)
            loss = 2 * x + 3 * x1
        return tape.gradient(loss, [x, x1])
    assert [float(g) for g in f(x)] == [5.0, 3.0]
    assert float(tt.grad(lambda a: tt.identity(a) * 3.0)(x)) == 3.0


@pytest.mark.parametrize("make", [tt.constant, tt.convert_to_tensor,
                                  lambda a: tt.constant(a, dtype="float64"),
                                  lambda a: tt.convert_to_tensor(a, dtype=tt.float64)],
                         ids=["constant", "convert", "constant_same_dtype",
                              "convert_same_dtype"])
def test_buffers_tensor_owns_its_data(tt_backend, make):
    a = np.array([3.0, 1.0])
    t = make(a)
    with tt.GradientTape() as tape:
        tape.watch(t)
        y = tt.reduce_sum(t * t)
    a[:] = 0.0
    assert t.numpy().tolist() == [3.0, 1.0]
    assert tape.gradient(y, t).numpy().tolist() == [6.0, 2.0]


def test_buffers_numpy_and_asarray_never_write_into_a_tensor():
    t = tt.constant([1.0, 2.0])
    for view in (t.numpy(), np.asarray(t), tt.Variable([1.0, 2.0]).numpy()):
        with pytest.raises(ValueError, match="read-only"):
            view[0] = 42.0
    c = np.array(t)                      # an explicit copy is the caller's own
    c[0] = 42.0
    assert t.numpy().tolist() == [1.0, 2.0]
    assert np.asarray(t, dtype=np.float64).flags.writeable
    v = tt.Variable([1.0, 2.0])
    v.assign_add([1.0, 1.0])
    assert v.numpy().tolist() == [2.0, 3.0]


def test_static_float_arguments_keyed_by_bits():
    f = tt.function(lambda x, c: x * c)
    x = tt.constant(1.0)
    for _ in range(20):
        assert np.isnan(f(x, float("nan")).numpy())
    assert f.trace_count == 1
    assert np.signbit(f(x, -0.0).numpy()) and not np.signbit(f(x, 0.0).numpy())
    g = tt.function(lambda x, c: x * c[0], static_argnums=(1,))
    assert not np.signbit(g(x, (0.0,)).numpy()) and np.signbit(g(x, (-0.0,)).numpy())
    assert g.trace_count == 2

"""GradientTape: one test per behaviour of API.md's "Gradient tape" section."""
import sys
import threading
import time

import numpy as np
import pytest

import tracer as tt

ERROR_TEXT = "GradientTape.gradient can only be called once on non-persistent tapes."


def value(t):
    return np.asarray(t)


# -- watch ------------------------------------------------------------------------------------

def test_watch_nested_structure_gives_same_structure_back(tt_backend):
    a, b, c = tt.constant(1.0), tt.constant([2.0, 3.0]), tt.constant(4.0)
    sources = {"a": a, "rest": [b, (c,)]}
    with tt.GradientTape() as tape:
        tape.watch(sources)
        y = a * tt.reduce_sum(b) * c
    g = tape.gradient(y, sources)
    assert set(g) == {"a", "rest"} and isinstance(g["rest"], list)
    assert isinstance(g["rest"][1], tuple) and len(g["rest"][1]) == 1
    assert value(g["a"]) == 20.0
    np.testing.assert_array_equal(value(g["rest"][0]), [4.0, 4.0])
    assert value(g["rest"][1][0]) == 5.0


def test_watch_also_watches_on_enclosing_recording_tapes(tt_backend):
    x = tt.constant(2.0)
    with tt.GradientTape() as outer:
        with tt.GradientTape() as inner:
            inner.watch(x)  # only the inner tape is told; the outer one records too
            y = x * x * x
        dy = inner.gradient(y, x)
    assert value(dy) == 12.0
    assert value(outer.gradient(dy, x)) == 12.0  # 6x


def test_watch_rejects_non_tensors_naming_the_type():
    with tt.GradientTape() as tape:
        with pytest.raises(ValueError, match="GradientTape.watch.*str"):
            tape.watch("x")


# -- gradient: targets, sources, seeds --------------------------------------------------------

def test_gradient_of_list_targets_adds_up(tt_backend):
    x = tt.constant(3.0)
    with tt.GradientTape() as tape:
        tape.watch(x)
        targets = [x * x, 2.0 * x, tt.sin(x)]
    g = tape.gradient(targets, x)
    assert np.isclose(value(g), 6.0 + 2.0 + np.cos(3.0), rtol=1e-6)


def test_gradient_tuple_sources_give_tuple(tt_backend):
    x, y = tt.constant(1.0), tt.constant(2.0)
    with tt.GradientTape() as tape:
        tape.watch((x, y))
        z = x * y
    gx, gy = g = tape.gradient(z, (x, y))
    assert isinstance(g, tuple) and value(gx) == 2.0 and value(gy) == 1.0


def test_gradient_unconnected_and_integer_sources_are_none(tt_backend):
    x, w = tt.constant(1.0), tt.constant(5.0)
    n = tt.constant(3)
    with tt.GradientTape() as tape:
        tape.watch([x, w, n])
        y = x * tt.cast(n, tt.float32)
    gx, gw, gn = tape.gradient(y, [x, w, n])
    assert value(gx) == 3.0 and gw is None and gn is None


def test_gradient_unconnected_zero_gives_zeros_for_float_sources(tt_backend):
    x, w = tt.constant(1.0), tt.constant([5.0, 6.0], dtype=tt.float64)
    n = tt.constant(3)
    with tt.GradientTape() as tape:
        tape.watch([x, w, n])
        y = x * 2.0
    gx, gw, gn = tape.gradient(y, [x, w, n], unconnected_gradients="zero")
    assert value(gx) == 2.0
    assert gw.shape == (2,) and gw.dtype == tt.float64 and not value(gw).any()
    assert gn is None


def test_gradient_rejects_unknown_unconnected_option():
    x = tt.constant(1.0)
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    with pytest.raises(ValueError, match="unconnected_gradients.*'none' or 'zero'"):
        tape.gradient(y, x, unconnected_gradients="zeros")


def test_gradient_output_gradients_seed_the_cotangent(tt_backend):
    x = tt.constant([1.0, 2.0, 3.0])
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    g = tape.gradient(y, x, output_gradients=tt.constant([1.0, 0.0, -2.0]))
    np.testing.assert_array_equal(value(g), [2.0, 0.0, -12.0])


def test_gradient_second_call_on_non_persistent_tape_raises(tt_backend):
    x = tt.constant(3.0)
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError) as info:
        tape.gradient(y, x)
    assert str(info.value) == ERROR_TEXT


def test_gradient_persistent_tape_allows_many_calls(tt_backend):
    x = tt.constant(3.0)
    with tt.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert [value(tape.gradient(t, x)) for t in (z, y, z)] == [108.0, 6.0, 108.0]


def test_jacobian_shape_is_target_then_source(tt_backend):
    x = tt.constant([1.0, 2.0])
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.stack([x[0] * x[1], tt.sin(x[0]), x[1] * x[1]])
    j = tape.jacobian(y, x)
    want = [[2.0, 1.0], [np.cos(1.0), 0.0], [0.0, 4.0]]
    assert j.shape == (3, 2)
    np.testing.assert_allclose(value(j), want, rtol=1e-6)


@pytest.mark.slow
def test_jacobian_is_batched_and_differentiable_again(tt_backend):
    """tape.jacobian runs one gradient sweep over the target's basis (TensorFlow's pfor):
    a nested-tape Hessian, its derivative by a third tape, inside tt.function, and the
    unconnected, integer and empty cases."""
    x0 = np.array([0.3, -1.1, 0.8, 2.0])

    def hessian_and_third(x):
        with tt.GradientTape() as t3:
            t3.watch(x)
            with tt.GradientTape() as t2:
                t2.watch(x)
                with tt.GradientTape() as t1:
                    t1.watch(x)
                    y = tt.reduce_sum(x ** 3 * tt.sin(x))
                g = t1.gradient(y, x)
            h = t2.jacobian(g, x)
            s = tt.reduce_sum(h)
        return h, t3.gradient(s, x)

    d2 = 6 * x0 * np.sin(x0) + 6 * x0 ** 2 * np.cos(x0) - x0 ** 3 * np.sin(x0)
    d3 = (6 * np.sin(x0) + 18 * x0 * np.cos(x0) - 9 * x0 ** 2 * np.sin(x0)
          - x0 ** 3 * np.cos(x0))
    for fn in (hessian_and_third, tt.function(hessian_and_third)):
        h, third = fn(tt.constant(x0))
        np.testing.assert_allclose(value(h), np.diag(d2), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(value(third), d3, rtol=1e-5, atol=1e-5)

    x, k, free = tt.constant(x0), tt.constant([1, 2]), tt.constant([5.0])
    with tt.GradientTape(persistent=True) as tape:
        tape.watch([x, k, free])
        y = tt.reshape(x, (2, 2)) * 2.0
    j = tape.jacobian(y, [x, k, free])
    assert j[0].shape == (2, 2, 4) and j[1] is None and j[2] is None
    np.testing.assert_allclose(value(j[0]).reshape(4, 4), 2.0 * np.eye(4))
    z = tape.jacobian(y, [k, free], unconnected_gradients="zero")
    assert z[0].shape == (2, 2, 2) and z[1].shape == (2, 2, 1) and not value(z[1]).any()
    assert tape.jacobian(y[:0], x).shape == (0, 2, 4)


def test_stop_recording_leaves_operations_unrecorded(tt_backend):
    x = tt.constant(2.0)
    with tt.GradientTape() as tape:
        tape.watch(x)
        with tape.stop_recording():
            hidden = x * x
        y = x * 3.0 + hidden
    assert value(tape.gradient(y, x)) == 3.0


def test_reset_forgets_the_recording(tt_backend):
    x = tt.constant(2.0)
    with tt.GradientTape() as tape:
        tape.watch(x)
        before = x * x
        tape.reset()
        tape.watch(x)
        after = x * 5.0 + before  # `before` is a constant to the reset tape
    assert value(tape.gradient(after, x)) == 5.0
    with tt.GradientTape() as tape:
        tape.watch(x)
        before = x * x
        tape.reset()
        after = x * 5.0  # x is no longer watched
    assert tape.gradient([after, before], x) is None


def test_reset_then_gradient_counts_once(tt_backend):
    x = tt.constant(2.0)
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        tape.reset()
        tape.watch(x)
        y = x * x * x
    assert value(tape.gradient(y, x)) == 12.0


# -- variables ---------------------------------------------------------------------------------

def test_trainable_variables_are_watched_automatically(tt_backend):
    v = tt.Variable(3.0)
    with tt.GradientTape() as tape:
        y = v * v
    assert value(tape.gradient(y, v)) == 6.0
    assert tape.watched_variables() == (v,)


def test_untrainable_variables_are_not_watched(tt_backend):
    v, w = tt.Variable(3.0, trainable=False), tt.Variable(2.0)
    with tt.GradientTape() as tape:
        y = v * w
    assert tape.gradient(y, v) is None
    assert tape.watched_variables() == (w,)


def test_watch_accessed_variables_false_watches_only_explicitly(tt_backend):
    v, w = tt.Variable(3.0), tt.Variable(2.0)
    with tt.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(w)
        y = v * w
    assert tape.watched_variables() == (w,)
    gv, gw = tape.gradient(y, [v, w])
    assert gv is None and value(gw) == 3.0


def test_watched_variables_is_a_tuple_in_access_order():
    a, b = tt.Variable(1.0), tt.Variable(2.0)
    with tt.GradientTape() as tape:
        tt.square(b) + a
    assert tape.watched_variables() == (b, a)


def test_variable_as_target(tt_backend):
    v = tt.Variable([1.0, 2.0])
    with tt.GradientTape(persistent=True) as tape:
        tape.watch(v)
        y = v * v
    np.testing.assert_array_equal(value(tape.gradient(v, v)), [1.0, 1.0])
    np.testing.assert_array_equal(value(tape.gradient([v, y], v)), [3.0, 5.0])


def test_variable_assign_between_steps_uses_new_value(tt_backend):
    v = tt.Variable(1.0)
    for expected in (2.0, 4.0, 6.0):
        with tt.GradientTape() as tape:
            y = v * v
        assert value(tape.gradient(y, v)) == expected
        v.assign_add(1.0)


# -- non-smooth points -------------------------------------------------------------------------

def grads_at(fn, *xs):
    xs = [tt.constant(x) for x in xs]
    with tt.GradientTape() as tape:
        tape.watch(xs)
        y = fn(*xs)
    return [None if g is None else value(g) for g in tape.gradient(y, xs)]


def test_maximum_minimum_ties_send_gradient_to_first_argument(tt_backend):
    for op in (tt.maximum, tt.minimum):
        gx, gy = grads_at(op, [1.0, 2.0, 3.0], [1.0, 5.0, 0.0])
        np.testing.assert_array_equal(gx + gy, [1.0, 1.0, 1.0])
        assert gx[0] == 1.0 and gy[0] == 0.0


def test_abs_and_relu_have_zero_gradient_at_zero(tt_backend):
    for op in (tt.abs, tt.relu):
        (g,) = grads_at(op, [-2.0, 0.0, 2.0])
        want = [-1.0, 0.0, 1.0] if op is tt.abs else [0.0, 0.0, 1.0]
        np.testing.assert_array_equal(g, want)


def test_piecewise_constant_ops_give_zeros_not_none(tt_backend):
    x = [-1.5, 0.5, 2.5]
    ops = [tt.floor, tt.ceil, tt.round, tt.sign, lambda t: tt.floordiv(t, 2.0)]
    for op in ops:
        (g,) = grads_at(op, x)
        assert g is not None, op
        np.testing.assert_array_equal(g, np.zeros(3, np.float32))


def test_argmax_is_int64_and_not_differentiable(tt_backend):
    x = tt.constant([1.0, 3.0, 2.0])
    with tt.GradientTape() as tape:
        tape.watch(x)
        i = tt.argmax(x, axis=0)
        j = tt.argmin(x, axis=0)
    assert i.dtype == tt.int64 and j.dtype == tt.int64
    assert int(i) == 1 and int(j) == 0
    assert tape.gradient(i, x) is None


# -- nesting -----------------------------------------------------------------------------------

def test_gradient_inside_outer_tape_is_differentiable_after_is_constant(tt_backend):
    x = tt.Variable(2.0)
    with tt.GradientTape() as outer:
        with tt.GradientTape() as inner:
            y = x * x * x
        inside = inner.gradient(y, x)
    assert value(outer.gradient(inside, x)) == 12.0
    with tt.GradientTape(persistent=True) as outer:
        with tt.GradientTape() as inner:
            y = x * x * x
    after = inner.gradient(y, x)
    assert value(after) == 12.0
    assert outer.gradient(after, x) is None


def test_third_derivative_through_three_nested_tapes(tt_backend):
    x = tt.constant(0.5)
    with tt.GradientTape() as t3:
        t3.watch(x)
        with tt.GradientTape() as t2:
            with tt.GradientTape() as t1:
                t1.watch(x)
                y = tt.sin(x) * x * x
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    d3 = t3.gradient(d2, x)
    s, c = np.sin(0.5), np.cos(0.5)
    want = [2 * 0.5 * s + 0.25 * c, 2 * s + 4 * 0.5 * c - 0.25 * s,
            6 * c - 6 * 0.5 * s - 0.25 * c]
    np.testing.assert_allclose([value(d1), value(d2), value(d3)], want, rtol=1e-5)


def test_python_control_flow_records_the_branch_taken(tt_backend):
    def f(x):
        if x < 0:
            return -x * 2.0
        y = x
        while float(y) < 20.0:  # x = 3: y = x * x * x
            y = y * x
        return y

    for x0, want in ((3.0, 27.0), (-2.0, -2.0)):
        x = tt.constant(x0)
        with tt.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        assert value(tape.gradient(y, x)) == want


def test_long_chain_records_and_differentiates_without_recursion(tt_backend):
    n = 10_000
    x = tt.constant(1.0)
    start = time.perf_counter()
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = x
        for _ in range(n):
            y = y * 1.0001
    g = tape.gradient(y, x)
    elapsed = time.perf_counter() - start
    assert n > sys.getrecursionlimit()
    np.testing.assert_allclose(value(g), 1.0001 ** n, rtol=1e-3)
    assert elapsed < 30.0, f"10,000-op chain took {elapsed:.1f} s"


def test_tapes_record_only_their_own_thread(tt_backend):
    x = tt.constant(2.0)
    ready, done = threading.Event(), threading.Event()
    seen = {}

    def other_thread():
        ready.wait()
        seen["y"] = x * x  # runs while the main thread's tape records
        done.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with tt.GradientTape() as tape:
        tape.watch(x)
        ready.set()
        done.wait(10)
        mine = x * 3.0
    worker.join()
    g_other, g_mine = tape.gradient([seen["y"], mine], [x, x])
    assert value(g_other) == 3.0  # only `mine` was recorded
    assert value(g_mine) == 3.0


def test_threads_each_have_their_own_tapes():
    results = {}

    def work(k):
        x = tt.constant(float(k))
        with tt.GradientTape() as tape:
            tape.watch(x)
            y = x * x * x
            time.sleep(0.01)
        results[k] = value(tape.gradient(y, x))

    threads = [threading.Thread(target=work, args=(k,)) for k in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: 3.0 * k * k for k in (1, 2, 3, 4)}


# -- debug_nans --------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_debug_nans_forward_raises_naming_the_op(debug_nans):
    with pytest.raises(FloatingPointError, match="^log:"):
        tt.log(tt.constant(-1.0))
    with pytest.raises(FloatingPointError, match="^subtract:"):
        tt.constant([np.inf]) - np.inf
    x = tt.constant([1.0, -1.0])
    with tt.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(FloatingPointError, match="^sqrt:"):
            tt.sqrt(x)
    # NaN in, NaN out is not reported; the library keeps working afterwards
    assert np.isnan(value(tt.log(tt.constant(np.nan))))
    assert value(tt.exp(tt.constant(0.0))) == 1.0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_debug_nans_backward_raises(debug_nans, tt_backend):
    x = tt.constant(0.0)
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.sqrt(x) * 0.0  # forward is finite; d/dx = 0 * inf is NaN
    with pytest.raises(FloatingPointError, match="in the gradient of sqrt"):
        tape.gradient(y, x)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nans_pass_through_when_debug_nans_is_off(tt_backend):
    assert not tt.config.debug_nans
    x = tt.constant(-1.0)
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = tt.log(x) + tt.sqrt(x)
    assert np.isnan(value(y)) and np.isnan(value(tape.gradient(y, x)))


def test_a_variable_returned_as_it_is_has_gradient_one(tt_backend):
    """TensorFlow's guide: result = v0 (no operation) gives d result / d v0 = 1."""
    x, v0, v1 = tt.constant(1.0), tt.Variable(2.0), tt.Variable(2.0)
    with tt.GradientTape(persistent=True) as tape:
        tape.watch(x)
        result = v0 if float(x) > 0.0 else v1 ** 2
        both = v0 * 3.0
    dv0, dv1 = tape.gradient(result, [v0, v1])
    assert value(dv0) == 1.0 and dv1 is None
    assert value(tape.gradient([result, both], v0)) == 4.0
    assert value(tape.gradient(result, v0, output_gradients=tt.constant(5.0))) == 5.0
    assert value(tape.gradient(x, x)) == 1.0


def test_unconnected_gradients_takes_tensorflows_enum(tt_backend):
    x, free = tt.Variable(np.ones(3)), tt.Variable(2.0)
    with tt.GradientTape(persistent=True) as tape:
        y = tt.reduce_sum(x * x)
    zero = tt.UnconnectedGradients.ZERO
    gx, gfree = tape.gradient(y, [x, free], unconnected_gradients=zero)
    np.testing.assert_allclose(value(gx), [2.0, 2.0, 2.0])
    assert value(gfree) == 0.0
    assert value(tape.jacobian(y, free, unconnected_gradients=zero)) == 0.0
    assert tape.gradient(y, free, unconnected_gradients=tt.UnconnectedGradients.NONE) is None
    for op in (tape.gradient, tape.jacobian):
        with pytest.raises(ValueError, match="unconnected_gradients must be"):
            op(y, free, unconnected_gradients="zeros")

"""Variables passed as arguments to tt.function: state bound per call, keyed by shape, dtype
and trainable flag (one trace for every Variable of a signature), updated in place, in
program order, in both tiers; transforms, tapes and optimizers see them as Variables."""
import pickle

import numpy as np
import pytest

import tracer as tt

ONES = np.ones(2, np.float32)


def _update_py(v, x):
    before = v * 1.0
    v.assign_add(x)
    mid = v + 0.0                       # a later read sees the update
    v.assign_sub(tt.constant([0.5, 0.5]))
    return before, mid, v               # a Variable returned: its value at the end


_update = tt.function(_update_py)


def test_updates_in_place_in_program_order_one_trace_for_two_variables(tt_backend):
    update = tt.function(_update_py)
    v, w = tt.Variable([1.0, 2.0]), tt.Variable([10.0, 20.0])
    buf = v._tensor._value
    before, mid, end = update(v, tt.constant(ONES))
    assert v._tensor._value is buf                          # updated in place
    np.testing.assert_array_equal(before.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(mid.numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(end.numpy(), [1.5, 2.5])
    np.testing.assert_array_equal(v.numpy(), [1.5, 2.5])
    update(w, tt.constant(ONES))
    np.testing.assert_array_equal(w.numpy(), [10.5, 20.5])
    np.testing.assert_array_equal(v.numpy(), [1.5, 2.5])    # untouched by w's call
    update(v, tt.constant(ONES))
    np.testing.assert_array_equal(v.numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(end.numpy(), [1.5, 2.5])  # results are snapshots
    assert update.trace_count == 1
    if tt_backend == "compiled":
        return                  # signatures do not depend on the tier: checked once
    update(tt.Variable([1.0, 2.0], dtype=tt.float64), tt.constant(ONES))
    update(tt.Variable([1.0, 2.0], trainable=False), tt.constant(ONES))
    assert update.trace_count == 3                         # dtype, trainable: new keys


def test_same_variable_twice_and_in_structures_and_also_captured(tt_backend):
    @tt.function
    def pair(a, bs):
        a.assign_add(tt.constant(ONES))
        bs["b"].assign(bs["b"] * 2.0)
        return a + bs["b"]

    v, w = tt.Variable([1.0, 2.0]), tt.Variable([10.0, 20.0])
    np.testing.assert_array_equal(pair(v, {"b": v}).numpy(), [8.0, 12.0])
    np.testing.assert_array_equal(v.numpy(), [4.0, 6.0])
    np.testing.assert_array_equal(pair(v, {"b": w}).numpy(), [25.0, 47.0])
    np.testing.assert_array_equal(w.numpy(), [20.0, 40.0])
    assert pair.trace_count == 2                 # aliased and distinct: two signatures
    pair(w, {"b": v})
    assert pair.trace_count == 2

    c = tt.Variable([1.0, 1.0])

    @tt.function
    def with_capture(p):
        p.assign_add(c)
        c.assign(c * 3.0)
        return p + c

    np.testing.assert_array_equal(with_capture(c).numpy(), [12.0, 12.0])    # p is c
    np.testing.assert_array_equal(c.numpy(), [6.0, 6.0])
    d = tt.Variable([1.0, 1.0])
    np.testing.assert_array_equal(with_capture(d).numpy(), [25.0, 25.0])
    np.testing.assert_array_equal(d.numpy(), [7.0, 7.0])


def _loss(v, x):
    return tt.reduce_sum(v * v * x)


def test_grad_and_tapes_with_respect_to_variable_arguments(tt_backend):
    v, x = tt.Variable([1.0, 2.0]), tt.constant([3.0, 4.0])
    np.testing.assert_allclose(tt.grad(_loss)(v, x).numpy(), [6.0, 16.0])
    val, (gv, gx) = tt.value_and_grad(_loss, argnums=(0, 1))(v, x)
    np.testing.assert_allclose([float(val), *gv.numpy(), *gx.numpy()],
                               [19.0, 6.0, 16.0, 1.0, 4.0])

    @tt.function
    def inside(v, frozen, x):
        with tt.GradientTape() as tape:          # watches the trainable Variables read
            y = tt.reduce_sum(v * frozen * x)
        return tape.gradient(y, [v, frozen])

    g, none = inside(v, tt.Variable([2.0, 2.0], trainable=False), x)
    np.testing.assert_allclose(g.numpy(), [6.0, 8.0])
    assert none is None
    with tt.GradientTape() as tape:                 # a tape around the compiled call
        y = tt.function(_loss)(v, x)
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), [6.0, 16.0])


def test_vmap_jvp_and_nested_functions_of_variable_arguments(tt_backend):
    v = tt.Variable([1.0, 2.0])
    xs = tt.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(tt.vmap(lambda x, v: x * v, in_axes=(0, None))(xs, v).numpy(),
                               [[1.0, 4.0], [3.0, 8.0]])
    y, dy = tt.jvp(lambda v: v * v, (v,), (tt.constant(ONES),))
    np.testing.assert_allclose(dy.numpy(), [2.0, 4.0])

    @tt.function
    def inner(a, d):
        a.assign_add(d)
        return a * 1.0

    @tt.function
    def outer(a, b):                # its stand-ins are passed on to another tt.function
        return inner(b, inner(a, tt.constant(ONES))) + a

    a, b = tt.Variable([1.0, 2.0]), tt.Variable([0.0, 0.0])
    np.testing.assert_array_equal(outer(a, b).numpy(), [4.0, 6.0])
    np.testing.assert_array_equal([a.numpy(), b.numpy()], [[2.0, 3.0], [2.0, 3.0]])


_X = np.array([[1.0, 2.0], [3.0, 4.0], [0.5, -1.0]], np.float32)
_Y = np.array([1.0, -1.0, 2.0], np.float32)


def _fit_loss(w, b):
    return tt.reduce_mean(tt.square(tt.reduce_sum(_X * w, axis=1) + b - _Y))


def _params():
    return tt.Variable([0.1, -0.2]), tt.Variable(0.3)


def _numpy_adam(steps, lr=0.1, b1=0.9, b2=0.999, eps=1e-7):
    """Keras's Adam on the least-squares fit, in float64 NumPy."""
    p = np.array([0.1, -0.2, 0.3])
    xb = np.concatenate([_X, np.ones((3, 1))], axis=1).astype(np.float64)
    m, v = np.zeros(3), np.zeros(3)
    for t in range(1, steps + 1):
        g = 2 * xb.T @ (xb @ p - _Y) / len(_Y)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        p = p - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
    return p


def test_optimizers_update_variable_arguments(tt_backend):
    opt = tt.optimizers.Adam(0.1)

    @tt.function
    def keras_step(w, b):
        with tt.GradientTape() as tape:
            loss = _fit_loss(w, b)
        opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
        return loss

    w, b = _params()
    for _ in range(3):
        keras_step(w, b)
    np.testing.assert_allclose([*w.numpy(), b.numpy()], _numpy_adam(3), rtol=1e-4,
                               atol=1e-5)
    assert set(opt.slots(w)) == {"momentum", "velocity"}     # the slots of w itself
    w2, b2 = _params()
    keras_step(w2, b2)                  # same trace, fresh slots for the new Variables
    assert keras_step.trace_count == 1 and opt.slots(w2) and opt.slots(w)["momentum"] \
        is not opt.slots(w2)["momentum"]

    fopt = tt.optimizers.adam(0.1)

    @tt.function
    def functional_step(params, state):
        loss, grads = tt.value_and_grad(lambda p: _fit_loss(*p))(params)
        updates, state = fopt.update(grads, state, params)
        for p, new in zip(params, tt.optimizers.apply_updates(params, updates)):
            p.assign(new)
        return loss, state

    params = list(_params())
    state = fopt.init(params)
    for _ in range(3):
        loss, state = functional_step(params, state)
    assert functional_step.trace_count == 1 and int(state.count) == 3
    assert float(_fit_loss(*params)) < float(loss) < 1.25


def test_errors_name_the_argument_and_the_library_keeps_working():
    v = tt.Variable([1.0, 2.0])

    @tt.function
    def wrong_shape(v):
        v.assign(tt.constant([1.0, 2.0, 3.0]))
        return v * 1.0

    with pytest.raises(ValueError, match=r"Variable.assign in wrong_shape: value has shape "
                                         r"\(3,\) and dtype float32 but argument 'v' "
                                         r"\(position 0\) of wrong_shape has shape \(2,\)"):
        wrong_shape(v)
    kept = []

    @tt.function
    def keeps(v):
        kept.append(v)
        return float(v) if v.shape == () else v * 2.0

    with pytest.raises(tt.TracingError, match="argument 'v' .* only known when the compiled"):
        keeps(tt.Variable(1.0))
    np.testing.assert_array_equal(keeps(v).numpy(), [2.0, 4.0])
    with pytest.raises(tt.TracingError, match="used after keeps was traced"):
        kept[-1].numpy()
    with pytest.raises(tt.TracingError, match="used after keeps was traced"):
        kept[-1].assign([0.0, 0.0])
    np.testing.assert_array_equal(_update(v, tt.constant(ONES))[2].numpy(), [1.5, 2.5])


def test_pickled_function_rebinds_variables():
    f = pickle.loads(pickle.dumps(_update))
    assert f is _update                          # module-level: by reference
    g = pickle.loads(pickle.dumps(tt.function(lambda v: v.assign_add(tt.constant(ONES)))))
    v = tt.Variable([1.0, 2.0])
    g(v)
    g(v)
    np.testing.assert_array_equal(v.numpy(), [3.0, 4.0])

"""Keras-form optimizers inside tt.function: one compiled step (a tape and
``apply_gradients``) creates its slots during the first trace, then updates every Variable
and slot in place on each call without retracing; the trajectory equals the eager one."""
import numpy as np
import pytest

import tracer as tt

OPTIMIZERS = {
    "sgd": lambda: tt.optimizers.SGD(0.1),
    "sgd_nesterov": lambda: tt.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adam_amsgrad": lambda: tt.optimizers.Adam(0.05, amsgrad=True),
    "adamw": lambda: tt.optimizers.AdamW(0.05, weight_decay=0.05),
    "rmsprop_momentum": lambda: tt.optimizers.RMSprop(0.01, momentum=0.5),
    "adagrad": lambda: tt.optimizers.Adagrad(0.1),
    "sgd_decay_clipnorm": lambda: tt.optimizers.SGD(0.1, momentum=0.5, weight_decay=0.05,
                                                    clipnorm=0.1),
    "rmsprop_centered_global_clip": lambda: tt.optimizers.RMSprop(0.01, centered=True,
                                                                  global_clipnorm=0.2),
}


def train(make, compiled, steps=20):
    rng = np.random.default_rng(0)
    w = tt.Variable(rng.standard_normal((4, 3)).astype(np.float32))
    b = tt.Variable(np.zeros(3, np.float64))
    x = tt.constant(rng.standard_normal((8, 4)).astype(np.float32))
    opt = make()

    def step(x):
        with tt.GradientTape() as tape:
            h = tt.tanh(x @ w)
            loss = tt.reduce_mean(tt.square(tt.cast(h, tt.float64) + b - 0.5))
        opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
        return loss
    run = tt.function(step) if compiled else step
    history = []
    for _ in range(steps):
        loss = run(x)
        history.append((float(loss), w.numpy().copy(), b.numpy().copy(),
                        {k: s.numpy().copy() for k, s in opt.slots(w).items()}))
    return history, opt, run


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_compiled_keras_step_matches_eager(name):
    eager, opt_e, _ = train(OPTIMIZERS[name], False)
    compiled, opt_c, run = train(OPTIMIZERS[name], True)
    assert run.trace_count == 1
    assert int(opt_c.iterations.numpy()) == int(opt_e.iterations.numpy()) == 20
    for t, (e, c) in enumerate(zip(eager, compiled)):
        np.testing.assert_allclose(c[0], e[0], rtol=1e-5, err_msg=f"loss, step {t}")
        np.testing.assert_allclose(c[1], e[1], rtol=1e-5, atol=1e-6, err_msg=f"w, step {t}")
        np.testing.assert_allclose(c[2], e[2], rtol=1e-6, atol=1e-7, err_msg=f"b, step {t}")
        assert sorted(c[3]) == sorted(e[3])
        for k in e[3]:
            np.testing.assert_allclose(c[3][k], e[3][k], rtol=1e-5, atol=1e-6,
                                       err_msg=f"slot {k}, step {t}")
    slots_b = opt_c.slots(opt_c._slots[list(opt_c._slots)[-1]][0])
    assert all(s.dtype == tt.float64 for s in slots_b.values())


def test_assigning_the_learning_rate_reaches_a_compiled_step_without_retracing():
    w = tt.Variable(np.array([1.0, -2.0], np.float32))
    w64 = tt.Variable(np.array([3.0], np.float64))
    opt = tt.optimizers.SGD(0.1)

    @tt.function
    def step():
        with tt.GradientTape() as tape:
            loss = tt.reduce_sum(w * w) + tt.reduce_sum(w64 * w64)
        opt.apply_gradients(zip(tape.gradient(loss, [w, w64]), [w, w64]))
    step()                                   # w -= 0.1 * 2w
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6], rtol=1e-6)
    opt.learning_rate = 0.0
    step()
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6], rtol=1e-6)
    opt.learning_rate = 0.25                 # w -= 0.25 * 2w: halved
    step()
    np.testing.assert_allclose(w.numpy(), [0.4, -0.8], rtol=1e-6)
    # the float64 Variable sees the float32-rounded rate, as Keras casts it
    w1 = 3.0 - 6.0 * float(np.float32(0.1))
    np.testing.assert_array_equal(w64.numpy(), [w1 - 0.25 * (2 * w1)])
    assert step.trace_count == 1 and float(opt.learning_rate) == 0.25
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1.0
    scheduled = tt.optimizers.Adam(lambda t: 0.1)
    with pytest.raises(TypeError, match="callable of the step"):
        scheduled.learning_rate = 0.5
    with pytest.raises(TypeError, match="made with a number"):
        opt.learning_rate = lambda t: 0.5


def test_weight_decay_of_variables_passed_to_a_compiled_step_follows_each_call():
    """A Variable argument is known only per call: whether it is excluded from weight decay
    is decided for the Variable actually passed, without retracing."""
    opt = tt.optimizers.SGD(0.5, weight_decay=0.1)
    keep = tt.Variable([2.0], name="keep")
    opt.exclude_from_weight_decay(var_list=[keep], var_names=["^bias"])

    @tt.function
    def step(v):
        with tt.GradientTape() as tape:
            loss = tt.reduce_sum(v * 0.0)
        opt.apply_gradients([(tape.gradient(loss, v), v)])
    decays, bias = tt.Variable([2.0], name="w"), tt.Variable([2.0], name="bias_1")
    for v in (decays, keep, bias, decays):
        step(v)
    assert step.trace_count == 1
    np.testing.assert_allclose(decays.numpy(), [2.0 * 0.95 * 0.95], rtol=1e-6)
    np.testing.assert_array_equal(keep.numpy(), [2.0])
    np.testing.assert_array_equal(bias.numpy(), [2.0])

"""tt.optimizers against NumPy transcriptions of the Keras 3 and optax update rules, step by
step over 25 steps, for float32 and float64 Variables; slots, None gradients, learning-rate
schedules, errors; the functional form inside tt.function without retracing."""
import numpy as np
import pytest

import tracer as tt

STEPS = 25
SHAPES = [((3, 2), np.float32), ((4,), np.float64)]


def grad_of(w, k):
    """A deterministic, non-linear 'gradient' of the current weights (same for both sides)."""
    return (np.sin(3 * w + k) + 0.3 * w ** 3 - 0.1).astype(w.dtype)


# -- NumPy transcriptions of Keras 3's update_step methods -----------------------------------

def keras_sgd(lr, momentum=0.0, nesterov=False):
    def step(w, g, s, t, lr_t):
        if momentum == 0:
            return w - g * lr_t, s
        m = s.get("momentum", np.zeros_like(w))
        m = m * momentum - g * lr_t
        w = w + (m * momentum - g * lr_t if nesterov else m)
        return w, {"momentum": m}
    return step


def keras_adam(beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None):
    def step(w, g, s, t, lr_t):
        if weight_decay is not None:
            w = w - w * weight_decay * lr_t
        d = w.dtype.type
        m, v = s.get("momentum", np.zeros_like(w)), s.get("velocity", np.zeros_like(w))
        b1p, b2p = d(beta_1) ** d(t + 1), d(beta_2) ** d(t + 1)
        alpha = lr_t * np.sqrt(1 - b2p) / (1 - b1p)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        out = {"momentum": m, "velocity": v}
        if amsgrad:
            v = np.maximum(s.get("velocity_hat", np.zeros_like(w)), v)
            out["velocity_hat"] = v
        return w - (m * alpha) / (np.sqrt(v) + epsilon), out
    return step


def keras_rmsprop(rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    def step(w, g, s, t, lr_t):
        vel = rho * s.get("velocity", np.zeros_like(w)) + (1 - rho) * (g * g)
        out = {"velocity": vel}
        if centered:
            avg = rho * s.get("average_gradient", np.zeros_like(w)) + (1 - rho) * g
            out["average_gradient"] = avg
            vel = vel - avg * avg
        inc = lr_t * g / np.sqrt(vel + epsilon)
        if momentum > 0:
            inc = momentum * s.get("momentum", np.zeros_like(w)) + inc
            out["momentum"] = inc
        return w - inc, out
    return step


def keras_adagrad(initial=0.1, epsilon=1e-7):
    def step(w, g, s, t, lr_t):
        acc = s.get("accumulator", np.full_like(w, initial)) + g * g
        return w - lr_t * g / np.sqrt(acc + epsilon), {"accumulator": acc}
    return step


def keras_base(step, weight_decay=None, clipnorm=None, clipvalue=None):
    """Keras 3's BaseOptimizer.apply around an update step: clip the gradient (to norm
    ``clipnorm`` or into [-clipvalue, clipvalue]), decay the weights, then update."""
    def wrapped(w, g, s, t, lr_t):
        if clipnorm is not None:
            g = g * clipnorm / np.maximum(np.sqrt(np.sum(g * g)), clipnorm)
        if clipvalue is not None:
            g = np.clip(g, -clipvalue, clipvalue)
        if weight_decay is not None:
            w = w - w * weight_decay * lr_t
        return step(w, g, s, t, lr_t)
    return wrapped


CASES = {
    "sgd": (lambda: tt.optimizers.SGD(0.05), keras_sgd(0.05), 0.05),
    "sgd_momentum": (lambda: tt.optimizers.SGD(0.05, momentum=0.9), keras_sgd(0.05, 0.9), 0.05),
    "sgd_nesterov": (lambda: tt.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
                     keras_sgd(0.05, 0.8, True), 0.05),
    "adam": (lambda: tt.optimizers.Adam(0.02), keras_adam(), 0.02),
    "adam_amsgrad": (lambda: tt.optimizers.Adam(0.02, beta_1=0.8, amsgrad=True),
                     keras_adam(beta_1=0.8, amsgrad=True), 0.02),
    "adamw": (lambda: tt.optimizers.AdamW(0.02, weight_decay=0.1),
              keras_adam(weight_decay=0.1), 0.02),
    "rmsprop": (lambda: tt.optimizers.RMSprop(0.01), keras_rmsprop(), 0.01),
    "rmsprop_momentum": (lambda: tt.optimizers.RMSprop(0.01, rho=0.8, momentum=0.5),
                         keras_rmsprop(0.8, 0.5), 0.01),
    "adagrad": (lambda: tt.optimizers.Adagrad(0.1, initial_accumulator_value=0.2),
                keras_adagrad(0.2), 0.1),
    # Keras 3's base options, on every optimizer
    "sgd_momentum_decay_clipnorm": (
        lambda: tt.optimizers.SGD(0.05, momentum=0.9, weight_decay=0.1, clipnorm=0.3),
        keras_base(keras_sgd(0.05, 0.9), weight_decay=0.1, clipnorm=0.3), 0.05),
    "adam_decay_clipvalue": (
        lambda: tt.optimizers.Adam(0.02, weight_decay=0.05, clipvalue=0.2),
        keras_base(keras_adam(), weight_decay=0.05, clipvalue=0.2), 0.02),
    "adamw_clipnorm": (lambda: tt.optimizers.AdamW(0.02, weight_decay=0.1, clipnorm=0.5),
                       keras_base(keras_adam(weight_decay=0.1), clipnorm=0.5), 0.02),
    "rmsprop_centered": (lambda: tt.optimizers.RMSprop(0.01, centered=True),
                         keras_rmsprop(centered=True), 0.01),
    "rmsprop_centered_momentum_decay": (
        lambda: tt.optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True,
                                      weight_decay=0.2),
        keras_base(keras_rmsprop(0.8, 0.5, centered=True), weight_decay=0.2), 0.01),
    "adagrad_clipvalue": (lambda: tt.optimizers.Adagrad(0.1, clipvalue=0.25),
                          keras_base(keras_adagrad(), clipvalue=0.25), 0.1),
}


def reference_run(step, lr, inits, steps=STEPS):
    ws = [w.copy() for w in inits]
    states = [{} for _ in ws]
    history = []
    for t in range(steps):
        for i, w in enumerate(ws):
            lr_t = w.dtype.type(np.float32(lr(t) if callable(lr) else lr))
            ws[i], states[i] = step(w, grad_of(w, i), states[i], t, lr_t)
        history.append(([w.copy() for w in ws], [dict(s) for s in states]))
    return history


def inits():
    rng = np.random.default_rng(3)
    return [rng.uniform(-1.5, 1.5, s).astype(d) for s, d in SHAPES]


def check_against(history, variables, opt, t):
    want_ws, want_states = history[t]
    for v, w, st in zip(variables, want_ws, want_states):
        rtol = 2e-5 if w.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(v.numpy(), w, rtol=rtol, atol=rtol,
                                   err_msg=f"{opt.name} step {t + 1}")
        slots = opt.slots(v)
        assert sorted(slots) == sorted(st), (sorted(slots), sorted(st))
        for name, ref in st.items():
            assert slots[name].dtype == v.dtype
            np.testing.assert_allclose(slots[name].numpy(), ref, rtol=rtol, atol=rtol,
                                       err_msg=f"{opt.name} slot {name} step {t + 1}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_trajectory_eager(name):
    make, step, lr = CASES[name]
    opt = make()
    variables = [tt.Variable(w) for w in inits()]
    history = reference_run(step, lr, inits())
    for t in range(STEPS):
        grads = [grad_of(v.numpy(), i) for i, v in enumerate(variables)]
        opt.apply_gradients(zip(grads, variables))
        assert int(opt.iterations.numpy()) == t + 1
        check_against(history, variables, opt, t)
    assert opt.iterations.dtype == tt.int64


def test_gradients_from_a_tape_and_none_gradients_are_skipped():
    w, unused = tt.Variable([1.0, -2.0]), tt.Variable([5.0])
    opt = tt.optimizers.SGD(0.1, momentum=0.5)
    with tt.GradientTape() as tape:
        loss = tt.reduce_sum(w * w)
    grads = tape.gradient(loss, [w, unused])
    assert grads[1] is None
    opt.apply_gradients(zip(grads, [w, unused]))
    np.testing.assert_allclose(w.numpy(), [0.8, -1.6], rtol=1e-6)
    np.testing.assert_array_equal(unused.numpy(), [5.0])
    assert opt.slots(unused) == {} and set(opt.slots(w)) == {"momentum"}
    opt.apply([None], [unused])           # nothing to do: not a step
    assert int(opt.iterations.numpy()) == 1


def test_learning_rate_callable_sees_the_step_count():
    seen = []

    def schedule(step):
        seen.append(int(step))
        return 0.1 / (1.0 + tt.cast(step, tt.float32))
    lr = lambda t: 0.1 / (1.0 + t)
    opt = tt.optimizers.Adam(schedule)
    variables = [tt.Variable(w) for w in inits()]
    history = reference_run(keras_adam(), lr, inits(), steps=6)
    for t in range(6):
        opt.apply([grad_of(v.numpy(), i) for i, v in enumerate(variables)], variables)
        check_against(history, variables, opt, t)
    assert seen == list(range(6))


def test_slots_are_lazy_per_variable_and_errors_name_the_problem():
    opt = tt.optimizers.Adam()
    a, b = tt.Variable(np.ones(2, np.float64)), tt.Variable(np.ones((2, 2), np.float32))
    opt.apply([np.ones(2)], [a])
    assert opt.slots(b) == {} and opt.slots(a)["velocity"].dtype == tt.float64
    opt.apply([np.ones(2), np.ones((2, 2))], [a, b])
    assert opt.slots(b)["momentum"].shape == (2, 2)
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        opt.apply([np.ones(3)], [a])
    with pytest.raises(TypeError, match="Variable"):
        opt.apply([np.ones(2)], [tt.constant([1.0, 2.0])])
    with pytest.raises(ValueError, match="pair up"):
        opt.apply([np.ones(2), np.ones(2)], [a])
    with pytest.raises(ValueError, match="momentum"):
        tt.optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        tt.optimizers.RMSprop(learning_rate=-1.0)
    assert int(opt.iterations.numpy()) == 2


# -- functional (optax) forms ---------------------------------------------------------------

def optax_sgd(lr, momentum=None, nesterov=False):
    def update(g, state, count):
        if momentum is None:
            return -lr * g, state
        tr = g + momentum * state
        u = g + momentum * tr if nesterov else tr
        return -lr * u, tr
    return update


def optax_adam(lr, b1=0.9, b2=0.999, eps=1e-8):
    def update(g, state, count):
        mu, nu = state if state is not None else (np.zeros_like(g), np.zeros_like(g))
        mu = (1 - b1) * g + b1 * mu
        nu = (1 - b2) * g * g + b2 * nu
        c = count + 1
        mu_hat = mu / (1 - g.dtype.type(b1) ** g.dtype.type(c))
        nu_hat = nu / (1 - g.dtype.type(b2) ** g.dtype.type(c))
        return -lr * (mu_hat / (np.sqrt(nu_hat) + eps)), (mu, nu)
    return update


FUNCTIONAL = {
    "sgd": (lambda: tt.optimizers.sgd(0.05), optax_sgd(0.05)),
    "sgd_momentum": (lambda: tt.optimizers.sgd(0.05, momentum=0.9), optax_sgd(0.05, 0.9)),
    "sgd_nesterov": (lambda: tt.optimizers.sgd(0.05, 0.9, nesterov=True),
                     optax_sgd(0.05, 0.9, True)),
    "adam": (lambda: tt.optimizers.adam(0.02), optax_adam(0.02)),
}


def run_reference_functional(update, params):
    ps = {k: v.copy() for k, v in params.items()}
    states = {k: (np.zeros_like(v) if "adam" not in repr(update) else None)
              for k, v in ps.items()}
    out = []
    for t in range(STEPS):
        for i, k in enumerate(sorted(ps)):
            u, states[k] = update(grad_of(ps[k], i), states[k], t)
            ps[k] = (ps[k] + u).astype(ps[k].dtype)
        out.append({k: v.copy() for k, v in ps.items()})
    return out


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
def test_functional_trajectory(name, compiled):
    make, update = FUNCTIONAL[name]
    opt = make()
    w0 = inits()
    params = {"a": tt.constant(w0[0]), "b": tt.constant(w0[1])}
    want = run_reference_functional(update, {"a": w0[0], "b": w0[1]})

    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return tt.optimizers.apply_updates(params, updates), state
    run = tt.function(step) if compiled else step
    state = opt.init(params)
    for t in range(STEPS):
        grads = {k: grad_of(params[k].numpy(), i) for i, k in enumerate(sorted(params))}
        params, state = run(params, state, grads)
        for k in params:
            rtol = 2e-5 if params[k].dtype == tt.float32 else 1e-12
            np.testing.assert_allclose(params[k].numpy(), want[t][k], rtol=rtol, atol=rtol,
                                       err_msg=f"{name} step {t + 1} leaf {k}")
    assert int(state.count.numpy()) == STEPS and state.count.dtype == tt.int32
    if compiled:
        assert run.trace_count == 1


def test_functional_with_grad_and_schedule_in_one_compiled_step():
    opt = tt.optimizers.adam(lambda count: 0.3 * 0.97 ** tt.cast(count, tt.float32))
    params = [tt.constant(np.array([1.0, -1.0], np.float32)), tt.constant(np.float32(2.0))]
    loss = lambda p: tt.reduce_sum(tt.square(p[0] - 3.0)) + p[1] ** 2

    @tt.function
    def train(params, state):
        updates, state = opt.update(tt.grad(loss)(params), state)
        return tt.optimizers.apply_updates(params, updates), state
    state = opt.init(params)
    first = float(loss(params))
    for _ in range(60):
        params, state = train(params, state)
    assert train.trace_count == 1 and float(loss(params)) < 0.2 * first
    with pytest.raises(ValueError, match="same structure"):
        opt.update([np.ones(2)], state)


def test_numpy_array_operands_on_the_left_keep_variables_differentiable():
    w, b = tt.Variable(np.ones((2, 3), np.float32)), tt.Variable(np.zeros(3, np.float32))
    x = np.ones((4, 2), np.float32)
    with tt.GradientTape() as tape:
        loss = tt.reduce_sum(x @ w + b) + tt.reduce_sum(np.float32(2.0) * b)
    gw, gb = tape.gradient(loss, [w, b])
    np.testing.assert_array_equal(gw.numpy(), np.full((2, 3), 4.0))
    np.testing.assert_array_equal(gb.numpy(), np.full(3, 6.0))


def test_global_clipnorm_scales_all_gradients_together():
    a, b = tt.Variable([3.0, 0.0]), tt.Variable(np.array([4.0], np.float64))
    opt = tt.optimizers.SGD(1.0, global_clipnorm=1.0)
    opt.apply([np.array([3.0, 0.0], np.float32), np.array([4.0])], [a, b])  # norm 5
    np.testing.assert_allclose(a.numpy(), [3.0 - 0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(b.numpy(), [4.0 - 0.8], rtol=1e-12)
    opt.apply([np.array([0.3, 0.0], np.float32), np.array([0.4])], [a, b])  # within: as is
    np.testing.assert_allclose(a.numpy(), [2.1, 0.0], rtol=1e-6)
    opt.apply([np.zeros(2, np.float32), np.zeros(1)], [a, b])               # zero norm
    np.testing.assert_allclose(a.numpy(), [2.1, 0.0], rtol=1e-6)
    # a gradient clipped alone to clipnorm keeps its direction; zero stays zero
    c = tt.Variable([0.0, 0.0, 0.0])
    tt.optimizers.SGD(1.0, clipnorm=2.0).apply([np.array([0.0, 6.0, 8.0]), ], [c])
    np.testing.assert_allclose(c.numpy(), [0.0, -1.2, -1.6], rtol=1e-6)


def test_weight_decay_exclusions_variables_and_build():
    a, b = tt.Variable([1.0, 2.0], name="kernel"), tt.Variable([1.0], name="bias")
    c = tt.Variable([4.0], name="scale")
    opt = tt.optimizers.SGD(0.5, weight_decay=0.1)
    opt.exclude_from_weight_decay(var_list=[c], var_names=["bias"])
    zero = np.zeros(2, np.float32)
    opt.apply([zero, np.zeros(1, np.float32), np.zeros(1, np.float32)], [a, b, c])
    np.testing.assert_allclose(a.numpy(), [0.95, 1.9], rtol=1e-6)      # w -= w * 0.1 * 0.5
    np.testing.assert_array_equal(b.numpy(), [1.0])
    np.testing.assert_array_equal(c.numpy(), [4.0])
    with pytest.raises(ValueError, match="before the optimizer's first step"):
        opt.exclude_from_weight_decay(var_names=["kernel"])
    # variables: iterations, the learning rate, then the slots by name (Keras's order)
    adam = tt.optimizers.Adam(0.1)
    assert [v.name for v in adam.variables] == ["adam/iterations:0", "adam/learning_rate:0"]
    adam.build([a, b])
    assert [v.name for v in adam.variables[2:]] == [
        "adam/kernel/momentum:0", "adam/bias/momentum:0", "adam/kernel/velocity:0",
        "adam/bias/velocity:0"]
    assert all(float(np.abs(v.numpy()).sum()) == 0 for v in adam.variables[2:])
    assert len(tt.optimizers.Adam(lambda step: 0.1).variables) == 1
    with pytest.raises(TypeError, match="build: expected tt.Variable"):
        adam.build([np.ones(2)])


def test_base_option_errors_name_the_option():
    with pytest.raises(ValueError, match="only one of `clipnorm`, `clipvalue` and "
                                         "`global_clipnorm`.*clipnorm=1.0, clipvalue=2.0"):
        tt.optimizers.Adam(clipnorm=1.0, clipvalue=2.0)
    with pytest.raises(ValueError, match="weight_decay must be None or a finite number"):
        tt.optimizers.SGD(weight_decay=-0.1)
    with pytest.raises(ValueError, match="clipnorm must be None or a finite number"):
        tt.optimizers.RMSprop(clipnorm=float("nan"))
    with pytest.raises(ValueError, match="weight_decay must be a number for AdamW"):
        tt.optimizers.AdamW(weight_decay=None)

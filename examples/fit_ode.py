"""Fit the four rates of a Lotka-Volterra predator-prey model to noisy observations.

    prey' = a prey - b prey pred,    pred' = c prey pred - d pred

The trajectory is integrated with classic Runge-Kutta (RK4) steps inside ``tt.scan``, so
the whole simulation (and its gradient, a reverse scan) is one compiled native loop
whatever the number of steps. Each training step is one ``tt.function`` call: it
differentiates the loss with a tape and updates the parameters and Adam's moments, all
``tt.Variable``s, in place.

Run: python examples/fit_ode.py [steps] [output.png]
Saves a plot of data vs fitted trajectory when matplotlib is installed (the optional
extra `plot`: pip install -e .[plot]); without it the fit still runs and is checked.
"""
import sys

import numpy as np

import tracer as tt

DT, N = 0.1, 150                      # 15 time units in 150 RK4 steps
TRUE = np.array([1.0, 0.4, 0.1, 0.4])  # a, b, c, d


def rates(state, p):
    prey, pred = state[0], state[1]
    return tt.stack([p[0] * prey - p[1] * prey * pred, p[2] * prey * pred - p[3] * pred])


def simulate(params, state0):
    """The state after every RK4 step, shape (N, 2)."""
    def rk4(state, _):
        k1 = rates(state, params)
        k2 = rates(state + 0.5 * DT * k1, params)
        k3 = rates(state + 0.5 * DT * k2, params)
        k4 = rates(state + DT * k3, params)
        state = state + DT / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return state, state
    _, path = tt.scan(rk4, state0, length=N)
    return path


def main(steps=300, out="lotka_volterra_fit.png"):
    rng = np.random.default_rng(0)
    state0 = tt.constant([10.0, 5.0], tt.float64)
    clean = simulate(tt.constant(TRUE), state0).numpy()
    data = tt.constant(clean * (1 + 0.05 * rng.normal(size=clean.shape)))

    log_p = tt.Variable(np.log([0.7, 0.3, 0.15, 0.6]), name="log_rates")
    m, v = tt.Variable(np.zeros(4)), tt.Variable(np.zeros(4))
    t = tt.Variable(0.0, dtype=tt.float64)

    @tt.function
    def train_step(lr):
        with tt.GradientTape() as tape:
            path = simulate(tt.exp(log_p), state0)
            loss = tt.reduce_mean(tt.square(tt.log(path) - tt.log(data)))
        g = tape.gradient(loss, log_p)
        t.assign_add(1.0)                       # Adam (Kingma & Ba), in place
        m.assign(0.9 * m + 0.1 * g)
        v.assign(0.999 * v + 0.001 * g * g)
        step = lr * tt.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        log_p.assign_sub(step * m / (tt.sqrt(v) + 1e-8))
        return loss

    lr = tt.constant(0.05, tt.float64)
    for i in range(steps + 1):
        loss = train_step(lr)
        if i % 50 == 0 or i == steps:
            print(f"step {i:4d}  loss {float(loss):.5f}  rates "
                  f"{np.array2string(np.exp(log_p.numpy()), precision=3)}")
    fitted = np.exp(log_p.numpy())
    print(f"true rates  {np.array2string(TRUE, precision=3)}; traced once: "
          f"{train_step.trace_count == 1}")
    fit_path = simulate(tt.constant(fitted), state0).numpy()
    _plot(data.numpy(), fit_path, out)
    return fitted


def _plot(data, fit_path, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e .[plot]); no plot written")
        return
    time = DT * np.arange(1, N + 1)
    fig, ax = plt.subplots(figsize=(8, 4))
    for k, (name, color) in enumerate([("prey", "tab:blue"), ("predators", "tab:red")]):
        ax.plot(time, data[:, k], ".", color=color, alpha=0.5, label=f"{name} (data)")
        ax.plot(time, fit_path[:, k], "-", color=color, label=f"{name} (fit)")
    ax.set_xlabel("time")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    print(f"plot written to {out}")


if __name__ == "__main__":
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    main(steps, *sys.argv[2:3])

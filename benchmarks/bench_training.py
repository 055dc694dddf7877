"""Benchmark training steps (prints a table, never asserts).

Cases:
- conv: one step of the digits conv net of examples/train_convnet.py (batch 64, 8x8x1:
  conv 3x3x16, max-pool, conv 3x3x32, max-pool, dense 10) with Adam;
- mlp: one step of a 784-512-10 tanh MLP (batch 128, softmax cross-entropy) with Adam.

Each step is forward + gradient + Adam update. tapejit runs it eagerly on a tape with the
Keras-style ``tt.optimizers.Adam`` ("eager tape") and as one ``tt.function`` with the
functional ``tt.optimizers.adam`` ("compiled") or with Variables and the Keras-style
``tt.optimizers.Adam`` ("compiled Vars"; "compiled Vars SGD": the same with
``tt.optimizers.SGD``, the cheapest update; both update the Variables in place); peers, when importable: PyTorch eager
(``torch.optim.Adam``) and JAX ``jit`` (the same Adam written in jax.numpy). Times are
medians of cached calls.

    PYTHONPATH=. python benchmarks/bench_training.py [--quick] [--blas-threads N]

``--blas-threads N`` sets OPENBLAS_NUM_THREADS (for NumPy, so tapejit) and PyTorch's
thread count before they load: on a machine busier than its core count, threaded BLAS
spends more time waking threads than multiplying these small matrices.

Target: the compiled MLP step no slower than JAX jit.
"""
import os
import sys
import time

if "--blas-threads" in sys.argv:
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--blas-threads") + 1]

import numpy as np  # noqa: E402
from _timing import median_time  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tracer as tt  # noqa: E402

LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8


# -- data and initial parameters (NumPy, shared by every framework) -------------------------

def conv_data(rng):
    params = {"w1": rng.normal(0, 0.3, (3, 3, 1, 16)), "b1": np.zeros(16),
              "w2": rng.normal(0, 0.1, (3, 3, 16, 32)), "b2": np.zeros(32),
              "w3": rng.normal(0, 0.1, (128, 10)), "b3": np.zeros(10)}
    x, y = rng.uniform(0, 1, (64, 8, 8, 1)), rng.integers(0, 10, 64)
    return ({k: v.astype(np.float32) for k, v in params.items()},
            x.astype(np.float32), y.astype(np.int32))


def mlp_data(rng):
    params = {"w1": rng.normal(0, 0.05, (784, 512)), "b1": np.zeros(512),
              "w2": rng.normal(0, 0.05, (512, 10)), "b2": np.zeros(10)}
    x, y = rng.normal(size=(128, 784)), rng.integers(0, 10, 128)
    return ({k: v.astype(np.float32) for k, v in params.items()},
            x.astype(np.float32), y.astype(np.int32))


# -- tapejit --------------------------------------------------------------------------------

def tt_logits(case, p, x):
    if case == "mlp":
        return tt.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
    h = tt.nn.max_pool2d(tt.nn.relu(tt.nn.conv2d(x, p["w1"], 1, "SAME") + p["b1"]), 2, 2,
                         "VALID")
    h = tt.nn.max_pool2d(tt.nn.relu(tt.nn.conv2d(h, p["w2"], 1, "SAME") + p["b2"]), 2, 2,
                         "VALID")
    return tt.reshape(h, (-1, 128)) @ p["w3"] + p["b3"]


def tt_loss(case, p, x, y):
    return tt.reduce_mean(tt.nn.sparse_softmax_cross_entropy_with_logits(
        y, tt_logits(case, p, x)))


def tt_eager(case, params, x, y):
    variables = {k: tt.Variable(v) for k, v in params.items()}
    opt = tt.optimizers.Adam(LR, epsilon=EPS)
    keys = sorted(variables)

    def step():
        with tt.GradientTape() as tape:
            loss = tt_loss(case, variables, x, y)
        grads = tape.gradient(loss, [variables[k] for k in keys])
        opt.apply_gradients(zip(grads, [variables[k] for k in keys]))
    return step


def tt_compiled(case, params, x, y):
    opt = tt.optimizers.adam(LR, B1, B2, EPS)
    state = [{k: tt.constant(v) for k, v in params.items()}]
    state.append(opt.init(state[0]))

    @tt.function
    def train(p, s, x, y):
        grads = tt.grad(lambda q: tt_loss(case, q, x, y))(p)
        updates, s = opt.update(grads, s, p)
        return tt.optimizers.apply_updates(p, updates), s
    xt, yt = tt.constant(x), tt.constant(y)

    def step():
        state[0], state[1] = train(state[0], state[1], xt, yt)
    return step


def tt_compiled_variables(case, params, x, y, opt=None):
    """The Keras form compiled: Variables and ``tt.optimizers.Adam`` inside one
    ``tt.function`` (the parameters and slots are Variables updated at each call)."""
    variables = {k: tt.Variable(v) for k, v in params.items()}
    opt = opt or tt.optimizers.Adam(LR, epsilon=EPS)
    keys = sorted(variables)
    xt, yt = tt.constant(x), tt.constant(y)

    @tt.function
    def train(x, y):
        with tt.GradientTape() as tape:
            loss = tt_loss(case, variables, x, y)
        grads = tape.gradient(loss, [variables[k] for k in keys])
        opt.apply_gradients(zip(grads, [variables[k] for k in keys]))
        return loss

    return lambda: train(xt, yt)


def tt_compiled_variables_sgd(case, params, x, y):
    """As ``tt_compiled_variables`` with plain SGD."""
    return tt_compiled_variables(case, params, x, y, tt.optimizers.SGD(LR))


# -- peers ----------------------------------------------------------------------------------

def torch_eager(case, params, x, y):
    import torch
    torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count() or 1)))
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = torch.optim.Adam(list(p.values()), lr=LR, betas=(B1, B2), eps=EPS)
    xt, yt = torch.tensor(x), torch.tensor(y, dtype=torch.long)
    if case == "conv":
        xt = xt.permute(0, 3, 1, 2).contiguous()
        w1, w2 = (p[k].permute(3, 2, 0, 1) for k in ("w1", "w2"))
    F = torch.nn.functional

    def logits():
        if case == "mlp":
            return torch.tanh(xt @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        a, b = p["w1"].permute(3, 2, 0, 1), p["w2"].permute(3, 2, 0, 1)
        h = F.max_pool2d(F.relu(F.conv2d(xt, a, p["b1"], padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, b, p["b2"], padding=1)), 2)
        return h.permute(0, 2, 3, 1).reshape(-1, 128) @ p["w3"] + p["b3"]

    def step():
        opt.zero_grad()
        F.cross_entropy(logits(), yt).backward()
        opt.step()
    return step


def jax_jit(case, params, x, y):
    import jax
    import jax.numpy as jnp

    def logits(p, x):
        if case == "mlp":
            return jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        dn = ("NHWC", "HWIO", "NHWC")
        conv = lambda h, w: jax.lax.conv_general_dilated(h, w, (1, 1), "SAME",
                                                         dimension_numbers=dn)
        pool = lambda h: jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1),
                                               (1, 2, 2, 1), "VALID")
        h = pool(jax.nn.relu(conv(x, p["w1"]) + p["b1"]))
        h = pool(jax.nn.relu(conv(h, p["w2"]) + p["b2"]))
        return h.reshape(-1, 128) @ p["w3"] + p["b3"]

    def loss(p, x, y):
        lp = jax.nn.log_softmax(logits(p, x))
        return -jnp.mean(jnp.take_along_axis(lp, y[:, None], 1))

    @jax.jit
    def train(p, m, v, t, x, y):
        g = jax.grad(loss)(p, x, y)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: B1 * m + (1 - B1) * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: B2 * v + (1 - B2) * g * g, v, g)
        upd = lambda p, m, v: p - LR * (m / (1 - B1 ** t)) / (jnp.sqrt(v / (1 - B2 ** t)) + EPS)
        return jax.tree_util.tree_map(upd, p, m, v), m, v, t
    p = {k: jnp.asarray(v) for k, v in params.items()}
    zeros = {k: jnp.zeros_like(v) for k, v in p.items()}
    state = [p, zeros, zeros, jnp.zeros((), jnp.int32)]
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def step():
        state[:] = train(*state, xj, yj)
        jax.block_until_ready(state[0])
    return step


RUNNERS = [("tapejit eager tape", tt_eager), ("tapejit compiled", tt_compiled),
           ("tapejit compiled Vars", tt_compiled_variables),
           ("tapejit compiled Vars SGD", tt_compiled_variables_sgd),
           ("PyTorch eager", torch_eager), ("JAX jit", jax_jit)]


def main(quick=False):
    runs = 3 if quick else 7
    print(f"{'case':<6} {'runner':<25} {'ms/step':>9} {'vs compiled':>12}")
    for case, data in (("conv", conv_data), ("mlp", mlp_data)):
        params, x, y = data(np.random.default_rng(0))
        results = {}
        for name, make in RUNNERS:
            try:
                step = make(case, params, x, y)
            except ImportError:
                continue
            results[name] = median_time(step, runs=runs, min_seconds=0.1 if quick else 0.3)
        base = results["tapejit compiled"]
        for name, sec in results.items():
            print(f"{case:<6} {name:<25} {sec * 1e3:>9.3f} {sec / base:>11.2f}x")
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)

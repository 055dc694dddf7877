"""Train a small MLP classifier on scikit-learn's bundled digits (8x8 images, no network).

The same model is trained twice: with ``tt.grad`` (one compiled graph for forward and
backward, traced once) and with a ``GradientTape`` (eager forward, gradient graph cached).
Finally one step is timed compiled (``tt.value_and_grad``) against an eager tape step whose
gradient is never compiled (``jit_threshold`` set out of reach).

Run: python examples/train_mlp.py      (needs: pip install -e .[examples])
"""
import sys
import time

import numpy as np

import tracer as tt

try:
    from sklearn.datasets import load_digits
except ImportError:
    sys.exit("This example needs scikit-learn: pip install -e .[examples]")

HIDDEN, EPOCHS, BATCH, LR = 64, 8, 64, 0.5


def load():
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[digits.target]
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return (x[:split], y[:split]), (x[split:], y[split:])


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return [tt.constant(rng.normal(0, 0.1, (64, HIDDEN)).astype(np.float32)),
            tt.zeros((HIDDEN,)),
            tt.constant(rng.normal(0, 0.1, (HIDDEN, 10)).astype(np.float32)),
            tt.zeros((10,))]


def logits_of(params, x):
    w1, b1, w2, b2 = params
    return tt.matmul(tt.tanh(tt.matmul(x, w1) + b1), w2) + b2


def loss_fn(params, x, y):
    return tt.reduce_mean(tt.nn.softmax_cross_entropy_with_logits(y, logits_of(params, x)))


grad_step = tt.value_and_grad(loss_fn)        # traced and compiled once per batch shape


def tape_step(params, x, y):
    with tt.GradientTape() as tape:
        tape.watch(params)
        loss = loss_fn(params, x, y)
    return loss, tape.gradient(loss, params)


def accuracy(params, x, y):
    pred = np.argmax(logits_of(params, tt.constant(x)).numpy(), axis=1)
    return float(np.mean(pred == np.argmax(y, axis=1)))


def bar(done, total, width=24):
    filled = int(width * done / total)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def train(step, name, data, test):
    params = init_params()
    (x, y), n = data, len(data[0])
    batches = n // BATCH
    print(f"\n== training with {name} ==")
    for epoch in range(1, EPOCHS + 1):
        total = 0.0
        for b in range(batches):
            sl = slice(b * BATCH, (b + 1) * BATCH)
            loss, grads = step(params, tt.constant(x[sl]), tt.constant(y[sl]))
            params = [p - LR * g for p, g in zip(params, grads)]
            total += float(loss)
            print(f"\repoch {epoch} {bar(b + 1, batches)} loss {total / (b + 1):.4f}",
                  end="", flush=True)
        print(f"  test accuracy {accuracy(params, *test):.3f}")
    return params


def time_step(step, params, x, y, runs=50):
    step(params, x, y)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step(params, x, y)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main():
    data, test = load()
    train(grad_step, "tt.value_and_grad (compiled)", data, test)
    train(tape_step, "GradientTape", data, test)
    params = init_params()
    x, y = tt.constant(data[0][:BATCH]), tt.constant(data[1][:BATCH])
    compiled = time_step(grad_step, params, x, y)
    saved = tt.config.jit_threshold
    tt.config.jit_threshold = 1 << 30       # the tape's gradient stays interpreted
    try:
        interpreted = time_step(tape_step, params, x, y)
    finally:
        tt.config.jit_threshold = saved
    print(f"\none step, batch {BATCH}: compiled tt.value_and_grad {compiled * 1e3:.3f} ms, "
          f"uncompiled tape {interpreted * 1e3:.3f} ms ({interpreted / compiled:.1f}x)")


if __name__ == "__main__":
    main()

"""Train a small convolutional network on scikit-learn's bundled handwritten digits
(8x8 images, no download) with Adam inside one compiled training step.

conv 3x3 (16) -> relu -> max-pool 2 -> conv 3x3 (32) -> relu -> max-pool 2 -> dense (10).
The step (forward, gradient and the Adam update) is a ``tt.function``: traced once, then
every call runs native code. A tqdm bar shows progress, the held-out accuracy is printed,
and the training and held-out loss curves are saved to ``convnet_loss.png``.

Run: python examples/train_convnet.py [--epochs N] [--out FILE]
     (needs: pip install -e '.[examples]')
"""
import argparse
import os
import sys
import time

# This network's matrix products are small (at most 4096 x 144 times 144 x 32): one BLAS
# thread does each in well under a millisecond, while a thread pool's wake-ups can cost far
# more on a busy machine. Set before NumPy loads its BLAS; an explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import tracer as tt  # noqa: E402

try:
    import matplotlib
    from sklearn.datasets import load_digits
    from tqdm import tqdm
except ImportError:
    sys.exit("This example needs scikit-learn, tqdm and matplotlib: pip install -e '.[examples]'")

BATCH = 64


def load(seed=0):
    """Images as NHWC float32 in [0, 1], labels as int32; 80% train, 20% held out."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return (x[:split], y[:split]), (x[split:], y[split:])


def init_params(seed=0):
    """He-initialised filters and weights, zero biases."""
    rng = np.random.default_rng(seed)

    def he(*shape):
        fan_in = int(np.prod(shape[:-1]))
        return tt.constant(rng.normal(0, np.sqrt(2 / fan_in), shape).astype(np.float32))
    return {"conv1": he(3, 3, 1, 16), "b1": tt.zeros((16,)),
            "conv2": he(3, 3, 16, 32), "b2": tt.zeros((32,)),
            "dense": he(2 * 2 * 32, 10), "b3": tt.zeros((10,))}


def logits_of(p, x):
    h = tt.nn.relu(tt.nn.conv2d(x, p["conv1"], 1, "SAME") + p["b1"])
    h = tt.nn.max_pool2d(h, 2, 2, "VALID")                       # 4x4x16
    h = tt.nn.relu(tt.nn.conv2d(h, p["conv2"], 1, "SAME") + p["b2"])
    h = tt.nn.max_pool2d(h, 2, 2, "VALID")                       # 2x2x32
    return tt.reshape(h, (-1, 2 * 2 * 32)) @ p["dense"] + p["b3"]


def loss_of(p, x, y):
    return tt.reduce_mean(tt.nn.sparse_softmax_cross_entropy_with_logits(y, logits_of(p, x)))


def make_step(optimizer):
    @tt.function
    def train_step(params, state, x, y):
        loss, grads = tt.value_and_grad(loss_of)(params, x, y)
        updates, state = optimizer.update(grads, state, params)
        return tt.optimizers.apply_updates(params, updates), state, loss
    return train_step


@tt.function
def evaluate(params, x, y):
    logits = logits_of(params, x)
    loss = tt.reduce_mean(tt.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    hits = tt.equal(tt.argmax(logits, 1, output_type=tt.int32), y)
    return loss, tt.reduce_mean(tt.cast(hits, tt.float32))


def train(epochs, seed=0):
    (x, y), (xt, yt) = load(seed)
    params = init_params(seed)
    optimizer = tt.optimizers.adam(3e-3)
    state = optimizer.init(params)
    step = make_step(optimizer)
    rng = np.random.default_rng(seed)
    batches = len(x) // BATCH                    # full batches only: one compiled signature
    curves = {"train": [], "held-out": []}
    bar = tqdm(range(epochs * batches), desc="training", unit="step")
    for i in bar:
        if i % batches == 0:
            order = rng.permutation(len(x))
        idx = order[(i % batches) * BATCH:(i % batches + 1) * BATCH]
        params, state, loss = step(params, state, x[idx], y[idx])
        curves["train"].append(float(loss))
        if (i + 1) % batches == 0:
            held_loss, acc = evaluate(params, xt, yt)
            curves["held-out"].append((i + 1, float(held_loss)))
            bar.set_postfix(loss=f"{float(loss):.3f}", held_out_acc=f"{float(acc):.3f}")
    held_loss, acc = evaluate(params, xt, yt)
    return float(acc), curves, step.trace_count


def plot(curves, path):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(curves["train"], lw=0.8, alpha=0.7, label="training batch")
    steps, held = zip(*curves["held-out"])
    ax.plot(steps, held, "o-", label="held-out")
    ax.set(xlabel="step", ylabel="cross-entropy", yscale="log", title="digits conv net")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", default="convnet_loss.png")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    acc, curves, traces = train(args.epochs)
    seconds = time.perf_counter() - t0
    plot(curves, args.out)
    print(f"held-out accuracy: {acc:.4f}")
    print(f"training time: {seconds:.1f} s (compile included; the step was traced {traces}x)")
    print(f"loss curves saved to {args.out}")
    return acc


if __name__ == "__main__":
    main()

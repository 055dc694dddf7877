"""Steady-state gradients of everyday operations: tapejit next to JAX and PyTorch.

Each workload is a scalar loss of float32 arrays; every system computes its gradient with
respect to the same arguments: ``tt.function(tt.grad(f))``, ``jax.jit(jax.grad(f))``,
PyTorch's eager autograd (``loss.backward()``) and, where the gradient is short to write,
hand-written NumPy. Times are medians of several batches, the systems interleaved in one
process; peers that are not installed are skipped.

    python benchmarks/bench_ops.py [names...]
"""
import sys

import numpy as np

from _timing import median_time

RNG = np.random.default_rng(0)


def _f32(*shape, scale=1.0):
    return (RNG.normal(size=shape) * scale).astype(np.float32)


# name -> (description, argument arrays, number of differentiated leading arguments)
def _cases():
    ids = RNG.integers(0, 10_000, 4096)
    idx = RNG.integers(0, 4096, 2048)
    labels = np.eye(1000, dtype=np.float32)[RNG.integers(0, 1000, 512)]
    return {
        "xent": ("softmax cross-entropy, 512x1000 logits", [_f32(512, 1000), labels], 1),
        "layernorm": ("layer norm over 1024, 512 rows, scale and offset",
                      [_f32(512, 1024), _f32(1024), _f32(1024)], 3),
        "attention": ("softmax(q k^T / 8) v, 8 heads x 128 x 64",
                      [_f32(8, 128, 64), _f32(8, 128, 64), _f32(8, 128, 64)], 3),
        "conv": ("conv2d 3x3 SAME + relu, 16x32x32x16 -> 32 channels",
                 [_f32(16, 32, 32, 16), _f32(3, 3, 16, 32, scale=0.1)], 2),
        "maxpool": ("max_pool2d 2x2 stride 2, 16x64x64x16", [_f32(16, 64, 64, 16)], 1),
        "embedding": ("embedding lookup, 10000x128 table, 4096 ids (dense gradient)",
                      [_f32(10_000, 128), ids], 1),
        "embedding_dup": ("embedding lookup, 10000x128 table, 4096 ids of 50 distinct rows",
                          [_f32(10_000, 128), RNG.integers(0, 50, 4096)], 1),
        "gather": ("x[idx] rows, 4096x256, 2048 indices", [_f32(4096, 256), idx], 1),
        "cumsum": ("cumsum along rows, 1024x1024", [_f32(1024, 1024)], 1),
        "logsumexp": ("logsumexp over rows, 1024x1024", [_f32(1024, 1024)], 1),
        "bmm": ("batched matmul 64 x (128x128 @ 128x128)",
                [_f32(64, 128, 128), _f32(64, 128, 128)], 2),
        "variance": ("variance over axis 0, 4096x512", [_f32(4096, 512)], 1),
        "l2norm": ("l2_normalize rows, 4096x512", [_f32(4096, 512)], 1),
    }


def _losses(m):
    """The losses written once over a namespace ``m`` of the primitives they need."""
    return {
        "xent": lambda z, y: m.mean(-m.sum(y * m.log_softmax(z), -1)),
        "layernorm": lambda x, g, b: m.sum(m.tanh(
            (x - m.mean(x, -1, True)) / m.sqrt(m.var(x, -1, True) + 1e-5) * g + b)),
        "attention": lambda q, k, v: m.sum(m.matmul(
            m.softmax(m.matmul(q, m.swap(k)) * 0.125), v) ** 2),
        "conv": lambda x, w: m.sum(m.relu(m.conv(x, w)) ** 2),
        "maxpool": lambda x: m.sum(m.maxpool(x) ** 2),
        "embedding": lambda p, i: m.sum(m.take(p, i) ** 2),
        "embedding_dup": lambda p, i: m.sum(m.take(p, i) ** 2),
        "gather": lambda x, i: m.sum(m.take(x, i) ** 2),
        "cumsum": lambda x: m.sum(m.cumsum(x, 1) ** 2) * 1e-6,
        "logsumexp": lambda x: m.sum(m.logsumexp(x, 1)),
        "bmm": lambda a, b: m.sum(m.matmul(a, b) ** 2),
        "variance": lambda x: m.sum(m.var(x, 0, False)),
        "l2norm": lambda x: m.sum(m.l2n(x) * x[:, :1]),
    }


def _tt():
    import tracer as tt

    class M:
        matmul, tanh, sqrt, relu = tt.matmul, tt.tanh, tt.sqrt, tt.nn.relu
        mean = staticmethod(lambda x, a=None, k=False: tt.reduce_mean(x, a, keepdims=k))
        sum = staticmethod(lambda x, a=None: tt.reduce_sum(x, a))
        var = staticmethod(lambda x, a, k: tt.reduce_variance(x, a, keepdims=k))
        log_softmax = staticmethod(lambda z: tt.nn.log_softmax(z, axis=-1))
        softmax = staticmethod(lambda z: tt.nn.softmax(z, axis=-1))
        swap = staticmethod(lambda k: tt.transpose(k, (0, 2, 1)))
        conv = staticmethod(lambda x, w: tt.nn.conv2d(x, w, 1, "SAME"))
        maxpool = staticmethod(lambda x: tt.nn.max_pool2d(x, 2, 2, "VALID"))
        take = staticmethod(lambda p, i: tt.gather(p, i))
        cumsum = staticmethod(lambda x, a: tt.cumsum(x, axis=a))
        logsumexp = staticmethod(lambda x, a: tt.reduce_logsumexp(x, a))
        l2n = staticmethod(lambda x: tt.nn.l2_normalize(x, 1))

    def make(name, f, nargs):
        g = tt.function(tt.grad(f, argnums=tuple(range(nargs))))
        return lambda *a: g(*a)
    return M, make, lambda a: a


def _jax():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", False)

    class M:
        matmul, tanh, sqrt = jnp.matmul, jnp.tanh, jnp.sqrt
        relu = jax.nn.relu
        mean = staticmethod(lambda x, a=None, k=False: jnp.mean(x, a, keepdims=k))
        sum = staticmethod(lambda x, a=None: jnp.sum(x, a))
        var = staticmethod(lambda x, a, k: jnp.var(x, a, keepdims=k))
        log_softmax = staticmethod(lambda z: jax.nn.log_softmax(z, axis=-1))
        softmax = staticmethod(lambda z: jax.nn.softmax(z, axis=-1))
        swap = staticmethod(lambda k: jnp.swapaxes(k, 1, 2))
        conv = staticmethod(lambda x, w: jax.lax.conv_general_dilated(
            x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")))
        maxpool = staticmethod(lambda x: jax.lax.reduce_window(
            x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"))
        take = staticmethod(lambda p, i: jnp.take(p, i, axis=0))
        cumsum = staticmethod(lambda x, a: jnp.cumsum(x, axis=a))
        logsumexp = staticmethod(lambda x, a: jax.nn.logsumexp(x, a))
        l2n = staticmethod(lambda x: x / jnp.sqrt(jnp.maximum(
            jnp.sum(x * x, 1, keepdims=True), 1e-12)))

    def make(name, f, nargs):
        g = jax.jit(jax.grad(f, argnums=tuple(range(nargs))))
        return lambda *a: jax.block_until_ready(g(*a))
    return M, make, jnp.asarray


def _torch():
    import torch
    import torch.nn.functional as F

    class M:
        matmul, tanh, sqrt, relu = torch.matmul, torch.tanh, torch.sqrt, torch.relu
        mean = staticmethod(lambda x, a=None, k=False: x.mean() if a is None else
                            x.mean(a, keepdim=k))
        sum = staticmethod(lambda x, a=None: x.sum() if a is None else x.sum(a))
        var = staticmethod(lambda x, a, k: x.var(a, unbiased=False, keepdim=k))
        log_softmax = staticmethod(lambda z: F.log_softmax(z, -1))
        softmax = staticmethod(lambda z: F.softmax(z, -1))
        swap = staticmethod(lambda k: k.transpose(1, 2))
        conv = staticmethod(lambda x, w: F.conv2d(
            x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), padding=1).permute(0, 2, 3, 1))
        maxpool = staticmethod(lambda x: F.max_pool2d(x.permute(0, 3, 1, 2), 2))
        take = staticmethod(lambda p, i: p[i])
        cumsum = staticmethod(lambda x, a: torch.cumsum(x, a))
        logsumexp = staticmethod(lambda x, a: torch.logsumexp(x, a))
        l2n = staticmethod(lambda x: F.normalize(x, dim=1, eps=1e-6))

    def make(name, f, nargs):
        def step(*a):
            leaves = [x.detach().requires_grad_(True) if i < nargs else x
                      for i, x in enumerate(a)]
            f(*leaves).backward()
            return [x.grad for x in leaves[:nargs]]
        return step
    return M, make, lambda a: torch.from_numpy(np.ascontiguousarray(a))


def _softmax_rows(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _rows_grad(x, i):
    g = np.zeros_like(x)
    np.add.at(g, i, 2 * x[i])
    return g


def _reverse_cumsum(g):
    return np.cumsum(g[:, ::-1], axis=1)[:, ::-1]


# hand-written NumPy gradients (value and gradient, as the others compute both)
NUMPY = {
    "xent": lambda z, y: (_softmax_rows(z) * y.sum(-1, keepdims=True) - y) / len(z),
    "logsumexp": lambda x: _softmax_rows(x),
    "gather": _rows_grad,
    "embedding": _rows_grad,
    "embedding_dup": _rows_grad,
    "cumsum": lambda x: _reverse_cumsum(2e-6 * np.cumsum(x, axis=1)),
    "bmm": lambda a, b: (lambda c: (c @ b.transpose(0, 2, 1), a.transpose(0, 2, 1) @ c))(
        2 * (a @ b)),
    "variance": lambda x: 2 * (x - x.mean(0)) / len(x),
}


def _systems():
    out = {"tapejit": _tt}
    for name, fn, mod in (("jax", _jax, "jax"), ("torch", _torch, "torch")):
        try:
            __import__(mod)
        except ImportError:
            continue
        out[name] = fn
    return out


def main(names):
    cases = _cases()
    names = names or list(cases)
    systems = {k: v() for k, v in _systems().items()}
    peers = ["numpy"] + [k for k in systems if k != "tapejit"]
    print(f"{'workload':<11} {'tapejit ms':>10} " +
          " ".join(f"{k + ' ms':>9} {'tt/' + k:>8}" for k in peers))
    for name in names:
        desc, arrays, nargs = cases[name]
        calls = {}
        for sys_name, (m, make, conv) in systems.items():
            f = _losses(m)[name]
            step = make(name, f, nargs)
            args = [conv(a) for a in arrays]
            calls[sys_name] = lambda step=step, args=args: step(*args)
        if name in NUMPY:
            calls["numpy"] = lambda f=NUMPY[name], args=arrays: f(*args)
        times = {k: [] for k in calls}
        for _ in range(3):                  # interleaved: the machine's state is shared
            for k, c in calls.items():
                times[k].append(median_time(c, runs=3))
        med = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
        cols = " ".join(f"{med[k]:9.3f} {med['tapejit'] / med[k]:8.2f}" if k in med else
                        f"{'-':>9} {'-':>8}" for k in peers)
        print(f"{name:<11} {med['tapejit']:10.3f} {cols}   ({desc})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

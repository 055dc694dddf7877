"""A new batch size of a compiled function runs natively from its first call, compiling
nothing; outputs of both tiers are owned arrays."""
import numpy as np

import runtime
import tracer as tt


class _setting:
    def __init__(self, **values):
        self.values = values

    def __enter__(self):
        self.saved = {k: getattr(tt.config, k) for k in self.values}
        tt.config.update(**self.values)

    def __exit__(self, *exc):
        tt.config.update(**self.saved)


def _step(w, x):
    return tt.reduce_sum(tt.tanh(tt.matmul(x, w)) * 0.5, axis=-1)


def test_new_batch_size_runs_natively_at_once_without_compiling():
    rng = np.random.default_rng(0)
    w = tt.constant(rng.normal(size=(6, 5)).astype(np.float32))
    f = tt.function(_step)
    with _setting(jit_threshold=2):
        x = tt.constant(rng.normal(size=(8, 6)).astype(np.float32))
        for _ in range(3):
            f(w, x)
        assert all(e.exe.native is not None for e in f._entries.values())
        before = runtime.cache_stats()["compiles"]
        for batch in (1, 3, 17):
            xb = tt.constant(rng.normal(size=(batch, 6)).astype(np.float32))
            got = f(w, xb)                     # first call at this batch size
            entry = f._entries[((w.shape, w.dtype), (xb.shape, xb.dtype))]
            assert entry.exe.native is not None
            expected = np.sum(np.tanh(xb.numpy() @ w.numpy()) * 0.5, axis=-1)
            np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)
        assert runtime.cache_stats()["compiles"] == before


def test_interpreted_setting_is_respected_for_new_shapes():
    rng = np.random.default_rng(1)
    w = tt.constant(rng.normal(size=(4, 3)).astype(np.float32))
    f = tt.function(_step)
    with _setting(jit_threshold=0):
        f(w, tt.constant(np.ones((2, 4), np.float32)))
    with _setting(jit_threshold=1 << 30):
        xb = tt.constant(np.ones((5, 4), np.float32))
        f(w, xb)
        entry = f._entries[((w.shape, w.dtype), (xb.shape, xb.dtype))]
        assert entry.exe.native is None


def test_outputs_are_owned_in_both_tiers():
    # an input passed through (immutable tensors may share it), a view of it, and the
    # same value twice
    f = tt.function(lambda x: (x, tt.transpose(x), tt.exp(x), tt.exp(x)))
    for threshold in (0, 1 << 30):
        with _setting(jit_threshold=threshold):
            x = tt.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
            outs = f(x)
            arrays = [o.numpy() for o in outs]
            for i, a in enumerate(arrays):
                for b in arrays[i + 1:]:
                    assert not np.shares_memory(a, b)
            assert not np.shares_memory(arrays[1], x.numpy())   # a view is copied
            np.testing.assert_array_equal(outs[1].numpy(), x.numpy().T)


def test_new_batch_sizes_reuse_the_lowering_and_agree():
    # a gradient with a bias broadcast, a product and a mean (a literal 1/batch)
    def loss(w, b, x):
        return tt.reduce_mean(tt.tanh(tt.matmul(x, w) + b) ** 2)
    g = tt.function(tt.grad(loss, argnums=(0, 1)))
    rng = np.random.default_rng(3)
    w = rng.normal(size=(5, 3))
    b = rng.normal(size=3)

    def expected(x):
        y = np.tanh(x @ w + b)
        dz = 2 * y * (1 - y * y) / y.size
        return x.T @ dz, dz.sum(axis=0)
    with _setting(jit_threshold=1):
        g(tt.constant(w), tt.constant(b), tt.constant(rng.normal(size=(8, 5))))
        templated = 0
        for batch in (1, 3, 17, 2, 64):
            x = rng.normal(size=(batch, 5))
            got = g(tt.constant(w), tt.constant(b), tt.constant(x))
            entry = f_entry(g, (w, b, x))
            assert entry.exe.native is not None
            templated += entry.exe.native._lowered is None      # built from a template
            for o, e in zip(got, expected(x)):
                np.testing.assert_allclose(o.numpy(), e, rtol=1e-10, atol=1e-12)
        assert templated >= 3                  # 3, 17, 64 (1 is a class of its own)


def f_entry(f, arrays):
    return f._entries[tuple((a.shape, a.dtype) for a in arrays)]

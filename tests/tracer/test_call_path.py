"""The cached call path of tt.function and the transforms: the one-argument slot, and
kernels called through their compiled entry points, keep every behaviour of the general
route (signatures, debug_nans, Variables, captures, errors, tiers)."""
import numpy as np
import pytest

import runtime
import tracer as tt


@pytest.fixture
def compiled():
    saved = runtime.config.jit_threshold
    runtime.config.jit_threshold = 0
    yield
    runtime.config.jit_threshold = saved


def test_one_argument_calls_switch_signatures_correctly(compiled):
    g = tt.grad(lambda x: tt.reduce_sum(tt.sin(x) ** 2))
    want = lambda v: np.sin(2 * np.asarray(v, np.float64))        # noqa: E731
    values = [np.float32(0.3), np.float64(0.3), np.float32(-1.2), np.array(0.7, np.float32),
              np.arange(3, dtype=np.float32), np.arange(4, dtype=np.float32),
              np.arange(6, dtype=np.float32).reshape(2, 3), np.float32(0.3),
              np.arange(3, dtype=np.float64)]
    for _ in range(2):
        for v in values:
            got = g(tt.constant(v))
            assert got.dtype == np.asarray(v).dtype and got.shape == np.shape(v)
            np.testing.assert_allclose(got.numpy(), want(v), rtol=1e-5)
    info = g.cache_info()
    assert info.misses == 6 and info.hits == 2 * len(values) - 6


def test_scalar_kernels_take_numpy_scalars_and_zero_d_arrays(compiled):
    f = tt.function(lambda x: tt.cos(x) * 3.0)
    for v in (np.float32(0.5), np.array(0.25, np.float32), np.float32(2.0)):
        for _ in range(3):
            got = f(tt.constant(v))
            assert got.dtype == np.float32
            np.testing.assert_allclose(got.numpy(), np.cos(np.float32(v)) * 3, rtol=1e-6)
    h = tt.function(lambda n: n * 2 + 1)
    assert int(h(tt.constant(np.int64(20)))) == 41 and int(h(tt.constant(np.int64(-3)))) == -5


def test_hot_calls_keep_debug_nans_variables_and_captures(compiled, debug_nans):
    f = tt.function(lambda x: tt.log(x))
    f(tt.constant(np.float32(2.0)))
    f(tt.constant(np.float32(2.0)))
    with pytest.raises(FloatingPointError, match="log"):
        f(tt.constant(np.float32(-1.0)))
    v = tt.Variable(np.float32(2.0))
    c = tt.constant(np.float32(10.0))
    h = tt.function(lambda x: x * v + c)
    for k in range(3):
        v.assign(np.float32(k))
        assert float(h(tt.constant(np.float32(3.0)))) == 3.0 * k + 10.0


def test_hot_calls_follow_the_tier_and_reraise_errors():
    saved = runtime.config.jit_threshold
    runtime.config.jit_threshold = 3
    try:
        f = tt.function(lambda x: tt.exp(x) - 1.0)
        for k in range(6):                # interpreted, then native, same results
            np.testing.assert_allclose(float(f(tt.constant(np.float64(k)))), np.expm1(k))
        assert list(f._entries.values())[0].exe.native is not None
    finally:
        runtime.config.jit_threshold = saved
    bad = tt.function(lambda x: tt.matmul(x, x))
    with pytest.raises(ValueError):
        bad(tt.constant(np.ones(3)))
    with pytest.raises(ValueError):
        bad(tt.constant(np.ones(3)))


def test_numpy_arguments_take_the_hot_route_of_tt_function(compiled):
    f = tt.function(lambda x: tt.exp(x) * 2.0)
    a = np.linspace(0, 1, 5).astype(np.float32)
    for arg in (a, tt.constant(a), a * 2, np.float32(0.5), np.float32(0.25), a[::2].copy()):
        for _ in range(2):
            got = f(arg)
            want = np.exp(np.asarray(arg.numpy() if isinstance(arg, tt.Tensor) else arg)) * 2
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    assert f.cache_info().misses == 3 and f.cache_info().hits == 9
    # grad converts what it differentiates: a Python float is a float32 scalar
    g = tt.grad(lambda x: x * x)
    for v in (3.0, np.float32(3.0), np.float64(3.0), 3.0):
        assert float(g(v)) == 6.0 and g(v).dtype == (np.float64 if type(v) is np.float64
                                                     else np.float32)


def test_argument_errors_still_name_the_argument():
    f = tt.function(lambda x, opts: x)
    with pytest.raises(TypeError, match="argument 'opts' \\(position 1\\) of <lambda>"):
        f(tt.constant(1.0), {1, 2})


def test_python_floats_take_the_hot_path_of_transforms_as_float32(compiled, monkeypatch):
    # tt.grad(f)(0.3): the float becomes a float32 scalar, as the general route makes it
    g = tt.grad(lambda x: tt.sin(x) ** 2)
    want = float(g(tt.constant(np.float32(0.3))))
    assert float(g(0.3)) == want and g(0.3).dtype == np.float32
    calls = []
    prepare = g._prepare

    def counted(args):
        calls.append(args)
        return prepare(args)
    monkeypatch.setattr(g, "_prepare", counted)
    for v in (0.3, -1.25, 0.3, float("nan")):
        got = g(v)
        np.testing.assert_array_equal(got.numpy(), g(tt.constant(np.float32(v))).numpy())
    assert calls == []                             # never prepared: the cached route
    h = tt.grad(lambda x, y: x * y, argnums=1)       # two arguments: the general route
    assert float(h(2.0, 3.0)) == 2.0


def _mlp_loss(p, x, y):
    h = tt.tanh(tt.matmul(x, p["w"]) + p["b"])
    return tt.reduce_sum((h - y) ** 2) + tt.reduce_sum(p["extra"][0] * p["extra"][1])


def _params(rng, n_in=3, n_out=2, dtype=np.float32):
    return {"w": tt.constant(rng.normal(size=(n_in, n_out)).astype(dtype)),
            "b": tt.constant(np.zeros(n_out, dtype)),
            "extra": (tt.constant(dtype(1.5)), tt.constant(dtype(-0.5)))}


def _eager_grad(p, x, y):
    with tt.GradientTape() as tape:
        tape.watch(p)
        loss = _mlp_loss(p, tt.constant(x), tt.constant(y))
    return tape.gradient(loss, p)


def test_structured_arguments_reuse_their_signature_and_keep_every_structure_apart(compiled):
    rng = np.random.default_rng(0)
    g = tt.grad(_mlp_loss)
    x, y = rng.normal(size=(4, 3)).astype(np.float32), np.zeros((4, 2), np.float32)
    calls = [(_params(rng), x, y), (_params(rng), tt.constant(x), y),
             (_params(rng, dtype=np.float64), x, y), (_params(rng), x[:1], y[:1]),
             (_params(rng, 3, 5), x, np.zeros((4, 5), np.float32))]
    reordered = _params(rng)
    reordered = {"b": reordered["b"], "w": reordered["w"], "extra": list(reordered["extra"])}
    calls.append((reordered, x, y))
    general = []
    route = g._call
    g._call = lambda args, kwargs: general.append(1) or route(args, kwargs)
    for _ in range(3):
        general.clear()
        for p, xs, ys in calls:
            got = g(p, xs, ys)
            want = _eager_grad(p, np.asarray(xs), ys)
            assert list(got) == list(p) and type(got["extra"]) is type(p["extra"])
            for k in ("w", "b"):
                assert got[k].dtype == p[k].dtype and got[k].shape == p[k].shape
                np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), rtol=1e-5,
                                           atol=1e-6)
            np.testing.assert_allclose([float(e) for e in got["extra"]],
                                       [float(e) for e in want["extra"]], rtol=1e-6)
    assert not general          # the repeated calls found their entries by structure
    info = g.cache_info()
    # a NumPy x and a Tensor x share a signature; every other call is its own signature
    assert g.trace_count == len(calls) - 1 and info.misses == len(calls) - 1
    assert info.hits == 3 * len(calls) - info.misses


def test_structured_arguments_outside_the_fast_key_take_the_general_route(compiled):
    f = tt.function(lambda d, s: d[1] * s + d[2.0] if isinstance(d, dict) else d[0] * s)
    one = tt.constant(np.float32(2.0))
    for _ in range(2):
        assert float(f({1: one, 2.0: one}, 3.0)) == 8.0          # non-str keys, a float
        assert float(f({1: one, 2.0: one}, 4.0)) == 10.0         # the float is keyed
    assert f.trace_count == 2
    v = tt.Variable(3.0)
    h = tt.function(lambda p: p[0] * p[1])
    for k in range(3):
        v.assign(float(k))
        assert float(h([one, v])) == 2.0 * k                     # a Variable leaf: read

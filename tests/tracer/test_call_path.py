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

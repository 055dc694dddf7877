"""tt.function: tracing rules, caching, captures, nested structures, errors."""
import numpy as np
import pytest

import tracer as tt


def test_function_same_signature_does_not_retrace(tt_backend):
    @tt.function
    def f(x, y):
        return x * y + tt.sin(x)

    a, b = tt.constant([1.0, 2.0]), tt.constant([3.0, 4.0])
    out = f(a, b)
    np.testing.assert_allclose(out.numpy(), [3 + np.sin(1), 8 + np.sin(2)], rtol=1e-6)
    f(tt.constant([5.0, 6.0]), b)
    f(np.array([1.0, 2.0], np.float32), tt.constant([1.0, 1.0]))
    assert f.trace_count == 1       # (Variables are keyed apart: tests/tracer/test_passed_variables.py)
    info = f.cache_info()
    assert (info.misses, info.size) == (1, 1) and info.hits == 2


def test_function_new_shape_or_dtype_retraces_once():
    f = tt.function(lambda x: x + 1)
    f(tt.constant([1.0, 2.0]))
    f(tt.constant([1.0, 2.0, 3.0]))
    assert f.trace_count == 2
    out = f(tt.constant([1.0, 2.0], dtype=tt.float64))
    assert f.trace_count == 3 and out.dtype == tt.float64
    assert f.experimental_get_tracing_count() == 3          # TensorFlow's name
    f(tt.constant([7.0, 8.0, 9.0]))
    assert f.trace_count == 3


def test_function_static_values_key_the_cache():
    calls = []

    @tt.function(static_argnums=(1,))
    def power(x, n):
        calls.append(n)
        out = x
        for _ in range(n - 1):         # Python control flow on a static value
            out = out * x
        return out

    x = tt.constant(2.0)
    assert power(x, 3).numpy() == 8.0
    assert power(x, 3).numpy() == 8.0
    assert power(x, 4).numpy() == 16.0
    assert power.trace_count == 2 and calls == [3, 4]
    # Python numbers are keyed by value without static_argnums too
    g = tt.function(lambda x, k: x * k)
    g(x, 2.0), g(x, 2.0), g(x, 3.0)
    assert g.trace_count == 2
    assert g(x, 3.0).numpy() == 6.0


def test_function_is_not_rerun_on_cached_calls():
    calls = []

    def f(x):
        calls.append(1)
        return tt.exp(x)

    cf = tt.function(f)
    for v in (0.0, 1.0, 2.0):
        np.testing.assert_allclose(cf(tt.constant(v)).numpy(), np.exp(v), rtol=1e-6)
    assert len(calls) == 1


def test_function_scalar_output_is_numpy_scalar():
    out = tt.function(lambda x: tt.reduce_sum(x))(tt.constant([1.0, 2.0]))
    assert isinstance(out, tt.Tensor) and out.shape == ()
    assert isinstance(out.numpy(), np.float32)


def test_function_nested_structures_in_and_out():
    @tt.function
    def f(params, xs):
        h = tt.matmul(xs[0], params["w"]) + params["b"]
        return {"out": h, "parts": (tt.reduce_sum(h), xs[1] * 2)}, "label", 3

    params = {"w": tt.constant(np.eye(2, dtype=np.float32)), "b": tt.constant([1.0, 1.0])}
    xs = [tt.constant([[1.0, 2.0]]), tt.constant(5.0)]
    res, label, k = f(params, xs)
    np.testing.assert_allclose(res["out"].numpy(), [[2.0, 3.0]])
    assert res["parts"][0].numpy() == 5.0 and res["parts"][1].numpy() == 10.0
    assert label == "label" and k == 3 and isinstance(res["parts"], tuple)
    f(params, [tt.constant([[3.0, 4.0]]), tt.constant(1.0)])
    assert f.trace_count == 1


def test_function_captured_tensor_and_variable():
    c = tt.constant([10.0, 20.0])
    v = tt.Variable([1.0, 2.0])

    @tt.function
    def f(x):
        return x * c + v

    np.testing.assert_allclose(f(tt.constant([1.0, 1.0])).numpy(), [11.0, 22.0])
    v.assign([5.0, 5.0])       # the current value is read at each call
    np.testing.assert_allclose(f(tt.constant([1.0, 1.0])).numpy(), [15.0, 25.0])
    assert f.trace_count == 1


def test_function_tracing_error_names_argument_and_static_argnums():
    @tt.function
    def f(x, n):
        if n > 0:
            return x
        return -x

    with pytest.raises(tt.TracingError) as err:
        f(tt.constant(1.0), tt.constant(2))
    msg = str(err.value)
    assert "argument 'n' (position 1) of f" in msg and "static_argnums" in msg
    # the library keeps working after the error
    assert tt.function(lambda x: x + 1)(tt.constant(1.0)).numpy() == 2.0
    for conv in (int, float, bool):
        g = tt.function(lambda x, conv=conv: conv(x))
        with pytest.raises(tt.TracingError, match="argument 'x'"):
            g(tt.constant(1.0))


def test_function_bad_arguments_raise_clear_errors():
    f = tt.function(lambda x, n: x * n[0], static_argnums=(1,))
    with pytest.raises(TypeError, match="not hashable|neither a tensor nor hashable"):
        tt.function(lambda x, s: x)(tt.constant(1.0), {1, 2})
    with pytest.raises(TypeError, match="static_argnums"):
        f(tt.constant(1.0), tt.constant([1.0]))
    with pytest.raises(ValueError, match="static_argnums"):
        tt.function(lambda x: x, static_argnums=(-1,))


def test_function_nested_calls_and_tape_inside(tt_backend):
    inner = tt.function(lambda x: tt.sin(x) * x)

    @tt.function
    def outer(x):
        with tt.GradientTape() as tape:
            tape.watch(x)
            y = inner(x)
        return y, tape.gradient(y, x)

    y, dy = outer(tt.constant(0.8))
    np.testing.assert_allclose(y.numpy(), np.sin(0.8) * 0.8, rtol=1e-6)
    np.testing.assert_allclose(dy.numpy(), np.cos(0.8) * 0.8 + np.sin(0.8), rtol=1e-6)


def test_function_under_tape_is_differentiable_to_second_order(tt_backend):
    f = tt.function(lambda x, w: tt.reduce_sum(tt.sin(x) * w))
    x, w = tt.constant([0.3, 1.1]), tt.Variable([2.0, 3.0])
    with tt.GradientTape() as outer:
        outer.watch(x)
        with tt.GradientTape() as inner:
            inner.watch(x)
            y = f(x, w)
        g = inner.gradient(y, x)
    h = outer.gradient(g, x)
    np.testing.assert_allclose(g.numpy(), np.cos([0.3, 1.1]) * [2, 3], rtol=1e-6)
    np.testing.assert_allclose(h.numpy(), -np.sin([0.3, 1.1]) * [2, 3], rtol=1e-6)


def test_function_reads_variable_watched_by_tape():
    v = tt.Variable([1.0, 2.0])
    f = tt.function(lambda x: tt.reduce_sum(x * v * v))
    with tt.GradientTape() as tape:
        y = f(tt.constant([3.0, 4.0]))
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), [6.0, 16.0])


def test_function_explain_lists_graph():
    f = tt.function(lambda x: tt.exp(x) * 2)
    text = f.explain(tt.constant([1.0, 2.0]))
    assert "exp" in text and "mul" in text and "(2,) float32" in text


def test_function_on_methods_binds_the_instance_per_object():
    # tf.function on a method: obj.f(x) traces with obj captured, once per instance
    class Scaled:
        def __init__(self, s):
            self.s, self.w = s, tt.Variable(2.0)

        @tt.function
        def __call__(self, x):
            return self.w * x * self.s

        @tt.function(static_argnums=(2,))
        def power(self, x, k):
            self.w.assign_add(1.0)
            return x ** k

    class Branchy:
        @tt.function
        def f(self, x):
            return x if x > 0 else -x

    a, b = Scaled(1.0), Scaled(10.0)
    assert float(a(tt.constant(3.0))) == 6.0 and float(b(tt.constant(3.0))) == 60.0
    assert float(a(tt.constant(4.0))) == 8.0 and a.__call__.trace_count == 1
    assert float(a.power(tt.constant(2.0), 3)) == 8.0 and float(a.w) == 3.0
    assert a.power is a.power and Scaled.power.trace_count == 0
    with tt.GradientTape() as tape:
        y = a(tt.constant(3.0))
    assert float(tape.gradient(y, a.w)) == 3.0
    with pytest.raises(tt.TracingError, match=r"argument 'x' \(position 0\) of f"):
        Branchy().f(tt.constant(1.0))


def test_function_accepts_tf_function_hints():
    @tt.function(jit_compile=True, reduce_retracing=True, name="sq")
    def f(x):
        return x * x

    assert float(f(tt.constant(3.0))) == 9.0 and f.trace_count == 1
    assert float(tt.function(lambda x: x + 1, jit_compile=False)(tt.constant(1.0))) == 2.0

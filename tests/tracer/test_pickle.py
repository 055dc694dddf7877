"""Tensors, Variables, tt.function objects and what the transforms return pickle."""
import copy
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import tracer as tt
from tracer import nest, serialize
from tracer.function import Staged

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@tt.function
def module_level(x, n):
    return tt.reduce_sum(x ** n)


def cubic_sum(x):
    return tt.reduce_sum(x * x * x)


def roundtrip(obj):
    return pickle.loads(pickle.dumps(obj))


def test_tensor_roundtrip_keeps_value_shape_and_dtype():
    for value in (np.arange(6, dtype=np.float32).reshape(2, 3), np.float64(2.5),
                  np.array([True, False]), np.arange(4, dtype=np.int64)):
        t = tt.constant(value)
        back = roundtrip(t)
        assert type(back) is tt.Tensor and back.shape == t.shape and back.dtype == t.dtype
        np.testing.assert_array_equal(back.numpy(), t.numpy())
    np.testing.assert_array_equal(copy.deepcopy(t).numpy(), t.numpy())


def test_recorded_tensor_pickles_its_value_only():
    x = tt.constant(3.0)
    with tt.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    back = roundtrip(y)
    assert float(back) == 9.0 and back._node is None
    assert float(tape.gradient(y, x)) == 6.0     # the original is still on its tape


def test_traced_tensor_refuses_to_pickle_and_the_library_still_works():
    @tt.function
    def f(x):
        pickle.dumps(x)
        return x

    with pytest.raises(tt.TracingError, match="pickle"):
        f(tt.constant([1.0]))
    assert float(tt.function(lambda x: x + 1)(tt.constant(1.0))) == 2.0


def test_variable_roundtrip_is_an_independent_copy():
    v = tt.Variable([1.0, 2.0], name="weights", trainable=False)
    back = roundtrip(v)
    assert (back.name, back.trainable, back.dtype) == ("weights:0", False, v.dtype)
    back.assign([5.0, 6.0])
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])
    with tt.GradientTape() as tape:
        loss = tt.reduce_sum(roundtrip(tt.Variable([3.0])) ** 2)
    assert len(tape.watched_variables()) == 1 and float(loss) == 9.0


def test_module_level_function_pickles_by_reference():
    data = pickle.dumps(module_level)
    assert module_level.__qualname__.encode() in data and len(data) < 200
    assert pickle.loads(data) is module_level
    assert float(module_level(tt.constant([1.0, 2.0]), 2)) == 5.0


@pytest.mark.parametrize("make", [tt.grad, tt.value_and_grad, tt.jacobian, tt.hessian,
                                  tt.gradients_function, tt.value_and_gradients_function,
                                  tt.jacfwd, tt.jacrev, tt.vmap, tt.checkpoint])
def test_transform_results_roundtrip_and_compute_the_same(make):
    x = tt.constant([1.0, -2.0, 0.5])
    for fn in (cubic_sum, lambda x: tt.reduce_sum(tt.sin(x) * x)):
        f = make(fn)
        back = roundtrip(f)
        assert back is f                       # same process: the live object, same cache
        want, got = f(x), back(x)
        for a, b in zip(nest.flatten(want)[0], nest.flatten(got)[0]):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_rebuilt_function_is_traced_again_and_keeps_its_options():
    f = tt.function(lambda x, n: tt.reduce_sum(x ** n), static_argnums=1)
    g = tt.grad(f, argnums=0)
    x = tt.constant([1.0, 2.0])
    data = pickle.dumps(g)
    serialize._LIVE.pop(serialize.token(g))    # as if unpickled in another process
    back = pickle.loads(data)
    assert back is not g and back.trace_count == 0
    np.testing.assert_array_equal(back(x, 3).numpy(), g(x, 3).numpy())
    assert back.trace_count == 1 and pickle.loads(data) is back


def test_staged_without_recipe_says_how_to_become_picklable():
    s = Staged(cubic_sum, lambda args, kwargs: cubic_sum(*args), "custom(cubic_sum)")
    with pytest.raises(TypeError, match="recipe="):
        pickle.dumps(s)


def test_unpickled_in_a_fresh_process_traces_and_computes():
    scale = 3.0
    fns = {"hessian": tt.hessian(lambda x: tt.reduce_sum(x ** 4) * scale),
           "function": tt.function(lambda x: tt.tanh(x) * scale),
           "grad_of_module_level": tt.grad(cubic_sum)}
    x = np.array([0.5, -1.0], np.float32)
    want = {k: f(tt.constant(x)).numpy() for k, f in fns.items()}
    script = ("import pickle, sys, numpy as np\n"
              "fns, x = pickle.loads(sys.stdin.buffer.read())\n"
              "out = {k: f(x).numpy() for k, f in fns.items()}\n"
              "sys.stdout.buffer.write(pickle.dumps(out))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.dirname(__file__)]))
    proc = subprocess.run([sys.executable, "-c", script], input=pickle.dumps((fns, x)),
                          capture_output=True, env=env, timeout=300, check=True)
    got = pickle.loads(proc.stdout)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6)


def test_self_referring_local_function_is_a_clear_error():
    @tt.function
    def twice(x, again=False):
        return twice(x) * 2 if again else x * 2      # refers to itself (not called here)

    assert float(twice(tt.constant(1.0))) == 2.0
    with pytest.raises(pickle.PicklingError, match="refers to itself"):
        pickle.dumps(tt.grad(lambda x: tt.reduce_sum(twice(x))))
    assert pickle.loads(pickle.dumps(tt.grad(cubic_sum))) is not None    # still works


def test_vjp_and_linearize_functions_pickle_and_compute_the_same():
    x = tt.constant([1.0, -2.0, 0.5])
    for fn in (cubic_sum, lambda x: tt.reduce_sum(tt.sin(x) * x)):
        _, vjp_fn = tt.vjp(fn, x)
        _, jvp_fn = tt.linearize(fn, x)
        data = pickle.dumps(vjp_fn), pickle.dumps(jvp_fn)
        for made, blob in zip((vjp_fn, jvp_fn), data):
            serialize._LIVE.pop(serialize.token(made))     # as if in another process
        back_vjp, back_jvp = (pickle.loads(b) for b in data)
        assert back_vjp is not vjp_fn and back_jvp is not jvp_fn
        np.testing.assert_array_equal(back_vjp(tt.constant(1.0))[0].numpy(),
                                      vjp_fn(tt.constant(1.0))[0].numpy())
        t = tt.constant([0.5, 1.0, -1.0])
        np.testing.assert_array_equal(back_jvp(t).numpy(), jvp_fn(t).numpy())
